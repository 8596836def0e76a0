#include <cstdint>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "streamrec/base/allocator.h"

namespace streamrec {
namespace {

TEST_CASE("the executables run on the allocator they were linked with", "[base]") {
  const std::string name = AllocatorName();
#if defined(STREAMREC_LINKS_JEMALLOC)
  // A linker that drops an unreferenced library (--as-needed) would leave
  // glibc's malloc in place without a word: this catches it.
  CHECK(name.starts_with("jemalloc 5."));
#else
  CHECK(name == "glibc");
#endif
}

TEST_CASE("HeapAllocatedBytes follows an allocation and its release", "[base]") {
  constexpr uint64_t kBytes = uint64_t{64} << 20;
  const uint64_t before = HeapAllocatedBytes();
  auto block = std::make_unique<char[]>(kBytes);
  block[kBytes - 1] = 1;
  const uint64_t holding = HeapAllocatedBytes();
  CHECK(holding >= before + kBytes);
  block.reset();
  CHECK(HeapAllocatedBytes() + kBytes <= holding);
}

}  // namespace
}  // namespace streamrec
