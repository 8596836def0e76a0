#include <algorithm>
#include <cmath>
#include <deque>
#include <random>

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

// The refresher's copy of the model's items, filled in reverse so that it
// grows from its last row first.
ItemSnapshot SnapshotOf(const IsgdModel& model, bool quantized) {
  ItemSnapshot snapshot(model.dim(), quantized);
  for (uint32_t i = model.NumItems(); i-- > 0;) {
    const auto row = model.ExportItem(ItemIndex(i));
    snapshot.Apply({ItemIndex(i), "i" + std::to_string(i), row.bias, row.count, row.available, row.factors});
  }
  return snapshot;
}

// Users 0..30's queries, taken from the model as the pipeline takes them.
struct ModelQueries {
  std::vector<UserIndex> users;
  std::vector<std::vector<float>> vectors;
  std::vector<UserQuery> queries;

  explicit ModelQueries(const IsgdModel& model) {
    for (uint32_t u = 0; u <= 30; ++u) users.emplace_back(u);
    vectors.assign(users.size(), std::vector<float>(static_cast<size_t>(model.dim())));
    for (size_t k = 0; k < users.size(); ++k) {
      const bool cold = model.IsCold(users[k]);
      if (!cold) model.EffectiveUserVector(users[k], vectors[k]);
      queries.push_back({users[k], cold, vectors[k], model.SeenItems(users[k])});
    }
  }
};

// The refresher's copy of the items, filled from the model's rows, with the
// users' queries taken from the model: the same lists as on the model.
TEST_CASE("top-N on an item snapshot equals top-N on the model", "[serving]") {
  IsgdModel model = Trained(3000, 11);
  model.SetAvailable(ItemIndex(5), false);
  model.AddUser(UserIndex(30), Mix64(30));  // cold
  const ItemSnapshot snapshot = SnapshotOf(model, /*quantized=*/false);
  REQUIRE(snapshot.NumItems() == model.NumItems());
  CHECK(snapshot.Name(ItemIndex(7)) == "i7");

  const ModelQueries q(model);
  const std::vector<UserIndex>& users = q.users;
  const std::vector<UserQuery>& queries = q.queries;
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


// serving.index=sq8: an item snapshot with its int8 copy. Items are random
// (normal) or clustered like learned vectors (a few directions plus noise,
// log-normal norms); small biases.
struct Sq8Catalog {
  static constexpr int kClusters = 8;
  int dim;
  bool clustered;
  ItemSnapshot snapshot;
  std::vector<std::vector<float>> centres;
  std::mt19937 rng;

  Sq8Catalog(uint32_t items, int d, bool c, uint32_t seed)
      : dim(d), clustered(c), snapshot(d, /*quantized=*/true), rng(seed) {
    std::normal_distribution<float> normal(0.f, 1.f);
    std::lognormal_distribution<float> norm(0.f, 0.3f);
    centres.assign(kClusters, std::vector<float>(static_cast<size_t>(dim)));
    for (auto& centre : centres) {
      for (float& x : centre) x = normal(rng);
    }
    for (uint32_t i = 0; i < items; ++i) {
      std::vector<float> row(static_cast<size_t>(dim));
      const float scale = clustered ? norm(rng) : 1.f;
      for (size_t k = 0; k < row.size(); ++k) {
        row[k] = clustered ? scale * (centres[i % kClusters][k] + 0.6f * normal(rng)) : normal(rng);
      }
      snapshot.Apply({ItemIndex(i), "i" + std::to_string(i), 0.3f * normal(rng), i % 7, true, std::move(row)});
    }
  }
  std::vector<float> Query() {
    std::normal_distribution<float> normal(0.f, 1.f);
    const auto& centre = centres[rng() % kClusters];
    std::vector<float> x(static_cast<size_t>(dim));
    for (size_t k = 0; k < x.size(); ++k) x[k] = clustered ? 0.5f * (centre[k] + 0.8f * normal(rng)) : normal(rng);
    return x;
  }
};

// Warm users' queries over vectors and seen lists kept here (a deque keeps
// them in place as users are added).
struct Sq8Users {
  std::deque<std::vector<float>> vectors;
  std::deque<std::vector<uint32_t>> seen;
  std::vector<UserQuery> queries;
  void Add(std::vector<float> vector, std::vector<uint32_t> seen_items = {}) {
    vectors.push_back(std::move(vector));
    seen.push_back(std::move(seen_items));
    queries.push_back({UserIndex(static_cast<uint32_t>(queries.size())), false, vectors.back(), seen.back()});
  }
};

// recall@n of the sq8 lists against exact ones (TopN, checked against brute
// force above).
double Sq8Recall(const std::vector<UserList>& approx, const std::vector<UserList>& exact) {
  REQUIRE(approx.size() == exact.size());
  ListOverlap overlap;
  for (size_t k = 0; k < exact.size(); ++k) overlap.Add(exact[k].items, approx[k].items);
  return overlap.recall();
}

TEST_CASE("list overlap: items of the exact lists the approximate ones hold, 1 before any list", "[serving]") {
  ListOverlap overlap;
  CHECK(overlap.recall() == 1.0);
  const std::vector<ScoredIndex> exact = {{ItemIndex(1), 3.f}, {ItemIndex(2), 2.f}, {ItemIndex(3), 1.f}};
  const std::vector<ScoredIndex> approximate = {{ItemIndex(3), 1.f}, {ItemIndex(9), 0.5f}, {ItemIndex(1), 3.f}};
  overlap.Add(exact, approximate);  // order does not matter: 1 and 3 found
  CHECK(overlap.hits == 2);
  CHECK(overlap.wanted == 3);
  overlap.Add(exact, {});
  CHECK(overlap.hits == 2);
  CHECK(overlap.wanted == 6);
  CHECK(overlap.recall() == Approx(2.0 / 6.0));
}

TEST_CASE("sq8 top-N: recall@10 >= 0.95 against exact, on random and clustered items", "[serving]") {
  const bool clustered = GENERATE(false, true);
  const int dim = GENERATE(16, 64);
  INFO((clustered ? "clustered" : "random") << " items, dim " << dim);
  Sq8Catalog catalog(20000, dim, clustered, 5);
  Sq8Users users;
  for (uint32_t u = 0; u < 100; ++u) users.Add(catalog.Query(), {u, u + 1000});
  const auto exact = TopN(catalog.snapshot, users.queries, 10);
  const auto sq8 = TopNQuantized(catalog.snapshot, users.queries, 10, 100);
  REQUIRE(sq8.size() == exact.size());
  for (size_t k = 0; k < sq8.size(); ++k) {
    REQUIRE(sq8[k].items.size() == 10);
    CHECK(sq8[k].user == exact[k].user);
    // Re-scored exactly: scores are exact, best first.
    for (size_t r = 1; r < 10; ++r) CHECK(sq8[k].items[r - 1].score >= sq8[k].items[r].score);
  }
  const double recall = Sq8Recall(sq8, exact);
  INFO("recall@10 " << recall);
  CHECK(recall >= 0.95);
}

TEST_CASE("sq8 top-N: the bound-sorted scan order changes no list, fresh or stale", "[serving]") {
  const bool clustered = GENERATE(false, true);
  INFO((clustered ? "clustered" : "random") << " items");
  // Twins: the same rows, one scanned in item order, one re-sorted.
  Sq8Catalog plain(20000, 32, clustered, 9);
  Sq8Catalog sorted(20000, 32, clustered, 9);
  Sq8Users users;
  for (uint32_t u = 0; u < 70; ++u) users.Add(plain.Query(), {u, u + 1000});
  const QuantizedItems& order = *sorted.snapshot.quantized();
  sorted.snapshot.RefreshScanOrder(1.f);
  REQUIRE(order.SetsSinceReorder() == 0);
  uint32_t moved = 0;
  for (uint32_t i = 0; i < 20000; ++i) moved += order.SlotOf(i) != i ? 1 : 0;
  CHECK(moved > 10000);
  const auto check_same_lists = [&] {
    Int8ScanWork plain_work;
    Int8ScanWork sorted_work;
    const auto expected = TopNQuantized(plain.snapshot, users.queries, 10, 50, &plain_work);
    const auto got = TopNQuantized(sorted.snapshot, users.queries, 10, 50, &sorted_work);
    REQUIRE(got.size() == expected.size());
    for (size_t k = 0; k < got.size(); ++k) CHECK(got[k].items == expected[k].items);
    // The same work or less; on clustered items (norms that differ) the
    // bound skips a good part of it.
    CHECK(sorted_work.full == plain_work.full);
    CHECK(sorted_work.scored <= plain_work.scored);
    CHECK(plain_work.skipped_share() >= 0);
    if (clustered) CHECK(sorted_work.skipped_share() > 0.1);
  };
  check_same_lists();
  // Rows moved after the sort (some far up, past the order's bound): the
  // stale order must still give the same lists.
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (uint32_t n = 0; n < 2000; ++n) {
    const uint32_t i = rng() % 20000;
    std::vector<float> row(32);
    for (float& x : row) x = (n % 10 == 0 ? 3.f : 0.5f) * normal(rng);
    const ItemUpdate update{ItemIndex(i), "", 0.3f * normal(rng) + (n % 50 == 0 ? 2.f : 0.f), 1, true, row};
    plain.snapshot.Apply(update);
    sorted.snapshot.Apply(update);
  }
  sorted.snapshot.RefreshScanOrder(1.f);  // not due yet: 2000 sets of 20000
  CHECK(order.SetsSinceReorder() == 2000);
  check_same_lists();
}

TEST_CASE("sq8 top-N: seen and unavailable items left out, cold users get popularity", "[serving]") {
  IsgdModel model = Trained(5000, 3);
  model.SetAvailable(ItemIndex(17), false);
  model.AddUser(UserIndex(30), Mix64(30));  // cold
  const ItemSnapshot snapshot = SnapshotOf(model, /*quantized=*/true);
  const ModelQueries q(model);
  const std::vector<UserIndex>& users = q.users;
  const std::vector<UserQuery>& queries = q.queries;
  const auto exact = TopN(snapshot, queries, 10);
  const auto sq8 = TopNQuantized(snapshot, queries, 10, 100);
  REQUIRE(sq8.back().cold);
  for (size_t k = 0; k < users.size(); ++k) {
    INFO("user " << k);
    CHECK(sq8[k].cold == exact[k].cold);
    if (sq8[k].cold) CHECK(sq8[k].items == exact[k].items);
    REQUIRE(sq8[k].items.size() == 10);
    for (const ScoredIndex& s : sq8[k].items) {
      CHECK_FALSE(std::binary_search(queries[k].seen.begin(), queries[k].seen.end(), s.item.value()));
      CHECK(s.item != ItemIndex(17));
    }
  }
  CHECK(Sq8Recall(sq8, exact) >= 0.95);
}

TEST_CASE("sq8 top-N: zero vectors, a huge-bias item, more wanted than there are items", "[serving]") {
  Sq8Catalog catalog(3000, 32, /*clustered=*/true, 9);
  Sq8Users users;
  for (int u = 0; u < 20; ++u) users.Add(catalog.Query());
  users.Add(std::vector<float>(32, 0.f));  // scale 0: ranked by bias alone
  const auto exact = TopN(catalog.snapshot, users.queries, 10);
  auto sq8 = TopNQuantized(catalog.snapshot, users.queries, 10, 100);
  CHECK(sq8.back().items == exact.back().items);
  CHECK(Sq8Recall(sq8, exact) >= 0.95);

  // A zero item row with a huge bias comes first for everyone.
  catalog.snapshot.Apply({ItemIndex(777), "", 1000.f, 1, true, std::vector<float>(32, 0.f)});
  sq8 = TopNQuantized(catalog.snapshot, users.queries, 10, 100);
  for (const UserList& list : sq8) {
    REQUIRE_FALSE(list.items.empty());
    CHECK(list.items.front().item == ItemIndex(777));
  }

  // Three items, one unavailable, one seen: a list of one.
  ItemSnapshot small(4, /*quantized=*/true);
  for (uint32_t i = 0; i < 3; ++i) small.Apply({ItemIndex(i), "", 0.f, 1, i != 1, {1.f, 0.5f * i, 0.f, 0.f}});
  Sq8Users few;
  few.Add({1.f, 1.f, 0.f, 0.f}, {2});
  const auto lists = TopNQuantized(small, few.queries, 10, 100);
  REQUIRE(lists[0].items.size() == 1);
  CHECK(lists[0].items[0].item == ItemIndex(0));
}

// Equal scores (zero rows, no bias) are ranked by the lower index, exact
// and sq8 alike.
TEST_CASE("top-N: equal scores come by lower index", "[serving]") {
  ItemSnapshot snapshot(8, /*quantized=*/true);
  for (uint32_t i = 0; i < 5000; ++i) snapshot.Apply({ItemIndex(i), "", 0.f, 1, i != 3, std::vector<float>(8, 0.f)});
  Sq8Users users;
  for (int u = 0; u < 20; ++u) users.Add(std::vector<float>(8, 0.5f + static_cast<float>(u)), {5});
  std::vector<ScoredIndex> expected;
  for (uint32_t i : {0u, 1u, 2u, 4u, 6u, 7u, 8u, 9u, 10u, 11u}) expected.push_back({ItemIndex(i), 0.f});
  for (const auto& lists : {TopN(snapshot, users.queries, 10), TopNQuantized(snapshot, users.queries, 10, 100)}) {
    for (const UserList& list : lists) CHECK(list.items == expected);
  }
}

// The int8 copy is quantized again as each row is applied: an item moved to
// dominate every user is found at once, and dropped once moved back.
TEST_CASE("sq8 top-N: after Apply of a changed row the quantized copy follows", "[serving]") {
  Sq8Catalog catalog(20000, 64, /*clustered=*/true, 13);
  Sq8Users users;
  for (int u = 0; u < 40; ++u) {
    std::vector<float> x = catalog.Query();
    x[0] = 0.5f + std::abs(x[0]);  // every user likes dim 0
    users.Add(std::move(x));
  }
  const auto first = [&](uint32_t item) {
    const auto lists = TopNQuantized(catalog.snapshot, users.queries, 10, 100);
    return std::all_of(lists.begin(), lists.end(), [&](const UserList& l) {
      return !l.items.empty() && l.items.front().item == ItemIndex(item);
    });
  };
  REQUIRE_FALSE(first(4242));
  std::vector<float> row(64, 0.f);
  row[0] = 1000.f;
  catalog.snapshot.Apply({ItemIndex(4242), "", 0.f, 1, true, row});
  CHECK(first(4242));
  row[0] = -1000.f;
  catalog.snapshot.Apply({ItemIndex(4242), "", 0.f, 1, true, row});
  CHECK_FALSE(first(4242));
  const auto lists = TopNQuantized(catalog.snapshot, users.queries, 10, 100);
  for (const UserList& list : lists) {
    for (const ScoredIndex& s : list.items) CHECK(s.item != ItemIndex(4242));
  }
}

}  // namespace
}  // namespace streamrec::serving
