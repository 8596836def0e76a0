#pragma once

// Status and Result<T>: how every expected failure crosses a component
// boundary (nothing throws across one). Shaped like abseil's Status/StatusOr.
// Both are [[nodiscard]]; to drop an error on purpose call
// PermitUncheckedError() so the act stays searchable.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace streamrec {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from a user: flag, config value, file line
  kNotFound,            // a key, file or record that does not exist
  kCorruption,          // stored bytes that fail validation
  kIoError,             // the OS or a storage engine failed
  kFailedPrecondition,  // the system is not in a state that allows the call
  kUnavailable,         // a remote peer (Kafka) cannot be reached right now
  kInternal,            // a bug or an unexpected foreign error
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>", or "OK".
  std::string ToString() const;

  // Adds context in front of the message: "opening store: <message>".
  Status WithContext(std::string_view context) const;

  // The one searchable way to ignore an error on purpose.
  void PermitUncheckedError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none. The Status held is
// never OK.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }

  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace streamrec

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define STREAMREC_RETURN_IF_ERROR(expr)              \
  do {                                               \
    ::streamrec::Status streamrec_status_ = (expr);  \
    if (!streamrec_status_.ok()) return streamrec_status_; \
  } while (false)
