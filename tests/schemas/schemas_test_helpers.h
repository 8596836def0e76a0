#pragma once

// Small helpers shared by the schemas tests.

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <variant>

#include "streamrec/schemas/codec.h"

namespace streamrec::schemas::testing {

// The rejection's code, or "accepted".
template <typename T>
std::string CodeOf(const ParseResult<T>& result) {
  if (const auto* rejection = std::get_if<Rejection>(&result)) {
    return std::string(RejectCode(rejection->reason));
  }
  return "accepted";
}

// The rejection; fails the test when the message was accepted.
template <typename T>
Rejection RejectionOf(const ParseResult<T>& result) {
  REQUIRE(std::holds_alternative<Rejection>(result));
  return std::get<Rejection>(result);
}

// The parsed message; fails the test (showing why) when it was rejected.
template <typename T>
const T& ValueOf(const ParseResult<T>& result) {
  if (const auto* rejection = std::get_if<Rejection>(&result)) {
    FAIL_CHECK(std::string(RejectCode(rejection->reason)) + ": " + rejection->ToString());
  }
  REQUIRE(std::holds_alternative<T>(result));
  return std::get<T>(result);
}

}  // namespace streamrec::schemas::testing
