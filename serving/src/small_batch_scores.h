#pragma once

// Dot products of a few users with a block of row-major items, for top-N
// batches too small for a GEMM to pay for its packing (a refresher round at
// 1k events/s holds a handful of users). Each item row is read once per
// call and kept in registers while it meets every user, so the pass stays
// near the cost of reading the item block from memory.

#include <cstddef>
#include <cstdint>

namespace streamrec::serving {

// scores[j * count + k] = users[k] . items[j] for k < count, j < num_items.
// `users` is row-major count x dim, `items` row-major num_items x dim.
void SmallBatchScores(const float* users, size_t count, const float* items, uint32_t num_items, int dim,
                      float* scores);

}  // namespace streamrec::serving
