#pragma once

// The typed messages of DESIGN.md: events (topic `events`), catalog items
// (topic `items`) and recommendation lists (topic `recommendations`).
// Plain values; parsing and serialisation live in codec.h.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamrec::schemas {

enum class EventType : uint8_t {
  kImpression = 0,  // shown, not acted on
  kView,
  kClick,
  kAddToCart,
  kPurchase,
  kRating,   // carries `value`
  kDislike,
  kForget,   // delete everything about the user; has no item
};
inline constexpr int kEventTypeCount = 8;

// "add_to_cart" etc.; the wire names of DESIGN.md.
std::string_view EventTypeName(EventType type);
std::optional<EventType> EventTypeFromName(std::string_view name);

struct Event {
  std::string user_id;
  std::string item_id;                  // empty only for kForget
  EventType type = EventType::kView;
  int64_t ts_ms = 0;                    // event time, ms since the Unix epoch
  std::optional<std::string> event_id;  // for dropping duplicates
  std::optional<double> value;          // rating value (kRating)

  bool operator==(const Event&) const = default;
};

struct Item {
  std::string item_id;
  bool available = true;
  std::optional<std::string> title;
  std::vector<std::string> tags;
  std::vector<float> embedding;  // optional content vector; empty when absent

  bool operator==(const Item&) const = default;
};

struct ScoredItem {
  std::string item_id;
  float score = 0;
  bool operator==(const ScoredItem&) const = default;
};

struct RecommendationList {
  std::string user_id;
  std::vector<ScoredItem> items;
  int64_t generated_at_ms = 0;    // wall clock when computed
  int64_t source_event_ts_ms = 0; // event time of the newest event it reflects
  std::string model;              // e.g. "isgd", "popularity"
  uint64_t seq = 0;               // per-user sequence number, increasing

  bool operator==(const RecommendationList&) const = default;
};

}  // namespace streamrec::schemas
