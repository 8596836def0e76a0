// The store against the real learner: what AppendModelChanges writes,
// LoadModel must give back exactly.

#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "state_test_util.h"
#include "streamrec/base/hash.h"
#include "streamrec/state/feature_store.h"
#include "support/test_support.h"

namespace streamrec::state {
namespace {

using testing::OpenStore;

using online_learner::IdMap;
using online_learner::IsgdModel;
using online_learner::IsgdOptions;
using schemas::EventType;
using streamrec::testing::TempDir;

constexpr int kDim = 8;

IsgdOptions Options() {
  IsgdOptions options;
  options.dim = kDim;
  options.recent_items = 5;
  options.sampler_window = 64;
  return options;
}

// The learner's side of the pipeline: ids interned as events arrive.
struct Learner {
  IsgdModel model{Options()};
  IdMap users;
  IdMap items;

  void Apply(const std::string& user, const std::string& item, EventType type, int64_t ts_ms,
             std::optional<double> value = std::nullopt) {
    bool created = false;
    const uint32_t u = users.Intern(user, &created);
    if (created) model.AddUser(UserIndex(u), HashBytes(user));
    const uint32_t i = items.Intern(item, &created);
    if (created) model.AddItem(ItemIndex(i), HashBytes(item));
    model.Learn({UserIndex(u), ItemIndex(i), HashBytes(user), HashBytes(item), type, ts_ms, value});
  }

  void Forget(const std::string& user) {
    const auto u = users.Find(user);
    REQUIRE(u.has_value());
    model.ForgetUser(UserIndex(*u));
    users.Erase(user);
  }
};

struct Event {
  std::string user, item;
  EventType type;
  int64_t ts_ms;
  std::optional<double> value;
};

std::vector<Event> MakeEvents(uint64_t seed, int n, int first_ts = 0) {
  std::mt19937_64 rng(seed);
  const EventType types[] = {EventType::kView, EventType::kClick, EventType::kAddToCart, EventType::kPurchase,
                             EventType::kRating, EventType::kImpression, EventType::kDislike};
  std::vector<Event> events;
  for (int k = 0; k < n; ++k) {
    const EventType type = types[rng() % std::size(types)];
    std::optional<double> value;
    if (type == EventType::kRating) value = 1.0 + static_cast<double>(rng() % 5);
    events.push_back({"user-" + std::to_string(rng() % 40), "sku-" + std::to_string(rng() % 60), type,
                      int64_t{1'700'000'000'000} + first_ts + k, value});
  }
  return events;
}


void WriteChanges(FeatureStore& store, Learner& learner, StoreBatch batch = {}) {
  AppendModelChanges(learner.model, learner.users, learner.items, batch);
  REQUIRE_RESULT_OK(store.Write(batch));
}

// Runs `events` through `learner`, writing one batch per `batch_size` events.
void Run(FeatureStore& store, Learner& learner, const std::vector<Event>& events, size_t batch_size) {
  for (size_t k = 0; k < events.size(); ++k) {
    const Event& e = events[k];
    learner.Apply(e.user, e.item, e.type, e.ts_ms, e.value);
    if ((k + 1) % batch_size == 0 || k + 1 == events.size()) WriteChanges(store, learner);
  }
}

void RequireSameModel(Learner& a, Learner& b) {
  REQUIRE(a.users.size() == b.users.size());
  REQUIRE(a.items.size() == b.items.size());
  REQUIRE(a.users.live_count() == b.users.live_count());
  for (uint32_t u = 0; u < a.users.size(); ++u) {
    REQUIRE(a.users.Name(u) == b.users.Name(u));
    if (a.users.Name(u).empty()) continue;  // forgotten: nothing stored
    INFO("user " << a.users.Name(u));
    REQUIRE(a.model.ExportUser(UserIndex(u)) == b.model.ExportUser(UserIndex(u)));
  }
  for (uint32_t i = 0; i < a.items.size(); ++i) {
    REQUIRE(a.items.Name(i) == b.items.Name(i));
    INFO("item " << a.items.Name(i));
    REQUIRE(a.model.ExportItem(ItemIndex(i)) == b.model.ExportItem(ItemIndex(i)));
  }
  REQUIRE(a.model.ExportSampler() == b.model.ExportSampler());
}

TEST_CASE("LoadModel gives back the model written batch by batch", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Learner original;
  {
    auto store = OpenStore(dir, kDim);
    Run(*store, original, MakeEvents(1, 3000), 97);
  }
  auto store = OpenStore(dir, kDim);
  Learner restored;
  REQUIRE_OK(store->LoadModel(restored.model, restored.users, restored.items));
  RequireSameModel(original, restored);
  // Nothing is dirty after a load: the next batch carries only new changes.
  StoreBatch batch;
  AppendModelChanges(restored.model, restored.users, restored.items, batch);
  CHECK(batch.users.empty());
  CHECK(batch.items.empty());
  CHECK_FALSE(batch.sampler.has_value());
  // Loading twice into the same model would mix two states.
  CHECK(store->LoadModel(restored.model, restored.users, restored.items).code() ==
        StatusCode::kFailedPrecondition);
}

TEST_CASE("A model written in one batch or in many gives the same digest", "[state]") {
  TempDir tmp;
  const auto events = MakeEvents(2, 2000);
  Learner one, many;
  auto store_one = OpenStore(tmp.Sub("one"), kDim);
  auto store_many = OpenStore(tmp.Sub("many"), kDim);
  Run(*store_one, one, events, events.size());
  Run(*store_many, many, events, 13);
  auto a = store_one->Digest();
  auto b = store_many->Digest();
  REQUIRE_RESULT_OK(a);
  REQUIRE_RESULT_OK(b);
  CHECK(a->model == b->model);
}

TEST_CASE("A restored model learns on exactly like an uninterrupted one", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const auto before = MakeEvents(3, 1500);
  const auto after = MakeEvents(4, 1500, 1500);
  Learner uninterrupted;
  {
    auto store = OpenStore(dir, kDim);
    Run(*store, uninterrupted, before, 50);
  }
  auto store = OpenStore(dir, kDim);
  Learner restarted;
  REQUIRE_OK(store->LoadModel(restarted.model, restarted.users, restarted.items));
  for (const Event& e : after) {
    uninterrupted.Apply(e.user, e.item, e.type, e.ts_ms, e.value);
    restarted.Apply(e.user, e.item, e.type, e.ts_ms, e.value);
  }
  RequireSameModel(uninterrupted, restarted);
}

TEST_CASE("Forgetting a user through the model leaves no key of it anywhere", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Learner learner;
  {
    auto store = OpenStore(dir, kDim);
    StoreBatch first;
    learner.Apply("alice", "sku-1", EventType::kClick, 1);
    learner.Apply("bob", "sku-2", EventType::kPurchase, 2);
    learner.Apply("carol", "sku-1", EventType::kView, 3);  // carol has the largest user index
    first.pending_adds = {{"alice", 1}, {"bob", 2}, {"carol", 3}};
    WriteChanges(*store, learner, std::move(first));

    // carol is forgotten; alice is forgotten and comes back in the same batch.
    StoreBatch second;
    learner.Forget("carol");
    learner.Forget("alice");
    learner.Apply("alice", "sku-2", EventType::kClick, 4);
    second.erased_users = {"carol", "alice"};
    second.pending_adds = {{"alice", 4}};
    WriteChanges(*store, learner, std::move(second));

    auto alice = store->ReadUser("alice");
    REQUIRE_RESULT_OK(alice);
    CHECK(alice->index.value() == 3);  // a new index: forgotten indices are never reused
    CHECK(alice->row.event_count == 1);

    // alice, now holding the largest index, is forgotten for good.
    StoreBatch third;
    learner.Forget("alice");
    third.erased_users = {"alice"};
    WriteChanges(*store, learner, std::move(third));
  }
  {
    testing::RawDb raw(dir);
    REQUIRE(raw.status().ok());
    for (const auto& [cf, key] : raw.AllKeys()) {
      INFO(cf << "/" << key);
      CHECK(key != "carol");
      CHECK(key != "alice");
    }
  }
  auto store = OpenStore(dir, kDim);
  Learner restored;
  REQUIRE_OK(store->LoadModel(restored.model, restored.users, restored.items));
  RequireSameModel(learner, restored);
  CHECK_FALSE(restored.users.Find("carol").has_value());
  // A new user gets the same index as in the uninterrupted run.
  CHECK(restored.users.Intern("dave") == learner.users.Intern("dave"));
}

}  // namespace
}  // namespace streamrec::state
