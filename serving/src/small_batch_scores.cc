#include "small_batch_scores.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace streamrec::serving {
namespace {

#if defined(__AVX2__) && defined(__FMA__)

// Sums of four accumulators, one float each: [sum(a0), sum(a1), sum(a2), sum(a3)].
__m128 Sum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
}

// kItems items x kUsers users (kUsers <= 4): 3 x 4 accumulators fit the 16
// registers beside the loads. `tail` masks the last dim % 8 values.
template <int kItems, int kUsers>
void Tile(const float* users, size_t count, const float* items, int dim, __m256i tail, float* scores) {
  __m256 acc[kItems][4];
  for (auto& row : acc) {
    for (__m256& a : row) a = _mm256_setzero_ps();
  }
  const int full = dim & ~7;
  for (int d = 0; d < full; d += 8) {
    __m256 u[kUsers];
    for (int k = 0; k < kUsers; ++k) u[k] = _mm256_loadu_ps(users + static_cast<size_t>(k) * dim + d);
    for (int j = 0; j < kItems; ++j) {
      const __m256 q = _mm256_loadu_ps(items + static_cast<size_t>(j) * dim + d);
      for (int k = 0; k < kUsers; ++k) acc[j][k] = _mm256_fmadd_ps(u[k], q, acc[j][k]);
    }
  }
  if (full < dim) {
    __m256 u[kUsers];
    for (int k = 0; k < kUsers; ++k) u[k] = _mm256_maskload_ps(users + static_cast<size_t>(k) * dim + full, tail);
    for (int j = 0; j < kItems; ++j) {
      const __m256 q = _mm256_maskload_ps(items + static_cast<size_t>(j) * dim + full, tail);
      for (int k = 0; k < kUsers; ++k) acc[j][k] = _mm256_fmadd_ps(u[k], q, acc[j][k]);
    }
  }
  for (int j = 0; j < kItems; ++j) {
    alignas(16) float sums[4];
    _mm_store_ps(sums, Sum4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]));
    for (int k = 0; k < kUsers; ++k) scores[static_cast<size_t>(j) * count + static_cast<size_t>(k)] = sums[k];
  }
}

template <int kItems>
void ItemTile(const float* users, size_t count, const float* items, int dim, __m256i tail, float* scores) {
  size_t k = 0;
  for (; k + 4 <= count; k += 4) Tile<kItems, 4>(users + k * static_cast<size_t>(dim), count, items, dim, tail, scores + k);
  const float* rest = users + k * static_cast<size_t>(dim);
  switch (count - k) {
    case 3: Tile<kItems, 3>(rest, count, items, dim, tail, scores + k); break;
    case 2: Tile<kItems, 2>(rest, count, items, dim, tail, scores + k); break;
    case 1: Tile<kItems, 1>(rest, count, items, dim, tail, scores + k); break;
    default: break;
  }
}

#endif

}  // namespace

void SmallBatchScores(const float* users, size_t count, const float* items, uint32_t num_items, int dim,
                      float* scores) {
  const auto row = static_cast<size_t>(dim);
#if defined(__AVX2__) && defined(__FMA__)
  const int rem = dim & 7;
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  uint32_t j = 0;
  for (; j + 3 <= num_items; j += 3) ItemTile<3>(users, count, items + j * row, dim, tail, scores + j * count);
  for (; j < num_items; ++j) ItemTile<1>(users, count, items + j * row, dim, tail, scores + j * count);
#else
  for (uint32_t j = 0; j < num_items; ++j) {
    for (size_t k = 0; k < count; ++k) {
      float s = 0;
      for (size_t d = 0; d < row; ++d) s += users[k * row + d] * items[j * row + d];
      scores[j * count + k] = s;
    }
  }
#endif
}

}  // namespace streamrec::serving
