#include "demo_feed.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "streamrec/schemas/codec.h"

namespace streamrec::apps {
namespace {

using schemas::EventType;

constexpr std::array<std::string_view, 20> kGenres = {
    "jazz",   "rock",    "classical", "hiphop", "scifi", "fantasy", "crime",   "romance", "cooking", "travel",
    "hiking", "running", "cycling",   "gaming", "anime", "history", "science", "design",  "garden",  "photo"};

// The funnel in order, and the chance of going from each stage to the next
// with the same item; the rest of the time the user looks at another item.
constexpr std::array<EventType, 4> kFunnel = {EventType::kView, EventType::kClick, EventType::kAddToCart,
                                              EventType::kPurchase};
constexpr std::array<double, 3> kAdvance = {0.35, 0.4, 0.5};
// Chance that a session ends after an action (about 7 actions each).
constexpr double kSessionEnd = 0.15;
// Chance that a user looks beyond the liked genres, at any popular item.
constexpr double kExplore = 0.1;
// Chance that a just-viewed item of a genre the user does not like is
// disliked.
constexpr double kDislike = 0.2;
// A new item gets the popularity of a rank drawn below this: new arrivals
// draw attention, which makes them visible in lists soon.
constexpr int kNewItemRanks = 50;
constexpr int kMalformedKinds = 7;

}  // namespace

DemoFeed::DemoFeed(const DemoFeedOptions& options) : options_(options), rng_(options.seed) {
  // Bad sizes are the caller's bug; clamping keeps every draw below defined.
  options_.users = std::max(1, options_.users);
  options_.items = std::max(1, options_.items);
  options_.genres = std::clamp(options_.genres, 1, static_cast<int>(kGenres.size()));
  options_.concurrent_sessions = std::max(1, options_.concurrent_sessions);
  options_.new_item_every = std::max(1, options_.new_item_every);
  options_.withdraw_every = std::max(1, options_.withdraw_every);
  options_.drift_every = std::max(1, options_.drift_every);

  by_genre_.resize(static_cast<size_t>(options_.genres));
  next_number_.assign(static_cast<size_t>(options_.genres), 0);
  // Popularity ranks are a random permutation (Fisher-Yates by hand:
  // std::shuffle's algorithm differs between standard libraries, and the
  // feed must not).
  std::vector<int> ranks(static_cast<size_t>(options_.items));
  for (size_t i = 0; i < ranks.size(); ++i) ranks[i] = static_cast<int>(i);
  for (size_t i = ranks.size() - 1; i > 0; --i) {
    std::swap(ranks[i], ranks[static_cast<size_t>(UniformInt(static_cast<int>(i) + 1))]);
  }
  for (int rank : ranks) AddItem(UniformInt(options_.genres), RankWeight(rank));

  users_.resize(static_cast<size_t>(options_.users));
  for (User& user : users_) {
    const int liked = 1 + UniformInt(std::min(3, options_.genres));
    while (static_cast<int>(user.genres.size()) < liked) {
      const int genre = UniformInt(options_.genres);
      if (std::find(user.genres.begin(), user.genres.end(), genre) == user.genres.end()) {
        user.genres.push_back(genre);
      }
    }
  }
  sessions_.resize(static_cast<size_t>(options_.concurrent_sessions));
  next_arrival_ = static_cast<uint64_t>(options_.new_item_every);
  next_withdrawal_ = static_cast<uint64_t>(options_.withdraw_every);
  next_drift_ = static_cast<uint64_t>(options_.drift_every);
}

double DemoFeed::Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int DemoFeed::UniformInt(int n) { return static_cast<int>(Uniform() * n); }

double DemoFeed::RankWeight(int rank) const { return std::pow(rank + 1.0, -options_.zipf_exponent); }

void DemoFeed::Rebuild(Sampler& sampler) const {
  // Unavailable items leave the sampler, so no draw can land on them.
  std::erase_if(sampler.items, [&](int item) { return items_[static_cast<size_t>(item)].weight <= 0; });
  sampler.cumulative.clear();
  double sum = 0;
  for (int item : sampler.items)
    sampler.cumulative.push_back(sum += items_[static_cast<size_t>(item)].weight);
}

int DemoFeed::SampleItem(const Sampler& sampler) {
  const double x = Uniform() * sampler.cumulative.back();
  const auto it = std::upper_bound(sampler.cumulative.begin(), sampler.cumulative.end(), x);
  // Rounding can put x on the total itself.
  const size_t index =
      std::min(static_cast<size_t>(it - sampler.cumulative.begin()), sampler.items.size() - 1);
  return sampler.items[index];
}

int DemoFeed::PickItemFor(const User& user) {
  const Sampler& genre = by_genre_[static_cast<size_t>(
      user.genres[static_cast<size_t>(UniformInt(static_cast<int>(user.genres.size())))])];
  return SampleItem(genre.items.empty() || Uniform() < kExplore ? all_ : genre);
}

int DemoFeed::AddItem(int genre, double weight) {
  const int item = static_cast<int>(items_.size());
  items_.push_back(
      {fmt::format("{}-{}", kGenres[static_cast<size_t>(genre)], next_number_[static_cast<size_t>(genre)]++),
       genre, weight});
  // Appending keeps the prefix sums valid: only the new total is added.
  for (Sampler* sampler : {&by_genre_[static_cast<size_t>(genre)], &all_}) {
    sampler->items.push_back(item);
    sampler->cumulative.push_back((sampler->cumulative.empty() ? 0 : sampler->cumulative.back()) + weight);
  }
  return item;
}

FeedRecord DemoFeed::ItemRecord(int item) const {
  const Item& entry = items_[static_cast<size_t>(item)];
  schemas::Item record;
  record.item_id = entry.id;
  record.available = entry.weight > 0;
  const std::string_view genre = kGenres[static_cast<size_t>(entry.genre)];
  record.title = fmt::format("{}{} #{}", static_cast<char>(std::toupper(genre[0])), genre.substr(1),
                             entry.id.substr(genre.size() + 1));
  record.tags = {std::string(genre)};
  return {FeedTopic::kItems, entry.id, schemas::SerializeItem(record), false};
}

std::vector<FeedRecord> DemoFeed::InitialCatalog() const {
  std::vector<FeedRecord> records;
  records.reserve(static_cast<size_t>(options_.items));
  for (int item = 0; item < options_.items; ++item) records.push_back(ItemRecord(item));
  return records;
}

FeedRecord DemoFeed::EventRecord(int user, int item, EventType type, int64_t now_ms) {
  schemas::Event event;
  event.user_id = fmt::format("u{}", user);
  if (item >= 0) event.item_id = items_[static_cast<size_t>(item)].id;
  event.type = type;
  event.ts_ms = now_ms;
  event.event_id = fmt::format("{:x}-{}", options_.seed, next_event_id_++);
  return {FeedTopic::kEvents, event.user_id, schemas::SerializeEvent(event), false};
}

FeedRecord DemoFeed::Malformed(int user, int64_t now_ms) {
  const std::string user_id = fmt::format("u{}", user);
  const std::string& item_id = items_[static_cast<size_t>(SampleItem(all_))].id;
  std::string value;
  switch (UniformInt(kMalformedKinds)) {
    case 0: {  // cut short, as by a crashed writer
      const std::string whole =
          fmt::format(R"({{"user_id":"{}","item_id":"{}","type":"view","ts":{}}})", user_id, item_id, now_ms);
      value = whole.substr(0, whole.size() / 2);
      break;
    }
    case 1:
      value = fmt::format(R"({{"item_id":"{}","type":"view","ts":{}}})", item_id, now_ms);
      break;
    case 2:
      value = fmt::format(R"({{"user_id":"{}","item_id":"{}","type":"teleport","ts":{}}})", user_id, item_id,
                          now_ms);
      break;
    case 3:  // JSON has no NaN; an overflowing number is the non-finite value it can carry
      value = fmt::format(R"({{"user_id":"{}","item_id":"{}","type":"rating","ts":{},"value":1e999}})",
                          user_id, item_id, now_ms);
      break;
    case 4:  // seconds where milliseconds belong
      value = fmt::format(R"({{"user_id":"{}","item_id":"{}","type":"click","ts":{}}})", user_id, item_id,
                          now_ms / 1000);
      break;
    case 5:
      value = fmt::format(R"({{"user_id":"{}","item_id":"{}","type":"click","ts":"now"}})", user_id, item_id);
      break;
    default:
      value = fmt::format(R"({{"user_id":"{}","item_id":"","type":"purchase","ts":{}}})", user_id, now_ms);
      break;
  }
  return {FeedTopic::kEvents, user_id, std::move(value), true};
}

void DemoFeed::Drift() {
  User& user = users_[static_cast<size_t>(UniformInt(options_.users))];
  const int genre = UniformInt(options_.genres);
  // Drawing a genre the user already likes leaves the taste as it is.
  if (std::find(user.genres.begin(), user.genres.end(), genre) != user.genres.end()) return;
  user.genres[static_cast<size_t>(UniformInt(static_cast<int>(user.genres.size())))] = genre;
}

FeedRecord DemoFeed::SessionStep(Session& session, int64_t now_ms) {
  const User& user = users_[static_cast<size_t>(session.user)];
  if (session.item >= 0 && items_[static_cast<size_t>(session.item)].weight > 0) {
    const int genre = items_[static_cast<size_t>(session.item)].genre;
    const bool liked = std::find(user.genres.begin(), user.genres.end(), genre) != user.genres.end();
    if (!liked && session.stage == 0 && Uniform() < kDislike) {
      const int item = std::exchange(session.item, -1);
      return EventRecord(session.user, item, EventType::kDislike, now_ms);
    }
    if (session.stage + 1 < static_cast<int>(kFunnel.size()) &&
        Uniform() < kAdvance[static_cast<size_t>(session.stage)]) {
      ++session.stage;
      return EventRecord(session.user, session.item, kFunnel[static_cast<size_t>(session.stage)], now_ms);
    }
  }
  session.item = PickItemFor(user);
  session.stage = 0;
  return EventRecord(session.user, session.item, kFunnel[0], now_ms);
}

FeedRecord DemoFeed::Next(int64_t now_ms) {
  if (events_ >= next_arrival_) {
    next_arrival_ += static_cast<uint64_t>(options_.new_item_every);
    const int genre = UniformInt(options_.genres);
    const int item = AddItem(genre, RankWeight(UniformInt(kNewItemRanks)));
    return ItemRecord(item);
  }
  // Keeps at least one item to sample from.
  if (events_ >= next_withdrawal_ && all_.items.size() > 1) {
    next_withdrawal_ += static_cast<uint64_t>(options_.withdraw_every);
    const int item = SampleItem(all_);
    items_[static_cast<size_t>(item)].weight = 0;
    Rebuild(by_genre_[static_cast<size_t>(items_[static_cast<size_t>(item)].genre)]);
    Rebuild(all_);
    return ItemRecord(item);
  }
  if (events_ >= next_drift_) {
    next_drift_ += static_cast<uint64_t>(options_.drift_every);
    Drift();
  }

  ++events_;
  Session& session = sessions_[static_cast<size_t>(UniformInt(options_.concurrent_sessions))];
  if (session.user < 0) {
    session = {UniformInt(options_.users), -1, 0};
    if (Uniform() < options_.forget_share) {
      const int user = std::exchange(session.user, -1);
      return EventRecord(user, -1, EventType::kForget, now_ms);
    }
  }
  if (Uniform() < options_.malformed_share) return Malformed(session.user, now_ms);
  FeedRecord record = SessionStep(session, now_ms);
  if (Uniform() < kSessionEnd) session.user = -1;
  return record;
}

}  // namespace streamrec::apps
