#include <catch2/catch.hpp>

#include "streamrec/online_learner/baselines.h"

namespace streamrec::online_learner {
namespace {

using schemas::EventType;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kDay = 24LL * 3600 * 1000;

Interaction Click(uint32_t u, uint32_t i, int64_t ts = kT0) {
  return {UserIndex(u), ItemIndex(i), u, i, EventType::kClick, ts, std::nullopt};
}

void Announce(Recommender& r, uint32_t users, uint32_t items) {
  for (uint32_t u = 0; u < users; ++u) r.AddUser(UserIndex(u), u);
  for (uint32_t i = 0; i < items; ++i) r.AddItem(ItemIndex(i), i);
}

TEST_CASE("popularity counts interest events only", "[online_learner]") {
  auto pop = MakePopularity();
  Announce(*pop, 3, 3);
  pop->Learn(Click(0, 2));
  pop->Learn(Click(1, 2));
  pop->Learn(Click(2, 1));
  Interaction impression = Click(0, 0);
  impression.type = EventType::kImpression;
  pop->Learn(impression);
  std::vector<float> s(3);
  pop->Score(UserIndex(0), kT0, s);
  CHECK(s == std::vector<float>{0, 1, 2});
}

TEST_CASE("decayed popularity prefers what is popular now", "[online_learner]") {
  PopularityDecayOptions o;
  o.half_life_ms = kDay;
  auto pop = MakePopularityDecay(o);
  Announce(*pop, 1, 2);
  for (int k = 0; k < 4; ++k) pop->Learn(Click(0, 0, kT0));  // 4 long ago
  pop->Learn(Click(0, 1, kT0 + 5 * kDay));                 // 1 just now
  std::vector<float> s(2);
  pop->Score(UserIndex(0), kT0 + 5 * kDay, s);
  CHECK(s[0] == Approx(4.0 / 32).epsilon(1e-4));
  CHECK(s[1] == Approx(1.0));
  CHECK(s[1] > s[0]);
}

TEST_CASE("item-kNN ranks co-occurring items first", "[online_learner]") {
  ItemKnnOptions o;
  auto knn = MakeItemKnn(o);
  Announce(*knn, 4, 4);
  // Users 0-2 take 0 then 1; item 3 is popular but never with 0.
  for (uint32_t u = 0; u < 3; ++u) {
    knn->Learn(Click(u, 0));
    knn->Learn(Click(u, 1));
  }
  for (int k = 0; k < 5; ++k) knn->Learn(Click(3, 3));
  knn->AddUser(UserIndex(4), 4);
  knn->Learn(Click(4, 0));
  std::vector<float> s(4);
  knn->Score(UserIndex(4), kT0, s);
  CHECK(s[1] > s[3]);
  // A user without history falls back to popularity for tie-breaking.
  knn->AddUser(UserIndex(5), 5);
  knn->Score(UserIndex(5), kT0, s);
  CHECK(s[3] > s[2]);
  CHECK(s[3] < 0.01f);
}

}  // namespace
}  // namespace streamrec::online_learner
