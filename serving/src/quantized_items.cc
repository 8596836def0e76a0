#include "streamrec/serving/quantized_items.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace streamrec::serving {
namespace {

int PaddedDim(int dim) { return (dim + kDimGroup - 1) / kDimGroup * kDimGroup; }

// scale * |codes|: the norm of the vector the codes stand for, as the
// bound of QuantizedItems uses it (exact int32 sum of squares).
float QuantizedNorm(float scale, std::span<const int8_t> codes) {
  int32_t squares = 0;
  for (int8_t c : codes) squares += int32_t{c} * c;
  return scale * std::sqrt(static_cast<float>(squares));
}

uint64_t ChunkTiles(uint32_t count, size_t tiles) { return uint64_t{(count + kItemChunk - 1) / kItemChunk} * tiles; }

void ScoresPortable(const QuantizedUsers& users, const QuantizedItems& items, uint32_t begin, uint32_t count,
                    float* out, size_t ld, const Int8Filter* filter) {
  const auto dim = static_cast<size_t>(items.padded_dim());
  const size_t padded_users = users.padded_count();
  // Signed codes in int16 rows (users from their tiles, less the +128): each
  // score is then the plain multiply-add loop compilers vectorise (vpmaddwd).
  std::vector<int16_t> x(padded_users * dim);
  for (size_t u = 0; u < padded_users; ++u) {
    const uint8_t* tile = users.TileCodes(u / kUserTile);
    for (size_t d = 0; d < dim; ++d) {
      x[u * dim + d] = static_cast<int16_t>(
          tile[(d / kDimGroup * kUserTile + u % kUserTile) * kDimGroup + d % kDimGroup] - 128);
    }
  }
  std::vector<int16_t> c(dim);
  for (uint32_t j = 0; j < count; ++j) {
    const uint32_t i = begin + j;
    std::copy(items.Codes(i), items.Codes(i) + dim, c.begin());
    const float item_scale = items.Scale(i);
    float* col = out + size_t{j} * ld;
    for (size_t u = 0; u < padded_users; ++u) {
      const int16_t* xu = x.data() + u * dim;
      int32_t dot = 0;
      for (size_t d = 0; d < dim; ++d) dot += xu[d] * c[d];
      col[u] = static_cast<float>(dot) * (users.scales()[u] * item_scale);
    }
    if (filter == nullptr) continue;
    for (size_t t = 0; t < padded_users / kUserTile; ++t) {
      unsigned mask = 0;
      for (size_t lane = 0; lane < kUserTile; ++lane) {
        const size_t u = t * kUserTile + lane;
        if (col[u] + filter->bias[j] >= filter->threshold[u]) mask |= 1U << lane;
      }
      if (mask != 0) filter->hits->push_back({j, static_cast<uint16_t>(t), static_cast<uint16_t>(mask)});
    }
  }
  if (filter != nullptr && filter->scored != nullptr) *filter->scored += ChunkTiles(count, padded_users / kUserTile);
}

#if defined(__x86_64__)
// One item's 4 codes of group g, in every lane.
__attribute__((target("avx512f"))) inline __m512i Broadcast4(const int8_t* row, int g) {
  int32_t four;
  std::memcpy(&four, row + g * kDimGroup, sizeof four);
  return _mm512_set1_epi32(four);
}

// One item's scores for one tile from its accumulated dots (less the +128
// offset, scaled), stored at `col`; with a threshold, the users whose score
// plus `bias` reaches theirs.
__attribute__((target("avx512f"), always_inline)) inline uint16_t Finish(__m512i acc, const QuantizedItems& items,
                                                                         uint32_t i, __m512 user_scale, float* col,
                                                                         float bias, const float* threshold) {
  const __m512i dot = _mm512_sub_epi32(acc, _mm512_set1_epi32(128 * items.CodeSum(i)));
  const __m512 scale = _mm512_mul_ps(user_scale, _mm512_set1_ps(items.Scale(i)));
  // The all-lanes masked form: GCC 12 warns about the plain one's
  // _mm512_undefined_ps (its bug 105593).
  const __m512 score = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, dot), scale);
  _mm512_storeu_ps(col, score);
  if (threshold == nullptr) return 0;
  return static_cast<uint16_t>(
      _mm512_cmp_ps_mask(_mm512_add_ps(score, _mm512_set1_ps(bias)), _mm512_loadu_ps(threshold), _CMP_GE_OQ));
}

__attribute__((target("avx512f,avx512vnni"))) void ScoresAvx512Vnni(const QuantizedUsers& users,
                                                                    const QuantizedItems& items, uint32_t begin,
                                                                    uint32_t count, float* out, size_t ld,
                                                                    const Int8Filter* filter) {
  const int groups = items.padded_dim() / kDimGroup;
  const size_t tiles = users.padded_count() / kUserTile;
  std::vector<uint16_t> masks(kItemChunk * tiles);
  uint64_t skipped = 0;
  for (uint32_t j0 = 0; j0 < count; j0 += kItemChunk) {
    const uint32_t chunk = std::min(kItemChunk, count - j0);
    // A short last chunk repeats its last item: the unrolled code stays
    // within the block, and the repeats store the same scores again.
    uint32_t at[kItemChunk];
    const int8_t* rows[kItemChunk];
    for (uint32_t c = 0; c < kItemChunk; ++c) {
      at[c] = j0 + std::min(c, chunk - 1);
      rows[c] = items.Codes(begin + at[c]);
    }
    // The chunk's bound for a user of norm N (QuantizedItems::SuffixBound,
    // over the chunk's items and with the caller's biases).
    const float order_norm = items.order_norm();
    float chunk_key = -std::numeric_limits<float>::infinity();
    float chunk_bias = -std::numeric_limits<float>::infinity();
    float chunk_norm = 0;
    if (filter != nullptr) {
      for (uint32_t c = 0; c < chunk; ++c) {
        const float norm = items.Norm(begin + j0 + c);
        chunk_key = std::max(chunk_key, filter->bias[j0 + c] + order_norm * norm);
        chunk_bias = std::max(chunk_bias, filter->bias[j0 + c]);
        chunk_norm = std::max(chunk_norm, norm);
      }
    }
    unsigned items_hit = 0;  // bit c: item c of the chunk has a hit in some tile
    for (size_t t = 0; t < tiles; ++t) {
      const float* threshold = filter != nullptr ? filter->threshold + t * kUserTile : nullptr;
      if (filter != nullptr) {
        const __m512 user_norm = _mm512_loadu_ps(users.norms() + t * kUserTile);
        const __m512 norm = _mm512_set1_ps(chunk_norm);
        const __m512 by_key =
            _mm512_fmadd_ps(_mm512_max_ps(_mm512_sub_ps(user_norm, _mm512_set1_ps(order_norm)), _mm512_setzero_ps()),
                            norm, _mm512_set1_ps(chunk_key));
        const __m512 by_bias = _mm512_fmadd_ps(user_norm, norm, _mm512_set1_ps(chunk_bias));
        const __m512 magnitude = _mm512_fmadd_ps(_mm512_add_ps(user_norm, _mm512_set1_ps(order_norm)), norm,
                                                 _mm512_set1_ps(std::max(std::abs(chunk_key), std::abs(chunk_bias))));
        const __m512 bound = _mm512_fmadd_ps(magnitude, _mm512_set1_ps(kBoundMargin), _mm512_min_ps(by_key, by_bias));
        if (_mm512_cmp_ps_mask(bound, _mm512_loadu_ps(threshold), _CMP_GE_OQ) == 0) {
          for (uint32_t c = 0; c < kItemChunk; ++c) masks[c * tiles + t] = 0;
          ++skipped;
          continue;
        }
      }
      const uint8_t* tile = users.TileCodes(t);
      // Named accumulators: with an array GCC 12 copies each through a
      // scratch register around every vpdpbusd (and spills one).
      __m512i a0 = _mm512_setzero_si512();
      __m512i a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (int g = 0; g < groups; ++g) {
        const __m512i x = _mm512_loadu_si512(tile + static_cast<size_t>(g) * kUserTile * kDimGroup);
        a0 = _mm512_dpbusd_epi32(a0, x, Broadcast4(rows[0], g));
        a1 = _mm512_dpbusd_epi32(a1, x, Broadcast4(rows[1], g));
        a2 = _mm512_dpbusd_epi32(a2, x, Broadcast4(rows[2], g));
        a3 = _mm512_dpbusd_epi32(a3, x, Broadcast4(rows[3], g));
        a4 = _mm512_dpbusd_epi32(a4, x, Broadcast4(rows[4], g));
        a5 = _mm512_dpbusd_epi32(a5, x, Broadcast4(rows[5], g));
        a6 = _mm512_dpbusd_epi32(a6, x, Broadcast4(rows[6], g));
        a7 = _mm512_dpbusd_epi32(a7, x, Broadcast4(rows[7], g));
      }
      const __m512 user_scale = _mm512_loadu_ps(users.scales() + t * kUserTile);
      const __m512i acc[kItemChunk] = {a0, a1, a2, a3, a4, a5, a6, a7};
#pragma GCC unroll 8
      for (uint32_t c = 0; c < kItemChunk; ++c) {
        masks[c * tiles + t] = Finish(acc[c], items, begin + at[c], user_scale, out + size_t{at[c]} * ld + t * kUserTile,
                                      filter != nullptr ? filter->bias[at[c]] : 0.f, threshold);
        items_hit |= static_cast<unsigned>(masks[c * tiles + t] != 0) << c;
      }
    }
    // Computed tile by tile; hits are promised item by item. Only the items
    // with a hit are visited: about half the chunks have one, at random, and
    // a test per item mispredicted (2-7% of sq8 top-N at 16-256 users).
    items_hit &= (1U << chunk) - 1;  // a short chunk's repeats are not hits
    for (; items_hit != 0; items_hit &= items_hit - 1) {
      const auto c = static_cast<uint32_t>(__builtin_ctz(items_hit));
      for (size_t t = 0; t < tiles; ++t) {
        const uint16_t mask = masks[c * tiles + t];
        if (mask != 0) filter->hits->push_back({j0 + c, static_cast<uint16_t>(t), mask});
      }
    }
  }
  if (filter != nullptr && filter->scored != nullptr) *filter->scored += ChunkTiles(count, tiles) - skipped;
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
  // Rounded half away from zero, as std::round, in a form that vectorises
  // (std::round is a call per element; a row is requantized on every change).
  for (size_t j = 0; j < row.size(); ++j) {
    const float x = row[j] * inverse;
    codes[j] = static_cast<int8_t>(std::clamp(static_cast<int>(x + std::copysign(0.5f, x)), -127, 127));
  }
  return largest / 127.f;
}

QuantizedItems::QuantizedItems(int dim) : dim_(dim), padded_dim_(PaddedDim(dim)) {}

void QuantizedItems::Set(uint32_t item, std::span<const float> row, float bias) {
  assert(row.size() == static_cast<size_t>(dim_));
  const auto padded = static_cast<size_t>(padded_dim_);
  if (item >= NumItems()) {
    const size_t n = size_t{item} + 1;
    const size_t blocks = (n + kBoundBlock - 1) / kBoundBlock;
    block_keys_.resize(blocks, -std::numeric_limits<float>::infinity());
    block_biases_.resize(blocks, -std::numeric_limits<float>::infinity());
    block_norms_.resize(blocks, 0.f);
    for (size_t i = NumItems(); i < n; ++i) {
      slots_.push_back(static_cast<uint32_t>(i));
      items_.push_back(static_cast<uint32_t>(i));
      // A zero row of bias 0 (key 0) until its item's own Set.
      block_keys_[i / kBoundBlock] = std::max(block_keys_[i / kBoundBlock], 0.f);
      block_biases_[i / kBoundBlock] = std::max(block_biases_[i / kBoundBlock], 0.f);
    }
    codes_.resize(n * padded, 0);
    scales_.resize(n, 0.f);
    code_sums_.resize(n, 0);
    norms_.resize(n, 0.f);
    biases_.resize(n, 0.f);
  }
  const uint32_t slot = slots_[item];
  const std::span<int8_t> codes(codes_.data() + size_t{slot} * padded, padded);
  scales_[slot] = QuantizeRow(row, codes);
  int32_t sum = 0;
  for (int8_t c : codes) sum += c;
  code_sums_[slot] = sum;
  norms_[slot] = QuantizedNorm(scales_[slot], codes);
  biases_[slot] = bias;
  const uint32_t block = slot / kBoundBlock;
  block_keys_[block] = std::max(block_keys_[block], bias + order_norm_ * norms_[slot]);
  block_biases_[block] = std::max(block_biases_[block], bias);
  block_norms_[block] = std::max(block_norms_[block], norms_[slot]);
  ++sets_since_reorder_;
}

QuantizedItems::SuffixBound QuantizedItems::BoundFrom(uint32_t begin) const {
  SuffixBound bound;
  bound.order_norm = order_norm_;
  for (size_t b = begin / kBoundBlock; b < block_keys_.size(); ++b) {
    bound.key = std::max(bound.key, block_keys_[b]);
    bound.bias = std::max(bound.bias, block_biases_[b]);
    bound.norm = std::max(bound.norm, block_norms_[b]);
  }
  return bound;
}

void QuantizedItems::Reorder(float user_norm) {
  if (!(user_norm >= 0) || !std::isfinite(user_norm)) user_norm = 0;  // keys stay comparable
  const uint32_t n = NumItems();
  std::vector<uint32_t> order(n);  // new slot -> old slot
  std::iota(order.begin(), order.end(), 0U);
  const auto key = [&](uint32_t slot) { return biases_[slot] + user_norm * norms_[slot]; };
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const float ka = key(a);
    const float kb = key(b);
    return ka != kb ? ka > kb : items_[a] < items_[b];
  });
  const auto padded = static_cast<size_t>(padded_dim_);
  reordered_codes_.resize(codes_.size());
  for (uint32_t s = 0; s < n; ++s) {
    std::memcpy(reordered_codes_.data() + size_t{s} * padded, codes_.data() + size_t{order[s]} * padded, padded);
  }
  codes_.swap(reordered_codes_);
  const auto permute = [&order](auto& by_slot) {
    std::remove_reference_t<decltype(by_slot)> out(by_slot.size());
    for (size_t s = 0; s < order.size(); ++s) out[s] = by_slot[order[s]];
    by_slot.swap(out);
  };
  permute(scales_);
  permute(code_sums_);
  permute(norms_);
  permute(biases_);
  permute(items_);
  for (uint32_t s = 0; s < n; ++s) slots_[items_[s]] = s;
  const size_t blocks = (size_t{n} + kBoundBlock - 1) / kBoundBlock;
  order_norm_ = user_norm;
  block_keys_.assign(blocks, -std::numeric_limits<float>::infinity());
  block_biases_.assign(blocks, -std::numeric_limits<float>::infinity());
  block_norms_.assign(blocks, 0.f);
  for (uint32_t s = 0; s < n; ++s) {
    block_keys_[s / kBoundBlock] = std::max(block_keys_[s / kBoundBlock], key(s));
    block_biases_[s / kBoundBlock] = std::max(block_biases_[s / kBoundBlock], biases_[s]);
    block_norms_[s / kBoundBlock] = std::max(block_norms_[s / kBoundBlock], norms_[s]);
  }
  sets_since_reorder_ = 0;
}

QuantizedUsers::QuantizedUsers(int dim, size_t count)
    : dim_(dim),
      padded_dim_(PaddedDim(dim)),
      count_(count),
      // Code 128 is x = 0: padding users score 0 (and have scale 0).
      codes_((count + kUserTile - 1) / kUserTile * kUserTile * static_cast<size_t>(PaddedDim(dim)), 128),
      scales_((count + kUserTile - 1) / kUserTile * kUserTile, 0.f),
      norms_(scales_.size(), 0.f),
      row_(static_cast<size_t>(PaddedDim(dim))) {}

void QuantizedUsers::Set(size_t k, std::span<const float> vector) {
  assert(k < count_ && vector.size() == static_cast<size_t>(dim_));
  scales_[k] = QuantizeRow(vector, row_);
  norms_[k] = QuantizedNorm(scales_[k], row_);
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
                uint32_t count, float* out, size_t ld, const Int8Filter* filter) {
  assert(users.padded_dim() == items.padded_dim() && ld >= users.padded_count());
  assert(users.padded_count() / kUserTile <= 0x10000);
  assert(size_t{begin} + count <= items.NumItems());
  if (count == 0) return;
#if defined(__x86_64__)
  if (kernel == Int8Kernel::kAvx512Vnni && Int8KernelSupported(kernel)) {
    ScoresAvx512Vnni(users, items, begin, count, out, ld, filter);
    return;
  }
#endif
  ScoresPortable(users, items, begin, count, out, ld, filter);
}

}  // namespace streamrec::serving
