#include "streamrec/serving/quantized_items.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace streamrec::serving {
namespace {

int PaddedDim(int dim) { return (dim + kDimGroup - 1) / kDimGroup * kDimGroup; }

// Items scored at once per user tile: independent accumulators hide the
// latency of vpdpbusd (and share each load of the user tile).
constexpr uint32_t kItemChunk = 8;

void ScoresPortable(const QuantizedUsers& users, const QuantizedItems& items, uint32_t begin, uint32_t count,
                    float* out, size_t ld) {
  const int groups = items.padded_dim() / kDimGroup;
  const size_t tiles = users.padded_count() / kUserTile;
  for (uint32_t j = 0; j < count; ++j) {
    const uint32_t i = begin + j;
    const int8_t* row = items.Codes(i);
    const int32_t offset = 128 * items.CodeSum(i);
    const float item_scale = items.Scale(i);
    for (size_t t = 0; t < tiles; ++t) {
      const uint8_t* tile = users.TileCodes(t);
      int32_t acc[kUserTile] = {};
      for (int g = 0; g < groups; ++g) {
        for (int r = 0; r < kDimGroup; ++r) {
          const auto c = static_cast<int16_t>(row[g * kDimGroup + r]);
          const uint8_t* x = tile + static_cast<size_t>(g) * kUserTile * kDimGroup + static_cast<size_t>(r);
          for (size_t lane = 0; lane < kUserTile; ++lane) {
            acc[lane] += static_cast<int16_t>(x[lane * kDimGroup]) * c;
          }
        }
      }
      const float* user_scale = users.scales() + t * kUserTile;
      float* col = out + size_t{j} * ld + t * kUserTile;
      for (size_t lane = 0; lane < kUserTile; ++lane) {
        col[lane] = static_cast<float>(acc[lane] - offset) * (user_scale[lane] * item_scale);
      }
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vnni"))) void ScoresAvx512Vnni(const QuantizedUsers& users,
                                                                    const QuantizedItems& items, uint32_t begin,
                                                                    uint32_t count, float* out, size_t ld) {
  const int groups = items.padded_dim() / kDimGroup;
  const size_t tiles = users.padded_count() / kUserTile;
  for (uint32_t j0 = 0; j0 < count; j0 += kItemChunk) {
    const uint32_t chunk = std::min(kItemChunk, count - j0);
    // A short last chunk repeats its last row, so the unrolled loop stays
    // within the block; those sums are not stored.
    const int8_t* rows[kItemChunk];
    for (uint32_t c = 0; c < kItemChunk; ++c) rows[c] = items.Codes(begin + j0 + std::min(c, chunk - 1));
    for (size_t t = 0; t < tiles; ++t) {
      const uint8_t* tile = users.TileCodes(t);
      __m512i acc[kItemChunk];
      for (__m512i& a : acc) a = _mm512_setzero_si512();
      for (int g = 0; g < groups; ++g) {
        const __m512i x = _mm512_loadu_si512(tile + static_cast<size_t>(g) * kUserTile * kDimGroup);
        for (uint32_t c = 0; c < kItemChunk; ++c) {
          int32_t codes;
          std::memcpy(&codes, rows[c] + g * kDimGroup, sizeof codes);
          acc[c] = _mm512_dpbusd_epi32(acc[c], x, _mm512_set1_epi32(codes));
        }
      }
      const __m512 user_scale = _mm512_loadu_ps(users.scales() + t * kUserTile);
      for (uint32_t c = 0; c < chunk; ++c) {
        const uint32_t i = begin + j0 + c;
        const __m512i dot = _mm512_sub_epi32(acc[c], _mm512_set1_epi32(128 * items.CodeSum(i)));
        const __m512 scale = _mm512_mul_ps(user_scale, _mm512_set1_ps(items.Scale(i)));
        // The all-lanes masked form: GCC 12 warns about the plain one's
        // _mm512_undefined_ps (its bug 105593).
        const __m512 as_float = _mm512_maskz_cvtepi32_ps(0xFFFF, dot);
        _mm512_storeu_ps(out + size_t{j0 + c} * ld + t * kUserTile, _mm512_mul_ps(as_float, scale));
      }
    }
  }
}
#endif

}  // namespace

float QuantizeRow(std::span<const float> row, std::span<int8_t> codes) {
  assert(codes.size() >= row.size());
  float largest = 0;
  for (float x : row) largest = std::max(largest, std::abs(x));
  std::fill(codes.begin(), codes.end(), int8_t{0});
  if (!(largest > 0) || !std::isfinite(largest)) return 0;  // zero row (or a broken one): scores are the bias alone
  const float inverse = 127.f / largest;
  for (size_t j = 0; j < row.size(); ++j) {
    codes[j] = static_cast<int8_t>(std::clamp(std::round(row[j] * inverse), -127.f, 127.f));
  }
  return largest / 127.f;
}

QuantizedItems::QuantizedItems(int dim) : dim_(dim), padded_dim_(PaddedDim(dim)) {}

void QuantizedItems::Set(uint32_t item, std::span<const float> row) {
  assert(row.size() == static_cast<size_t>(dim_));
  if (item >= NumItems()) {
    const size_t n = size_t{item} + 1;
    codes_.resize(n * static_cast<size_t>(padded_dim_), 0);
    scales_.resize(n, 0.f);
    code_sums_.resize(n, 0);
  }
  const std::span<int8_t> codes(codes_.data() + size_t{item} * static_cast<size_t>(padded_dim_),
                                static_cast<size_t>(padded_dim_));
  scales_[item] = QuantizeRow(row, codes);
  int32_t sum = 0;
  for (int8_t c : codes) sum += c;
  code_sums_[item] = sum;
}

QuantizedUsers::QuantizedUsers(int dim, size_t count)
    : dim_(dim),
      padded_dim_(PaddedDim(dim)),
      count_(count),
      // Code 128 is x = 0: padding users score 0 (and have scale 0).
      codes_((count + kUserTile - 1) / kUserTile * kUserTile * static_cast<size_t>(PaddedDim(dim)), 128),
      scales_((count + kUserTile - 1) / kUserTile * kUserTile, 0.f),
      row_(static_cast<size_t>(PaddedDim(dim))) {}

void QuantizedUsers::Set(size_t k, std::span<const float> vector) {
  assert(k < count_ && vector.size() == static_cast<size_t>(dim_));
  scales_[k] = QuantizeRow(vector, row_);
  uint8_t* tile = codes_.data() + k / kUserTile * kUserTile * static_cast<size_t>(padded_dim_);
  const size_t lane = k % kUserTile;
  for (int d = 0; d < padded_dim_; ++d) {
    const size_t g = static_cast<size_t>(d / kDimGroup);
    tile[(g * kUserTile + lane) * kDimGroup + static_cast<size_t>(d % kDimGroup)] =
        static_cast<uint8_t>(row_[static_cast<size_t>(d)] + 128);
  }
}

bool Int8KernelSupported(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kPortable:
      return true;
    case Int8Kernel::kAvx512Vnni:
#if defined(__x86_64__)
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
#else
      return false;
#endif
  }
  return false;
}

Int8Kernel BestInt8Kernel() {
  static const Int8Kernel best =
      Int8KernelSupported(Int8Kernel::kAvx512Vnni) ? Int8Kernel::kAvx512Vnni : Int8Kernel::kPortable;
  return best;
}

void Int8Scores(Int8Kernel kernel, const QuantizedUsers& users, const QuantizedItems& items, uint32_t begin,
                uint32_t count, float* out, size_t ld) {
  assert(users.padded_dim() == items.padded_dim() && ld >= users.padded_count());
  assert(size_t{begin} + count <= items.NumItems());
  if (count == 0) return;
#if defined(__x86_64__)
  if (kernel == Int8Kernel::kAvx512Vnni && Int8KernelSupported(kernel)) {
    ScoresAvx512Vnni(users, items, begin, count, out, ld);
    return;
  }
#endif
  ScoresPortable(users, items, begin, count, out, ld);
}

}  // namespace streamrec::serving
