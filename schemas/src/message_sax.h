#pragma once

// The shared half of the streaming (SAX) parsers in codec.cc. nlohmann's SAX
// driver is iterative, so hostile nesting cannot overflow the stack, and no
// DOM is built: a handler sees each value once and keeps only what the
// message type needs. This base tracks depth, skips ignored subtrees and
// turns syntax errors into rejections; the derived handler (CRTP) interprets
// the levels it cares about through
//   bool OnOpen(int level, bool is_array);     // a container at level >= 2
//   bool OnKey(int level, std::string& key);   // a key of the object at `level`
//   bool OnScalar(int level, JsonScalar& value);
//   bool OnClose(int level);
// The message object is level 1. Every callback returns false to stop the
// parse, after recording the rejection with Reject().

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "json_text.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/schemas/reject_reason.h"

namespace streamrec::schemas::internal {

// One scalar as nlohmann's SAX driver reports it.
struct JsonScalar {
  enum class Kind { kNull, kBoolean, kInteger, kUnsigned, kFloat, kString };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t integer = 0;            // kInteger (nlohmann reports negatives here)
  uint64_t unsigned_integer = 0;  // kUnsigned
  double number = 0;              // kFloat; always finite
  std::string_view token;         // kFloat: the number as written
  std::string* string = nullptr;  // kString: the decoded text, may be moved from
};

// "string", "number", ... for wrong_type details.
std::string_view JsonKindName(JsonScalar::Kind kind);

// Sees every key of one object once, to reject duplicates: known fields are
// bits, other keys go to a set (only objects with unknown keys pay for it).
class KeySet {
 public:
  // False when the key was seen before. `field` is the known field's index
  // (< 32), or -1 for a key the message type does not know.
  bool Insert(int field, const std::string& key);
  void Clear();
  bool Contains(int field) const { return (known_ & (uint32_t{1} << field)) != 0; }

 private:
  uint32_t known_ = 0;
  std::unordered_set<std::string> unknown_;
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column
// 7: syntax error ...; last read: '...'" without the bracketed prefix, with
// bytes outside printable ASCII written as \xNN (the last-read token is raw
// input) and cut to a length a Kafka header and a log line can carry.
std::string DescribeJsonError(std::string_view what);

template <typename Derived>
class MessageSax {
 public:
  using Json = nlohmann::json;

  // The nlohmann SAX interface.
  bool null() { return Scalar(JsonScalar{}); }
  bool boolean(bool value) {
    JsonScalar scalar;
    scalar.kind = JsonScalar::Kind::kBoolean;
    scalar.boolean = value;
    return Scalar(scalar);
  }
  bool number_integer(Json::number_integer_t value) {
    JsonScalar scalar;
    scalar.kind = JsonScalar::Kind::kInteger;
    scalar.integer = value;
    return Scalar(scalar);
  }
  bool number_unsigned(Json::number_unsigned_t value) {
    JsonScalar scalar;
    scalar.kind = JsonScalar::Kind::kUnsigned;
    scalar.unsigned_integer = value;
    return Scalar(scalar);
  }
  bool number_float(Json::number_float_t value, const Json::string_t& token) {
    JsonScalar scalar;
    scalar.kind = JsonScalar::Kind::kFloat;
    scalar.number = value;
    scalar.token = token;
    return Scalar(scalar);
  }
  bool string(Json::string_t& value) {
    JsonScalar scalar;
    scalar.kind = JsonScalar::Kind::kString;
    scalar.string = &value;
    return Scalar(scalar);
  }
  // JSON text has no binary values; only the binary formats produce them.
  bool binary(Json::binary_t& /*value*/) {
    return Reject(RejectReason::kInvalidJson, "binary value");
  }
  bool start_object(size_t /*size*/) { return Open(false); }
  bool start_array(size_t /*size*/) { return Open(true); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(Json::string_t& key) {
    if (depth_ == 1) top_level_key_ = key;
    if (skip_level_ != 0) return true;
    return derived().OnKey(depth_, key);
  }
  bool parse_error(size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& error) {
    // nlohmann reports a number too large for a double (1e400) as
    // out_of_range 406 instead of producing inf. The number belongs to the
    // field being read; a syntax error may sit between fields, so it is
    // located by nlohmann's line and column instead.
    constexpr int kNumberOverflow = 406;
    if (error.id == kNumberOverflow) {
      return Reject(RejectReason::kNonFiniteNumber, DescribeJsonError(error.what()) + " in field " +
                                                        QuoteForDetail(top_level_key_));
    }
    return Reject(RejectReason::kInvalidJson, DescribeJsonError(error.what()));
  }

  // Set once a callback returned false; otherwise the message was read whole.
  const std::optional<Rejection>& rejection() const { return rejection_; }

 protected:
  // Records why the message is rejected; returns false to stop the parse.
  bool Reject(Rejection rejection) {
    rejection_ = std::move(rejection);
    return false;
  }
  bool Reject(RejectReason reason, std::string detail) {
    return Reject(Rejection{reason, std::move(detail)});
  }
  // The next value (scalar or whole container) is not interpreted.
  void SkipNextValue() { skip_next_ = true; }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  bool Open(bool is_array) {
    if (++depth_ > kMaxJsonDepth) {
      return Reject(RejectReason::kTooDeep,
                    "more than " + std::to_string(kMaxJsonDepth) + " nested objects or arrays");
    }
    if (skip_level_ != 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      skip_level_ = depth_;
      return true;
    }
    if (depth_ == 1) {
      return is_array ? Reject(RejectReason::kNotAnObject, "the message is an array") : true;
    }
    return derived().OnOpen(depth_, is_array);
  }

  bool Close() {
    const int level = depth_--;
    if (skip_level_ != 0) {
      if (level == skip_level_) skip_level_ = 0;
      return true;
    }
    return derived().OnClose(level);
  }

  bool Scalar(JsonScalar value) {
    if (skip_level_ != 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    if (depth_ == 0) {
      return Reject(RejectReason::kNotAnObject,
                    "the message is a " + std::string(JsonKindName(value.kind)));
    }
    return derived().OnScalar(depth_, value);
  }

  std::string top_level_key_;  // the message object's key read last
  int depth_ = 0;              // containers open at this point
  int skip_level_ = 0;         // level of the ignored container being skipped; 0: none
  bool skip_next_ = false;
  std::optional<Rejection> rejection_;
};

}  // namespace streamrec::schemas::internal
