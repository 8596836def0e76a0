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
// Applies to every message kind (events, items, recommendation lists).
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
// Containers nested deeper than this (the message object is level 1) are
// rejected with too_deep, wherever they are, even inside ignored fields.
inline constexpr int kMaxJsonDepth = 64;
// Longest accepted Item::embedding.
inline constexpr size_t kMaxEmbeddingEntries = 4096;
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

// `ts` may be written as an integer or as a number with an integral value
// (1.7e12), which JSON Schema's "integer" also accepts. Unknown fields are
// ignored, whatever their content (within the size, depth, UTF-8 and number
// range rules).
ParseResult<Event> ParseEvent(std::string_view json, const ParseOptions& options = {});
ParseResult<Item> ParseItem(std::string_view json);
ParseResult<RecommendationList> ParseRecommendationList(std::string_view json);

// The rules every id (user_id, item_id, event_id, model) must meet: not
// empty, at most kMaxIdBytes bytes, valid UTF-8 without control characters
// (U+0000-U+001F, U+007F-U+009F). Returns the rejection, naming `field`, or
// nothing when `id` is fine. For ids that arrive outside JSON (HTTP paths,
// command lines).
std::optional<Rejection> CheckId(std::string_view field, std::string_view id);

// Compact JSON, fields in DESIGN.md's order; optional fields left out when
// unset. Parse(Serialize(x)) == x for every valid x (floats and doubles are
// written in their shortest round-trip form). Never fails: a non-finite number
// is written as null and invalid UTF-8 as U+FFFD, so such a message is
// rejected by the reader rather than producing broken JSON.
std::string SerializeEvent(const Event& event);
std::string SerializeItem(const Item& item);
std::string SerializeRecommendationList(const RecommendationList& list);

}  // namespace streamrec::schemas
