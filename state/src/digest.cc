#include "digest.h"

#include <fmt/format.h>

#include "streamrec/base/hash.h"

namespace streamrec::state::internal {

void Hasher128::Update(std::string_view bytes) {
  for (char c : bytes) {
    const auto x = static_cast<uint8_t>(c);
    a_ = (a_ ^ x) * 0x100000001b3ULL;
    // The rotation after the multiply feeds high bits back into low ones, so
    // this lane is not a second FNV with another constant.
    b_ = (b_ ^ x) * 0x9e3779b97f4a7c15ULL;
    b_ = (b_ << 29) | (b_ >> 35);
  }
}

void Hasher128::UpdateU64(uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  Update(std::string_view(buf, 8));
}

std::string Hasher128::Hex() const { return fmt::format("{:016x}{:016x}", Mix64(a_), Mix64(b_ ^ a_)); }

}  // namespace streamrec::state::internal
