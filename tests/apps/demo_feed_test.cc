// The demo's synthetic feed: deterministic, realistic in shape, and every
// record is either valid or malformed on purpose.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

// A private header of apps/, where the demo lives.
#include "../../apps/src/demo_feed.h"
#include "streamrec/schemas/codec.h"

namespace streamrec::apps {
namespace {

using schemas::EventType;

constexpr int64_t kNowMs = 1'750'000'000'000;

std::vector<FeedRecord> Generate(DemoFeed& feed, size_t count) {
  std::vector<FeedRecord> records;
  for (size_t i = 0; i < count; ++i) records.push_back(feed.Next(kNowMs + static_cast<int64_t>(i)));
  return records;
}

bool Same(const FeedRecord& a, const FeedRecord& b) {
  return a.topic == b.topic && a.key == b.key && a.value == b.value && a.malformed == b.malformed;
}

std::string GenreOf(const std::string& item_id) { return item_id.substr(0, item_id.find('-')); }

// The valid events among `records`, parsed, in order.
std::vector<schemas::Event> ValidEvents(const std::vector<FeedRecord>& records) {
  std::vector<schemas::Event> events;
  for (const FeedRecord& record : records) {
    if (record.topic != FeedTopic::kEvents || record.malformed) continue;
    auto parsed = schemas::ParseEvent(record.value);
    REQUIRE(std::holds_alternative<schemas::Event>(parsed));
    events.push_back(std::get<schemas::Event>(parsed));
  }
  return events;
}

TEST_CASE("the demo feed is a function of its seed and clock readings", "[apps]") {
  DemoFeed a({.seed = 7}), b({.seed = 7}), other({.seed = 8});
  const auto first = Generate(a, 5000);
  const auto second = Generate(b, 5000);
  const auto third = Generate(other, 5000);
  CHECK(std::equal(first.begin(), first.end(), second.begin(), second.end(), Same));
  CHECK_FALSE(std::equal(first.begin(), first.end(), third.begin(), third.end(), Same));
  const auto catalog_a = DemoFeed({.seed = 7}).InitialCatalog();
  const auto catalog_b = DemoFeed({.seed = 7}).InitialCatalog();
  CHECK(std::equal(catalog_a.begin(), catalog_a.end(), catalog_b.begin(), catalog_b.end(), Same));
}

TEST_CASE("every demo record parses unless it is malformed on purpose, at about the asked share", "[apps]") {
  DemoFeed feed({.seed = 3, .malformed_share = 0.05});
  const auto records = Generate(feed, 20000);
  size_t events = 0, malformed = 0;
  std::set<std::string> reasons;
  for (const FeedRecord& record : records) {
    if (record.topic == FeedTopic::kItems) {
      CHECK(std::holds_alternative<schemas::Item>(schemas::ParseItem(record.value)));
      continue;
    }
    ++events;
    auto parsed = schemas::ParseEvent(record.value);
    if (record.malformed) {
      ++malformed;
      INFO(record.value);
      REQUIRE(std::holds_alternative<schemas::Rejection>(parsed));
      reasons.insert(std::string(schemas::RejectCode(std::get<schemas::Rejection>(parsed).reason)));
    } else {
      INFO(record.value);
      REQUIRE(std::holds_alternative<schemas::Event>(parsed));
      const auto& event = std::get<schemas::Event>(parsed);
      CHECK(record.key == event.user_id);
      CHECK(event.event_id.has_value());
      CHECK(event.ts_ms >= kNowMs);
    }
  }
  const double share = static_cast<double>(malformed) / static_cast<double>(events);
  CHECK(share > 0.04);
  CHECK(share < 0.06);
  // Broken in several ways, so the dead-letter queue shows several reasons.
  CHECK(reasons.size() >= 5);
}

TEST_CASE("demo sessions follow the funnel: each stage of an item comes after the one before", "[apps]") {
  DemoFeed feed({.seed = 11});
  const auto events = ValidEvents(Generate(feed, 50000));
  // For each (user, item), the funnel stages seen so far.
  std::map<std::pair<std::string, std::string>, std::set<EventType>> seen;
  std::map<EventType, int> counts;
  for (const schemas::Event& event : events) {
    ++counts[event.type];
    std::set<EventType>& stages = seen[{event.user_id, event.item_id}];
    switch (event.type) {
      case EventType::kClick:
        CHECK(stages.contains(EventType::kView));
        break;
      case EventType::kAddToCart:
        CHECK(stages.contains(EventType::kClick));
        break;
      case EventType::kPurchase:
        CHECK(stages.contains(EventType::kAddToCart));
        CHECK(stages.contains(EventType::kView));
        break;
      case EventType::kDislike:
        CHECK(stages.contains(EventType::kView));
        break;
      default:
        break;
    }
    stages.insert(event.type);
  }
  // A funnel narrows, and no stage is missing.
  CHECK(counts[EventType::kView] > counts[EventType::kClick]);
  CHECK(counts[EventType::kClick] > counts[EventType::kAddToCart]);
  CHECK(counts[EventType::kAddToCart] > counts[EventType::kPurchase]);
  CHECK(counts[EventType::kPurchase] > 0);
  CHECK(counts[EventType::kDislike] > 0);
  CHECK(counts[EventType::kForget] > 0);
}

TEST_CASE("demo item popularity is skewed and users keep to their tastes", "[apps]") {
  DemoFeed feed({.seed = 5});
  const auto records = Generate(feed, 50000);
  size_t catalog = DemoFeed({.seed = 5}).InitialCatalog().size();
  for (const FeedRecord& record : records) {
    if (record.topic == FeedTopic::kItems &&
        std::get<schemas::Item>(schemas::ParseItem(record.value)).available) {
      ++catalog;
    }
  }
  std::map<std::string, size_t> per_item;
  std::map<std::string, std::map<std::string, size_t>> genres_of_user;
  size_t with_item = 0;
  for (const schemas::Event& event : ValidEvents(records)) {
    if (event.item_id.empty()) continue;
    ++with_item;
    ++per_item[event.item_id];
    ++genres_of_user[event.user_id][GenreOf(event.item_id)];
  }
  std::vector<size_t> counts;
  for (const auto& [item, count] : per_item) counts.push_back(count);
  std::sort(counts.rbegin(), counts.rend());
  const size_t top = std::min(counts.size(), catalog / 10);
  size_t top_events = 0;
  for (size_t i = 0; i < top; ++i) top_events += counts[i];
  CHECK(static_cast<double>(top_events) > 0.4 * static_cast<double>(with_item));

  // Users like 1-3 of 20 genres: their three most frequent genres carry
  // most of their events (exploration and drift take the rest).
  size_t in_top_genres = 0, total = 0;
  for (const auto& [user, genres] : genres_of_user) {
    std::vector<size_t> by_genre;
    for (const auto& [genre, count] : genres) by_genre.push_back(count);
    std::sort(by_genre.rbegin(), by_genre.rend());
    for (size_t i = 0; i < by_genre.size(); ++i) {
      if (i < 3) in_top_genres += by_genre[i];
      total += by_genre[i];
    }
  }
  CHECK(static_cast<double>(in_top_genres) > 0.8 * static_cast<double>(total));
}

TEST_CASE("demo catalog records come before events about an item, and withdrawn items go quiet", "[apps]") {
  DemoFeed feed({.seed = 9, .new_item_every = 100, .withdraw_every = 300});
  std::set<std::string> available, withdrawn;
  for (const FeedRecord& record : feed.InitialCatalog()) {
    auto item = schemas::ParseItem(record.value);
    REQUIRE(std::holds_alternative<schemas::Item>(item));
    CHECK(record.key == std::get<schemas::Item>(item).item_id);
    CHECK(std::get<schemas::Item>(item).available);
    CHECK(std::get<schemas::Item>(item).tags.size() == 1);
    available.insert(record.key);
  }
  CHECK(available.size() == 5000);
  size_t arrivals = 0, withdrawals = 0;
  for (const FeedRecord& record : Generate(feed, 30000)) {
    if (record.topic == FeedTopic::kItems) {
      const auto item = std::get<schemas::Item>(schemas::ParseItem(record.value));
      if (item.available) {
        ++arrivals;
        CHECK(available.insert(item.item_id).second);
      } else {
        ++withdrawals;
        CHECK(available.erase(item.item_id) == 1);
        withdrawn.insert(item.item_id);
      }
      continue;
    }
    if (record.malformed) continue;
    const auto event = std::get<schemas::Event>(schemas::ParseEvent(record.value));
    if (event.type == EventType::kForget) continue;
    INFO(event.item_id);
    CHECK(available.contains(event.item_id));
  }
  CHECK(arrivals >= 250);
  CHECK(withdrawals >= 80);
}

}  // namespace
}  // namespace streamrec::apps
