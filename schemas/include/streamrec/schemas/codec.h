#pragma once

// JSON parsing (validating) and serialisation of the messages in event.h.
// Parsing never throws: it returns the message or a Rejection with a stable
// reason. Validation rules are DESIGN.md's "Messages" section; the JSON Schema
// documents under schemas/json/ describe the same rules.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "streamrec/schemas/event.h"
#include "streamrec/schemas/reject_reason.h"

namespace streamrec::schemas {

inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
// 1990-01-01T00:00:00Z: anything earlier is a unit mistake (seconds for ms).
inline constexpr int64_t kMinTimestampMs = 631152000000;

struct ParseOptions {
  // The Kafka message's own timestamp (ms); an event more than
  // `max_future_skew_ms` ahead of it is rejected. Unset (log files): events
  // are only checked against `kMinTimestampMs` and the 64-bit range.
  std::optional<int64_t> reference_ts_ms;
  // How far an event's ts may be ahead of the reference.
  // Default: 1 day.
  int64_t max_future_skew_ms = 24LL * 3600 * 1000;
};

template <typename T>
using ParseResult = std::variant<T, Rejection>;

ParseResult<Event> ParseEvent(std::string_view json, const ParseOptions& options = {});
ParseResult<Item> ParseItem(std::string_view json);
ParseResult<RecommendationList> ParseRecommendationList(std::string_view json);

// Compact JSON, fields in DESIGN.md's order; optional fields left out when
// unset. Parse(Serialize(x)) == x for every valid x.
std::string SerializeEvent(const Event& event);
std::string SerializeItem(const Item& item);
std::string SerializeRecommendationList(const RecommendationList& list);

}  // namespace streamrec::schemas
