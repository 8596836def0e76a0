// Expiry (learner.user_ttl, learner.item_retire): idle users and
// long-unavailable items leave the learner, in stream time.

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "streamrec/online_learner/evaluation.h"
#include "streamrec/online_learner/expiry.h"
#include "streamrec/online_learner/learner.h"

namespace streamrec::online_learner {
namespace {

using schemas::Event;
using schemas::EventType;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

IsgdOptions Small() {
  IsgdOptions o;
  o.dim = 8;
  o.negatives = 2;
  return o;
}

ExpiryOptions Ttl(int64_t user_ttl_ms, int64_t item_retire_ms = 0) {
  ExpiryOptions o;
  o.user_ttl_ms = user_ttl_ms;
  o.item_retire_ms = item_retire_ms;
  return o;
}

Event Click(std::string user, std::string item, int64_t ts) {
  return {std::move(user), std::move(item), EventType::kClick, ts, std::nullopt, std::nullopt};
}

std::vector<std::string> Ids(const std::vector<Learner::ExpiredUser>& users) {
  std::vector<std::string> ids;
  for (const auto& u : users) ids.push_back(u.id);
  return ids;
}

TEST_CASE("the expiry clock scans once per period of stream time", "[online_learner][expiry]") {
  ExpiryClock off(Ttl(0));
  CHECK_FALSE(off.Advance(kT0));
  CHECK(off.stream_time_ms() == kT0);

  ExpiryClock clock(Ttl(kHour));
  CHECK(clock.ScanPeriodMs() == kHour / 8);
  CHECK(clock.Advance(kT0));  // first stream time: a scan
  CHECK_FALSE(clock.Advance(kT0 + 1));
  CHECK_FALSE(clock.Advance(kT0 - kHour));  // older events do not move stream time
  CHECK(clock.stream_time_ms() == kT0 + 1);
  const int64_t next_period = (kT0 / clock.ScanPeriodMs() + 1) * clock.ScanPeriodMs();
  CHECK_FALSE(clock.Advance(next_period - 1));
  CHECK(clock.Advance(next_period));
  CHECK(clock.UserDue(next_period - kHour - 1));
  CHECK_FALSE(clock.UserDue(next_period - kHour));
  CHECK_FALSE(clock.ItemDue(0));  // item retirement off

  // Bounds: a tiny TTL still scans at most once a second, a huge one at
  // least once an hour.
  CHECK(ExpiryClock(Ttl(10)).ScanPeriodMs() == 1000);
  CHECK(ExpiryClock(Ttl(30 * 24 * kHour)).ScanPeriodMs() == kHour);
  CHECK(ExpiryClock(Ttl(0, 16 * kMinute)).ScanPeriodMs() == 2 * kMinute);
}

TEST_CASE("a user idle longer than the TTL is gone after the next events, an active one stays",
          "[online_learner][expiry]") {
  Learner learner(Small(), 100, Ttl(kHour));
  learner.Apply(Click("idle", "a", kT0));
  const UserIndex idle_index(*learner.users().Find("idle"));
  // "active" clicks every 10 minutes of stream time for two hours.
  bool gone_early = false;
  std::vector<Learner::ExpiredUser> expired;
  for (int64_t t = kT0; t <= kT0 + 2 * kHour; t += 10 * kMinute) {
    learner.Apply(Click("active", t % 2 ? "a" : "b", t));
    if (t <= kT0 + kHour && !learner.users().Find("idle")) gone_early = true;
    for (auto& e : learner.TakeExpiredUsers()) expired.push_back(std::move(e));
  }
  CHECK_FALSE(gone_early);  // never before its TTL
  CHECK_FALSE(learner.users().Find("idle").has_value());
  REQUIRE(learner.users().Find("active").has_value());
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == "idle");
  CHECK(expired[0].index == idle_index);
  CHECK(learner.users().live_count() == 1);
  // The slot is wiped like a forget's: no history left in it.
  CHECK(learner.model().SeenItems(idle_index).empty());
  CHECK(learner.model().ExportUser(idle_index).event_count == 0);

  // A returning user starts afresh, in the freed slot (indices are reused
  // under a TTL, so the model stays as large as the users live at once).
  learner.Apply(Click("newcomer", "a", kT0 + 2 * kHour + 1));
  CHECK(*learner.users().Find("newcomer") == idle_index.value());
  CHECK(learner.users().size() == 2);
}

TEST_CASE("expiry follows stream time, never the wall clock", "[online_learner][expiry]") {
  // Events from 2001 with a one-second TTL: against the wall clock every
  // user would be decades idle; in stream time nobody is.
  constexpr int64_t k2001 = 978'307'200'000;
  Learner learner(Small(), 100, Ttl(1000));
  for (int k = 0; k < 5; ++k) learner.Apply(Click("u" + std::to_string(k), "i", k2001 + k * 100));
  CHECK(learner.TakeExpiredUsers().empty());
  CHECK(learner.users().live_count() == 5);
  // Two seconds of stream time later, all but the newcomer are idle.
  learner.Apply(Click("late", "i", k2001 + 2500));
  CHECK(Ids(learner.TakeExpiredUsers()) == std::vector<std::string>{"u0", "u1", "u2", "u3", "u4"});
  CHECK(learner.users().live_count() == 1);
  CHECK(learner.expiry().stream_time_ms() == k2001 + 2500);
}

TEST_CASE("user TTL 0 (the default) never expires and never reuses indices", "[online_learner][expiry]") {
  Learner learner(Small(), 100);
  learner.Apply(Click("old", "a", kT0));
  learner.Apply(Click("new", "a", kT0 + 3650LL * 24 * kHour));
  CHECK(learner.TakeExpiredUsers().empty());
  CHECK(learner.users().live_count() == 2);
  learner.Apply({"old", "", EventType::kForget, kT0 + 3650LL * 24 * kHour, std::nullopt, std::nullopt});
  learner.Apply(Click("third", "a", kT0 + 3650LL * 24 * kHour));
  CHECK(*learner.users().Find("third") == 2);
}

TEST_CASE("an expired user is removed exactly as a forget removes it", "[online_learner][expiry]") {
  // Same events; one learner expires "u", the other (no TTL) is told to
  // forget it at the same point. Everything after must be equal.
  Learner expiring(Small(), 100, Ttl(kHour));
  Learner forgetting(Small(), 100);
  std::vector<Event> before = {Click("u", "a", kT0), Click("u", "b", kT0 + 1), Click("v", "a", kT0 + 2)};
  for (const Event& e : before) {
    expiring.Apply(e);
    forgetting.Apply(e);
  }
  // v keeps clicking until u is expired.
  int64_t t = kT0 + 2;
  while (expiring.users().Find("u")) {
    t += 5 * kMinute;
    const Event e = Click("v", "b", t);
    expiring.Apply(e);
    if (!expiring.users().Find("u")) {
      forgetting.Apply({"u", "", EventType::kForget, t, std::nullopt, std::nullopt});
    }
    forgetting.Apply(e);
    REQUIRE(t < kT0 + 3 * kHour);
  }
  const std::vector<Event> after = {Click("u", "a", t + 1), Click("u", "c", t + 2), Click("v", "c", t + 3)};
  for (const Event& e : after) {
    expiring.Apply(e);
    forgetting.Apply(e);
  }
  for (const char* id : {"u", "v"}) {
    INFO(id);
    CHECK(expiring.model().ExportUser(UserIndex(*expiring.users().Find(id))) ==
          forgetting.model().ExportUser(UserIndex(*forgetting.users().Find(id))));
  }
  CHECK(expiring.model().ExportUser(UserIndex(*expiring.users().Find("u"))).event_count == 2);
  REQUIRE(expiring.items().size() == forgetting.items().size());
  for (uint32_t i = 0; i < expiring.items().size(); ++i) {
    CHECK(expiring.model().ExportItem(ItemIndex(i)) == forgetting.model().ExportItem(ItemIndex(i)));
  }
}

// Users arrive in waves over simulated days; each is active for a while,
// then stops.
std::vector<Event> Waves(int users, int64_t span_ms) {
  std::vector<Event> events;
  for (int k = 0; k < 40 * users; ++k) {
    const int64_t ts = kT0 + span_ms * k / (40 * users);
    const int wave = static_cast<int>(k * 8 / (40 * users));  // 8 waves of users
    const int u = wave * (users / 8) + (k * 7919) % (users / 8);
    events.push_back({"user-" + std::to_string(u), "sku-" + std::to_string((k * 31 + u) % 50),
                      k % 5 == 0 ? EventType::kPurchase : EventType::kView, ts, std::nullopt, std::nullopt});
  }
  return events;
}

TEST_CASE("evaluate and the Learner expire the same users and reach the same model", "[online_learner][expiry]") {
  const ExpiryOptions ttl = Ttl(24 * kHour);
  const std::vector<Event> events = Waves(160, 16 * 24 * kHour);  // a wave every two days

  Learner learner(Small(), 1000, ttl);
  uint64_t expired = 0;
  size_t most_live = 0;
  for (const Event& e : events) {
    learner.Apply(e);
    expired += learner.TakeExpiredUsers().size();
    most_live = std::max(most_live, learner.users().live_count());
  }

  IsgdModel model(Small());
  IdMap users(/*reuse_erased=*/true), items;
  EvaluationOptions options;
  options.dedup_window = 1000;
  options.expiry = ttl;
  const EvaluationReport report = Evaluate(events, {&model}, options, users, items);

  CHECK(expired > 100);
  CHECK(report.expired_users == expired);
  CHECK(report.stream_time_ms == learner.expiry().stream_time_ms());
  // Bounded: index space no larger than the most users live at once plus
  // one wave, far below the 160 users seen.
  CHECK(learner.users().size() < 80);
  CHECK(learner.users().size() >= most_live);
  REQUIRE(users.size() == learner.users().size());
  for (uint32_t u = 0; u < users.size(); ++u) {
    REQUIRE(users.Name(u) == learner.users().Name(u));
    if (users.Name(u).empty()) continue;
    INFO(users.Name(u));
    CHECK(model.ExportUser(UserIndex(u)) == learner.model().ExportUser(UserIndex(u)));
  }
  REQUIRE(items.size() == learner.items().size());
  for (uint32_t i = 0; i < items.size(); ++i) {
    CHECK(model.ExportItem(ItemIndex(i)) == learner.model().ExportItem(ItemIndex(i)));
  }
}

TEST_CASE("an item unavailable longer than item_retire is retired, an available one stays",
          "[online_learner][expiry]") {
  Learner learner(Small(), 100, Ttl(0, kHour));
  learner.Apply(Click("u", "gone", kT0));
  learner.Apply(Click("u", "kept", kT0));
  const ItemIndex gone(*learner.items().Find("gone"));
  learner.ApplyItem({"gone", false, {}, {}, {}});
  bool retired_early = false;
  std::vector<std::string> retired;
  for (int64_t t = kT0; t <= kT0 + 2 * kHour; t += 10 * kMinute) {
    learner.Apply(Click("w", "other", t));
    if (t <= kT0 + kHour && !learner.items().Find("gone")) retired_early = true;
    for (auto& id : learner.TakeRetiredItems()) retired.push_back(std::move(id));
  }
  CHECK_FALSE(retired_early);
  CHECK(retired == std::vector<std::string>{"gone"});
  CHECK_FALSE(learner.items().Find("gone").has_value());
  CHECK(learner.items().Find("kept").has_value());  // available: never retired
  CHECK(learner.model().IsRetired(gone));
  CHECK_FALSE(learner.model().IsAvailable(gone));
  const ItemRow row = learner.model().ExportItem(gone);
  CHECK(std::all_of(row.factors.begin(), row.factors.end(), [](float f) { return f == 0.f; }));
  CHECK(std::all_of(row.context.begin(), row.context.end(), [](float f) { return f == 0.f; }));
  CHECK(row.bias == 0.f);
  // The user who had it keeps its index in the seen list (its slot is not
  // reused); announced again, the item is a new one in a new slot.
  const auto seen = learner.model().SeenItems(UserIndex(*learner.users().Find("u")));
  CHECK(std::find(seen.begin(), seen.end(), gone.value()) != seen.end());
  learner.ApplyItem({"gone", true, {}, {}, {}});
  REQUIRE(learner.items().Find("gone").has_value());
  CHECK(*learner.items().Find("gone") != gone.value());
  CHECK(learner.model().IsAvailable(ItemIndex(*learner.items().Find("gone"))));
}

}  // namespace
}  // namespace streamrec::online_learner
