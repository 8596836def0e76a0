#pragma once

// The one table of rejection reasons. Each has a stable code (the DLQ
// `error.code` header, never renumbered or renamed) and a message that starts
// the DLQ `error.reason` header; the parser appends the specific detail
// (field name, limit, value). New reasons are appended at the end.

#include <string>
#include <string_view>

namespace streamrec::schemas {

#define STREAMREC_REJECT_REASONS(X)                                                   \
  X(kInvalidJson, "invalid_json", "message is not valid JSON")                        \
  X(kNotAnObject, "not_an_object", "message is not a JSON object")                    \
  X(kMissingField, "missing_field", "a required field is missing")                    \
  X(kWrongType, "wrong_type", "a field has the wrong JSON type")                      \
  X(kIdTooLong, "id_too_long", "an id is longer than 256 bytes")                      \
  X(kEmptyId, "empty_id", "an id is empty")                                           \
  X(kInvalidId, "invalid_id", "an id contains control characters or invalid UTF-8")   \
  X(kMessageTooLarge, "message_too_large", "message is larger than 64 KiB")           \
  X(kNonFiniteNumber, "non_finite_number", "a number is NaN, infinite or out of range") \
  X(kUnknownEventType, "unknown_event_type", "event type is not one of the known types") \
  X(kTimestampOutOfRange, "timestamp_out_of_range", "timestamp is before 1990 or too far ahead") \
  X(kMissingValue, "missing_value", "a rating event has no numeric value")            \
  X(kUnexpectedItem, "unexpected_item", "a forget event must not carry an item_id")   \
  X(kDuplicateKey, "duplicate_key", "a field appears more than once")                 \
  X(kTooDeep, "too_deep", "JSON nesting is deeper than allowed")                    \
  X(kTooManyEntries, "too_many_entries", "an array has more entries than allowed")

enum class RejectReason {
#define STREAMREC_REASON_ENUM(name, code, message) name,
  STREAMREC_REJECT_REASONS(STREAMREC_REASON_ENUM)
#undef STREAMREC_REASON_ENUM
};

// How many reasons the table holds (for per-reason counters).
inline constexpr int kRejectReasonCount = 0
#define STREAMREC_REASON_COUNT(name, code, message) +1
    STREAMREC_REJECT_REASONS(STREAMREC_REASON_COUNT);
#undef STREAMREC_REASON_COUNT

// The stable code, e.g. "missing_field".
std::string_view RejectCode(RejectReason reason);
// The general message, e.g. "a required field is missing".
std::string_view RejectMessage(RejectReason reason);

// A rejected message: the reason plus what exactly was wrong.
struct Rejection {
  RejectReason reason;
  std::string detail;  // e.g. "field 'user_id'"; may be empty

  // "a required field is missing: field 'user_id'" — the DLQ error.reason.
  std::string ToString() const;
  bool operator==(const Rejection&) const = default;
};

}  // namespace streamrec::schemas
