#pragma once

// The int8 first stage of `serving.index=sq8`: a scalar-quantized copy of the
// item matrix, user vectors quantized the same way, and the kernel that
// scores a block of items for a batch of users from them. Top-N then keeps
// `candidates` items per user by these scores and re-scores them exactly in
// float (serving/top_n.h, TopNQuantized).
//
// Quantization is symmetric per vector: scale = max|x_j| / 127 and
// code_j = round(x_j / scale) in [-127, 127] (a zero vector has scale 0 and
// all codes 0), so x_j ~ scale * code_j within scale / 2. A changed row is
// simply quantized again (O(dim)): unlike a graph index the copy never goes
// stale as online SGD moves the items.
//
// Kernel layout: users sit in the vector lanes. A tile of kUserTile users
// holds, for each group of 4 dims, 16 users x 4 unsigned codes (code + 128),
// one 512-bit register; `vpdpbusd` multiplies it by one item's 4 signed codes
// broadcast, so each accumulator holds one item's dots for 16 users: the
// column-major (item-major) score block the float GEMM path writes too.
// Items are then plain rows of padded_dim codes (dim rounded up to 4, zeros
// after dim). The +128 offset is removed with 128 * sum_j code_ij, kept per
// item. Dots stay exact in int32 (|dot| <= 255 * 127 * 512 at dim 512).
//
// Thread-safety: none; readers may share a const instance.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace streamrec::serving {

// Dims per group of one `vpdpbusd` lane (4 bytes).
inline constexpr int kDimGroup = 4;
// Users per kernel tile (one 512-bit register of int32 accumulators).
inline constexpr size_t kUserTile = 16;
// Items scored at once per user tile: independent accumulators hide the
// latency of vpdpbusd (and share each load of the user tile).
inline constexpr uint32_t kItemChunk = 8;

// Quantizes `row` into codes[0, row.size()) (codes beyond it are set to 0)
// and returns the scale.
float QuantizeRow(std::span<const float> row, std::span<int8_t> codes);

// A bound compared with a threshold is first widened by this share of its
// terms' magnitude: the scores, norms and sum each round (~1e-7).
inline constexpr float kBoundMargin = 1e-5F;

// The int8 copy of an item matrix, kept beside the float one, with each
// item's bias. Rows sit in slots, the kernel's scan order: new items take the
// next slots, and Reorder() sorts them by the bound below, so that items
// that can enter some list come first and the rest, whose bounds stay under
// every threshold, are skipped chunk by chunk (Int8Scores). `begin` and
// `count` of the kernel, and the per-slot accessors, count slots.
//
// The bound: by Cauchy-Schwarz on the codes, a user of norm N scores item i
// (approximately, as the kernel does) at most bias_i + N * Norm_i, where
// Norm = scale * |codes| (QuantizedUsers::norms() likewise).
class QuantizedItems {
 public:
  explicit QuantizedItems(int dim);

  // Quantizes item `item`'s row (dim floats) and keeps its bias, growing the
  // copy as needed (items in between get zero rows: scale 0, bias 0).
  void Set(uint32_t item, std::span<const float> row, float bias);
  // Sorts the slots by bias + user_norm * Norm, highest first (ties: lower
  // item first), for users of about `user_norm`. O(n log n) plus one copy of
  // the codes: call it when the order has gone stale, not per query.
  void Reorder(float user_norm);
  // Set() calls since the last Reorder(): how stale the order may be.
  uint64_t SetsSinceReorder() const { return sets_since_reorder_; }

  int dim() const { return dim_; }
  int padded_dim() const { return padded_dim_; }
  uint32_t NumItems() const { return static_cast<uint32_t>(scales_.size()); }
  uint32_t ItemAt(uint32_t slot) const { return items_[slot]; }
  uint32_t SlotOf(uint32_t item) const { return slots_[item]; }
  const int8_t* Codes(uint32_t slot) const { return codes_.data() + size_t{slot} * static_cast<size_t>(padded_dim_); }
  float Scale(uint32_t slot) const { return scales_[slot]; }
  int32_t CodeSum(uint32_t slot) const { return code_sums_[slot]; }
  float Norm(uint32_t slot) const { return norms_[slot]; }
  const float* Biases() const { return biases_.data(); }  // by slot

  // What items in slots [begin, NumItems()) can score at most, for a user
  // of norm N: For(N). Two bounds hold, and the lower one is taken:
  //   bias_i + N * Norm_i <= max bias + N * max Norm, and
  //   bias_i + N * Norm_i <= max key + max(0, N - order_norm) * max Norm,
  // with key_i = bias_i + order_norm * Norm_i, the sort key. For users near
  // the norm the order was made for, the second is about the largest key
  // left, which falls as the scan goes on. The maxima are kept per block of
  // kBoundBlock slots (the bound may include a few slots before `begin`),
  // exact after Reorder() and only ever raised by Set(). The kernel bounds
  // each chunk of items the same way.
  struct SuffixBound {
    float key = -std::numeric_limits<float>::infinity();
    float bias = -std::numeric_limits<float>::infinity();
    float norm = 0;
    float order_norm = 0;
    // Widened by kBoundMargin.
    float For(float user_norm) const {
      const float bound = std::min(key + std::max(0.F, user_norm - order_norm) * norm, bias + user_norm * norm);
      return bound + kBoundMargin * (std::max(std::abs(key), std::abs(bias)) + (user_norm + order_norm) * norm);
    }
  };
  static constexpr uint32_t kBoundBlock = 256;
  SuffixBound BoundFrom(uint32_t begin) const;
  // Reorder()'s user_norm (0 before the first).
  float order_norm() const { return order_norm_; }

 private:
  int dim_;
  int padded_dim_;
  uint64_t sets_since_reorder_ = 0;
  // By slot:
  std::vector<int8_t> codes_;  // NumItems() x padded_dim
  std::vector<float> scales_;
  std::vector<int32_t> code_sums_;
  std::vector<float> norms_;
  std::vector<float> biases_;
  std::vector<uint32_t> items_;
  float order_norm_ = 0;  // Reorder()'s user_norm
  // By block of kBoundBlock slots: the largest key, bias and Norm in it.
  std::vector<float> block_keys_;
  std::vector<float> block_biases_;
  std::vector<float> block_norms_;
  // By item:
  std::vector<uint32_t> slots_;
  std::vector<int8_t> reordered_codes_;  // Reorder()'s scratch, kept for its capacity
};

// A batch of user vectors quantized for the kernel: tiles of kUserTile users
// (the last one padded with zero vectors), each padded_dim / 4 groups of
// 16 users x 4 codes + 128.
class QuantizedUsers {
 public:
  QuantizedUsers(int dim, size_t count);
  // Quantizes user `k`'s vector (dim floats).
  void Set(size_t k, std::span<const float> vector);

  size_t count() const { return count_; }
  size_t padded_count() const { return scales_.size(); }  // a multiple of kUserTile
  int padded_dim() const { return padded_dim_; }
  const uint8_t* TileCodes(size_t tile) const {
    return codes_.data() + tile * kUserTile * static_cast<size_t>(padded_dim_);
  }
  const float* scales() const { return scales_.data(); }
  // scale * |codes| per user (0 for padding): see QuantizedItems' bound.
  const float* norms() const { return norms_.data(); }

 private:
  int dim_;
  int padded_dim_;
  size_t count_;
  std::vector<uint8_t> codes_;
  std::vector<float> scales_;  // 0 for padding
  std::vector<float> norms_;   // 0 for padding
  std::vector<int8_t> row_;    // scratch
};

enum class Int8Kernel {
  kPortable,    // plain C++ (int16 multiply-adds the compiler vectorises)
  kAvx512Vnni,  // vpdpbusd on 512-bit registers
};
// Whether this CPU (and OS) runs `kernel`.
bool Int8KernelSupported(Int8Kernel kernel);
// The fastest supported kernel.
Int8Kernel BestInt8Kernel();

// Where a block's scores reach the users' thresholds: item `item` of the
// block (counted from its begin), and one bit per user of tile `tile`.
struct Int8Hit {
  uint32_t item = 0;
  uint16_t tile = 0;
  uint16_t users = 0;
  bool operator==(const Int8Hit&) const = default;
};

// What Int8Scores also reports, so top-N need not scan the whole score block
// for the few scores that can enter a list (the compare costs next to
// nothing in the kernel, in registers).
struct Int8Filter {
  const float* bias = nullptr;       // `count` values, slot begin's first
  const float* threshold = nullptr;  // users.padded_count() values (+inf for padding)
  std::vector<Int8Hit>* hits = nullptr;  // appended to, item by item
  // If set, counts the (chunk of items, tile of users) pairs computed, not
  // skipped by the bound.
  uint64_t* scored = nullptr;
};

// Approximate scores of the items in slots [begin, begin + count) for every
// (padded) user: out[j * ld + u] = float(dot_j,u) * (user_scale[u] *
// item_scale[begin + j]), where dot is the exact integer dot product of the
// codes. With `filter`, also appends a hit for every item and tile where
// some user's out[j * ld + u] + bias[j] >= threshold[u]; a kernel may then
// skip a chunk of items for a tile whose users' thresholds their bound
// (QuantizedItems) cannot reach, and leave those scores unwritten: they
// could not be hits. Every kernel gives the same integer dots, bitwise the
// same floats where it writes them, and the same hits. Requires
// users.padded_dim() == items.padded_dim(), ld >= users.padded_count().
void Int8Scores(Int8Kernel kernel, const QuantizedUsers& users, const QuantizedItems& items, uint32_t begin,
                uint32_t count, float* out, size_t ld, const Int8Filter* filter = nullptr);

}  // namespace streamrec::serving
