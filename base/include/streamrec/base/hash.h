#pragma once

// Stable, platform-independent hashing and counter-based randomness. The
// model's determinism rests on these: an id hashes to the same value on every
// machine and in every run, and a random draw depends only on its counter.

#include <cstdint>
#include <string_view>

namespace streamrec {

// SplitMix64 finaliser: a bijective mix of 64 bits.
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// 64-bit FNV-1a of the bytes, finished with Mix64 for good low bits.
constexpr uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ Mix64(seed);
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

// A counter-based generator: the stream is a pure function of (key, counter),
// so a draw can be reproduced without replaying earlier draws.
class CounterRng {
 public:
  explicit constexpr CounterRng(uint64_t key) : key_(key) {}
  constexpr uint64_t Next() { return Mix64(key_ ^ Mix64(counter_++)); }
  // Uniform in [0, 1).
  constexpr double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0 (multiply-shift; bias is negligible for n << 2^32).
  constexpr uint32_t NextBelow(uint32_t n) {
    return static_cast<uint32_t>(((Next() >> 32) * static_cast<uint64_t>(n)) >> 32);
  }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

}  // namespace streamrec
