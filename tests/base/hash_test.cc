#include <set>

#include <catch2/catch.hpp>

#include "streamrec/base/hash.h"

namespace streamrec {
namespace {

TEST_CASE("HashBytes is stable across runs and builds", "[base]") {
  // Pinned values: a change here changes every model's initial vectors.
  static_assert(HashBytes("") == HashBytes("", 0));
  CHECK(HashBytes("u42") == HashBytes("u42"));
  CHECK(HashBytes("u42") != HashBytes("u43"));
  CHECK(HashBytes("u42", 1) != HashBytes("u42", 2));
  constexpr uint64_t kPinned = HashBytes("streamrec");
  CHECK(HashBytes(std::string("streamrec")) == kPinned);
}

TEST_CASE("CounterRng draws are a function of key and counter", "[base]") {
  CounterRng a(7), b(7), c(8);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = a.Next();
    CHECK(x == b.Next());
    seen.insert(x);
    (void)c.Next();
  }
  CHECK(seen.size() == 1000);
  CounterRng r(1);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    double d = r.NextDouble();
    REQUIRE(d >= 0.0);
    REQUIRE(d < 1.0);
    sum += d;
    REQUIRE(r.NextBelow(10) < 10u);
  }
  CHECK(sum / 10000 == Approx(0.5).margin(0.02));
}

}  // namespace
}  // namespace streamrec
