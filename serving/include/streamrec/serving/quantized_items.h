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

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace streamrec::serving {

// Dims per group of one `vpdpbusd` lane (4 bytes).
inline constexpr int kDimGroup = 4;
// Users per kernel tile (one 512-bit register of int32 accumulators).
inline constexpr size_t kUserTile = 16;

// Quantizes `row` into codes[0, row.size()) (codes beyond it are set to 0)
// and returns the scale.
float QuantizeRow(std::span<const float> row, std::span<int8_t> codes);

// The int8 copy of an item matrix, kept beside the float one.
class QuantizedItems {
 public:
  explicit QuantizedItems(int dim);

  // Quantizes item `item`'s row (dim floats), growing the copy as needed
  // (rows in between stay zero: scale 0).
  void Set(uint32_t item, std::span<const float> row);

  int dim() const { return dim_; }
  int padded_dim() const { return padded_dim_; }
  uint32_t NumItems() const { return static_cast<uint32_t>(scales_.size()); }
  const int8_t* Codes(uint32_t item) const { return codes_.data() + size_t{item} * static_cast<size_t>(padded_dim_); }
  float Scale(uint32_t item) const { return scales_[item]; }
  int32_t CodeSum(uint32_t item) const { return code_sums_[item]; }

 private:
  int dim_;
  int padded_dim_;
  std::vector<int8_t> codes_;  // NumItems() x padded_dim
  std::vector<float> scales_;
  std::vector<int32_t> code_sums_;
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

 private:
  int dim_;
  int padded_dim_;
  size_t count_;
  std::vector<uint8_t> codes_;
  std::vector<float> scales_;  // 0 for padding
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
  const float* bias = nullptr;       // `count` values, item begin's first
  const float* threshold = nullptr;  // users.padded_count() values (+inf for padding)
  std::vector<Int8Hit>* hits = nullptr;  // appended to, item by item
};

// Approximate scores of items [begin, begin + count) for every (padded) user:
// out[j * ld + u] = float(dot_j,u) * (user_scale[u] * item_scale[begin + j]),
// where dot is the exact integer dot product of the codes. With `filter`,
// also appends a hit for every item and tile where some user's
// out[j * ld + u] + bias[j] >= threshold[u]. Every kernel gives the same
// integer dots, bitwise the same floats and the same hits. Requires
// users.padded_dim() == items.padded_dim(), ld >= users.padded_count().
void Int8Scores(Int8Kernel kernel, const QuantizedUsers& users, const QuantizedItems& items, uint32_t begin,
                uint32_t count, float* out, size_t ld, const Int8Filter* filter = nullptr);

}  // namespace streamrec::serving
