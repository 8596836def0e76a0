#pragma once

// A 128-bit streaming hash for store digests: two independent 64-bit lanes
// (FNV-1a, and a multiply-xor lane with another odd multiplier), each finished
// with Mix64. Not cryptographic: it detects differences between stores, it
// does not resist someone forging them. Stable across hosts and builds.

#include <cstdint>
#include <string>
#include <string_view>

namespace streamrec::state::internal {

class Hasher128 {
 public:
  void Update(std::string_view bytes);
  // Fixed 8-byte little-endian framing for lengths and counts, so that
  // ("ab","c") and ("a","bc") hash differently.
  void UpdateU64(uint64_t v);
  // Length-prefixed bytes.
  void UpdateField(std::string_view bytes) {
    UpdateU64(bytes.size());
    Update(bytes);
  }
  // 32 lowercase hex digits.
  std::string Hex() const;

 private:
  uint64_t a_ = 0xcbf29ce484222325ULL;
  uint64_t b_ = 0x6a09e667f3bcc909ULL;
};

}  // namespace streamrec::state::internal
