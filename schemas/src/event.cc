#include "streamrec/schemas/event.h"

#include <array>

namespace streamrec::schemas {
namespace {

// Indexed by the enum's value; the order is the enum's.
constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames = {
    "impression", "view", "click", "add_to_cart", "purchase", "rating", "dislike", "forget",
};

}  // namespace

std::string_view EventTypeName(EventType type) {
  const auto index = static_cast<size_t>(type);
  return index < kEventTypeNames.size() ? kEventTypeNames[index] : std::string_view("unknown");
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (kEventTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

}  // namespace streamrec::schemas
