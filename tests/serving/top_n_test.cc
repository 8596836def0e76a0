#include <algorithm>

#include <catch2/catch.hpp>

#include "streamrec/base/hash.h"
#include "streamrec/online_learner/id_map.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::serving {
namespace {

using online_learner::IsgdModel;
using online_learner::IsgdOptions;

// A model trained on random clicks: 30 users over `items` items.
IsgdModel Trained(uint32_t items, uint64_t seed, int dim = 16) {
  IsgdOptions o;
  o.dim = dim;
  o.negatives = 4;
  IsgdModel model(o);
  for (uint32_t u = 0; u < 30; ++u) model.AddUser(UserIndex(u), Mix64(u));
  for (uint32_t i = 0; i < items; ++i) model.AddItem(ItemIndex(i), Mix64(1000 + i));
  CounterRng rng(seed);
  for (int k = 0; k < 3000; ++k) {
    const uint32_t u = rng.NextBelow(30);
    const uint32_t i = rng.NextBelow(items);
    model.Learn({UserIndex(u), ItemIndex(i), Mix64(u), Mix64(1000 + i), schemas::EventType::kClick, k, std::nullopt});
  }
  return model;
}

// The reference: score everything, drop seen and unavailable, sort.
std::vector<ScoredIndex> BruteForce(const IsgdModel& model, UserIndex user, uint32_t n) {
  std::vector<float> scores(model.NumItems());
  model.Score(user, 0, scores);
  const auto seen = model.SeenItems(user);
  std::vector<ScoredIndex> all;
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (!model.IsAvailable(ItemIndex(i)) || std::binary_search(seen.begin(), seen.end(), i)) continue;
    all.push_back({ItemIndex(i), scores[i]});
  }
  std::sort(all.begin(), all.end(), [](const ScoredIndex& a, const ScoredIndex& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  });
  all.resize(std::min<size_t>(n, all.size()));
  return all;
}

TEST_CASE("batched top-N equals brute force, seen and unavailable excluded", "[serving]") {
  // More items than one GEMM block, so block boundaries are crossed.
  // A dim that is not a multiple of the 8 floats of a vector register too.
  const int dim = GENERATE(16, 21);
  IsgdModel model = Trained(5000, 3, dim);
  model.SetAvailable(ItemIndex(17), false);
  // One user (matrix-vector), a few (SmallBatchScores, in tiles of 4 users
  // plus a remainder of 1 to 3), many (GEMM).
  const uint32_t batch = GENERATE(1u, 2u, 3u, 5u, 7u, 16u, 30u);
  INFO("batch of " << batch << ", dim " << dim);
  std::vector<UserIndex> users;
  for (uint32_t u = 0; u < batch; ++u) users.emplace_back(u);
  const auto lists = TopN(model, users, 10);
  REQUIRE(lists.size() == users.size());
  for (const UserList& list : lists) {
    INFO("user " << list.user.value());
    REQUIRE_FALSE(list.cold);
    const auto expected = BruteForce(model, list.user, 10);
    REQUIRE(list.items.size() == 10);
    for (size_t k = 0; k < 10; ++k) {
      CHECK(list.items[k].item == expected[k].item);
      CHECK(list.items[k].score == Approx(expected[k].score).margin(1e-5));
    }
    const auto seen = model.SeenItems(list.user);
    for (const auto& s : list.items) {
      CHECK_FALSE(std::binary_search(seen.begin(), seen.end(), s.item.value()));
      CHECK(s.item != ItemIndex(17));
    }
  }
}

TEST_CASE("cold users get the most popular unseen items", "[serving]") {
  IsgdModel model = Trained(50, 5);
  model.AddUser(UserIndex(30), Mix64(30));
  const std::vector<UserIndex> users = {UserIndex(30)};
  const auto lists = TopN(model, users, 5);
  REQUIRE(lists[0].cold);
  REQUIRE(lists[0].items.size() == 5);
  for (size_t k = 1; k < 5; ++k) CHECK(lists[0].items[k - 1].score >= lists[0].items[k].score);
  uint32_t best = 0;
  for (uint32_t i = 0; i < 50; ++i) best = std::max(best, model.ItemCount(ItemIndex(i)));
  CHECK(lists[0].items[0].score == static_cast<float>(best));
}

TEST_CASE("a list is shorter when few items remain", "[serving]") {
  IsgdModel model = Trained(3, 9);
  const std::vector<UserIndex> users = {UserIndex(0)};
  const auto lists = TopN(model, users, 10);
  CHECK(lists[0].items.size() <= 3);
}

// The refresher's copy of the items, filled from the model's rows, with the
// users' queries taken from the model: the same lists as on the model.
TEST_CASE("top-N on an item snapshot equals top-N on the model", "[serving]") {
  IsgdModel model = Trained(3000, 11);
  model.SetAvailable(ItemIndex(5), false);
  model.AddUser(UserIndex(30), Mix64(30));  // cold
  ItemSnapshot snapshot(model.dim());
  // In reverse, so the snapshot grows from its last row first.
  for (uint32_t i = model.NumItems(); i-- > 0;) {
    const auto row = model.ExportItem(ItemIndex(i));
    snapshot.Apply({ItemIndex(i), "i" + std::to_string(i), row.bias, row.count, row.available, row.factors});
  }
  REQUIRE(snapshot.NumItems() == model.NumItems());
  CHECK(snapshot.Name(ItemIndex(7)) == "i7");

  std::vector<UserIndex> users;
  for (uint32_t u = 0; u <= 30; ++u) users.emplace_back(u);
  std::vector<std::vector<float>> vectors(users.size(), std::vector<float>(static_cast<size_t>(model.dim())));
  std::vector<UserQuery> queries;
  for (size_t k = 0; k < users.size(); ++k) {
    const bool cold = model.IsCold(users[k]);
    if (!cold) model.EffectiveUserVector(users[k], vectors[k]);
    queries.push_back({users[k], cold, vectors[k], model.SeenItems(users[k])});
  }
  const auto on_model = TopN(model, users, 10);
  const auto on_snapshot = TopN(snapshot, queries, 10);
  REQUIRE(on_snapshot.size() == on_model.size());
  for (size_t k = 0; k < users.size(); ++k) {
    INFO("user " << k);
    CHECK(on_snapshot[k].cold == on_model[k].cold);
    CHECK(on_snapshot[k].items == on_model[k].items);
  }
  CHECK(on_snapshot.back().cold);
}

}  // namespace
}  // namespace streamrec::serving
