#include <catch2/catch.hpp>

#include "streamrec/base/status.h"

namespace streamrec {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status Chain(int x) {
  STREAMREC_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST_CASE("Result holds a value or a non-OK status", "[base]") {
  auto ok = Half(4);
  REQUIRE(ok.ok());
  CHECK(*ok == 2);
  CHECK(ok.status().ok());

  auto bad = Half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().ToString() == "InvalidArgument: odd: 3");
}

TEST_CASE("RETURN_IF_ERROR propagates and WithContext prefixes", "[base]") {
  CHECK(Chain(2).ok());
  Status s = Chain(5);
  CHECK(s.message() == "odd: 5");
  CHECK(s.WithContext("halving").message() == "halving: odd: 5");
  CHECK(Status::Ok().WithContext("x").ok());
}

}  // namespace
}  // namespace streamrec
