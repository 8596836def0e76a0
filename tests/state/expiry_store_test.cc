// Expiry against a real RocksDB store: an expired user's rows and a retired
// item's row are gone after the batch, and a restart in the middle of an
// expiring stream ends bitwise equal to an uninterrupted run.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "state_test_util.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/state/feature_store.h"
#include "support/test_support.h"

namespace streamrec::state {
namespace {

using testing::OpenStore;

using online_learner::ExpiryOptions;
using online_learner::Learner;
using schemas::Event;
using schemas::EventType;
using streamrec::testing::TempDir;

constexpr int kDim = 8;
constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kHour = 3'600'000;

online_learner::IsgdOptions Options() {
  online_learner::IsgdOptions o;
  o.dim = kDim;
  o.negatives = 3;
  return o;
}

ExpiryOptions Expiry() {
  ExpiryOptions o;
  o.user_ttl_ms = 6 * kHour;
  o.item_retire_ms = 6 * kHour;
  return o;
}


std::unique_ptr<Learner> LoadLearner(const FeatureStore& store) {
  auto learner = std::make_unique<Learner>(Options(), 100, Expiry());
  REQUIRE_OK(store.LoadModel(learner->model(), learner->users(), learner->items()));
  auto stream_time = store.ReadStreamTime();
  REQUIRE_RESULT_OK(stream_time);
  if (*stream_time) learner->RestoreStreamTime(**stream_time);
  return learner;
}

// The pipeline's batch (apps/src/pipeline.cc ApplyBatch), without Kafka.
void ApplyBatch(FeatureStore& store, Learner& learner, const std::vector<Event>& events,
                const std::vector<schemas::Item>& catalog = {}) {
  StoreBatch batch;
  for (const auto& item : catalog) learner.ApplyItem(item);
  for (const Event& e : events) {
    learner.Apply(e);
    for (auto& expired : learner.TakeExpiredUsers()) batch.erased_users.push_back(expired.id);
    for (auto& item : learner.TakeRetiredItems()) batch.erased_items.push_back(item);
  }
  AppendModelChanges(learner.model(), learner.users(), learner.items(), batch);
  batch.stream_time_ms = learner.expiry().stream_time_ms();
  REQUIRE_RESULT_OK(store.Write(batch));
}

// Users in waves over three simulated days; item "sku-0" goes unavailable
// on day one.
std::vector<Event> Stream() {
  std::vector<Event> events;
  const int n = 6000;
  for (int k = 0; k < n; ++k) {
    const int64_t ts = kT0 + 72 * kHour * k / n;
    const int wave = k * 12 / n;
    const int u = wave * 10 + (k * 7) % 10;
    int item = (k * 13 + u) % 40;
    if (k >= 2000 && item == 0) item = 1;  // sku-0 leaves the catalog after event 2000
    events.push_back({"user-" + std::to_string(u), "sku-" + std::to_string(item),
                      k % 3 ? EventType::kClick : EventType::kPurchase, ts, std::nullopt, std::nullopt});
  }
  return events;
}

void RunBatches(FeatureStore& store, Learner& learner, const std::vector<Event>& events, size_t begin, size_t end) {
  for (size_t k = begin; k < end; k += 100) {
    const std::vector<Event> batch(events.begin() + static_cast<std::ptrdiff_t>(k),
                                   events.begin() + static_cast<std::ptrdiff_t>(std::min(end, k + 100)));
    std::vector<schemas::Item> catalog;
    if (k == 2000) catalog.push_back({"sku-0", false, {}, {}, {}});
    ApplyBatch(store, learner, batch, catalog);
  }
}

TEST_CASE("an expired user's and a retired item's rows are gone from the store after the batch",
          "[state][expiry]") {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("store"), kDim);
  Learner learner(Options(), 100, Expiry());
  ApplyBatch(*store, learner,
             {{"idle", "sku-a", EventType::kClick, kT0, std::nullopt, std::nullopt},
              {"busy", "sku-b", EventType::kClick, kT0, std::nullopt, std::nullopt}});
  // An hour later sku-a leaves the catalog.
  ApplyBatch(*store, learner, {{"busy", "sku-b", EventType::kClick, kT0 + kHour, std::nullopt, std::nullopt}});
  ApplyBatch(*store, learner, {{"busy", "sku-b", EventType::kClick, kT0 + kHour + 1, std::nullopt, std::nullopt}},
             {{"sku-a", false, {}, {}, {}}});
  REQUIRE_RESULT_OK(store->ReadUser("idle"));
  REQUIRE_RESULT_OK(store->ReadItem("sku-a"));
  // Five hours on (six after idle's click): idle is due, sku-a is not yet.
  ApplyBatch(*store, learner,
             {{"busy", "sku-b", EventType::kClick, kT0 + 6 * kHour + 1000, std::nullopt, std::nullopt}});
  CHECK(store->ReadUser("idle").status().code() == StatusCode::kNotFound);
  REQUIRE_RESULT_OK(store->ReadItem("sku-a"));

  // Seven hours after it became unavailable, sku-a is retired too.
  ApplyBatch(*store, learner, {{"busy", "sku-b", EventType::kClick, kT0 + 8 * kHour, std::nullopt, std::nullopt}});
  CHECK(store->ReadUser("idle").status().code() == StatusCode::kNotFound);
  CHECK(store->ReadItem("sku-a").status().code() == StatusCode::kNotFound);
  REQUIRE_RESULT_OK(store->ReadUser("busy"));
  REQUIRE_RESULT_OK(store->ReadItem("sku-b"));
  auto stream_time = store->ReadStreamTime();
  REQUIRE_RESULT_OK(stream_time);
  CHECK(*stream_time == kT0 + 8 * kHour);
  auto digest = store->Digest();
  REQUIRE_RESULT_OK(digest);
  CHECK(digest->counts.users == 1);
  CHECK(digest->counts.items == 1);

  // Reloaded: the retired slot is retired again, not a fresh item.
  auto reloaded = LoadLearner(*store);
  const ItemIndex old_slot(0);
  CHECK(reloaded->items().size() == 2);
  CHECK(reloaded->model().NumItems() == 2);
  CHECK(reloaded->model().IsRetired(old_slot));
  CHECK_FALSE(reloaded->model().IsAvailable(old_slot));
  CHECK(reloaded->model().ExportItem(old_slot) == learner.model().ExportItem(old_slot));
}

TEST_CASE("a restart in an expiring stream ends bitwise equal to an uninterrupted run", "[state][expiry]") {
  const std::vector<Event> events = Stream();
  TempDir tmp;
  std::string whole_digest;
  uint64_t whole_users = 0;
  {
    auto store = OpenStore(tmp.Sub("whole"), kDim);
    Learner learner(Options(), 100, Expiry());
    RunBatches(*store, learner, events, 0, events.size());
    CHECK(learner.users().size() < 40);  // 120 users seen, slots reused
    auto digest = store->Digest();
    REQUIRE_RESULT_OK(digest);
    whole_digest = digest->model;
    whole_users = digest->counts.users;
    CHECK(store->ReadItem("sku-0").status().code() == StatusCode::kNotFound);
  }
  CHECK(whole_users < 40);
  for (size_t cut : {1000u, 2000u, 3700u}) {
    INFO("restart after event " << cut);
    const std::string dir = tmp.Sub("cut" + std::to_string(cut));
    {
      auto store = OpenStore(dir, kDim);
      Learner learner(Options(), 100, Expiry());
      RunBatches(*store, learner, events, 0, cut);
    }
    auto store = OpenStore(dir, kDim);
    auto learner = LoadLearner(*store);
    RunBatches(*store, *learner, events, cut, events.size());
    auto digest = store->Digest();
    REQUIRE_RESULT_OK(digest);
    CHECK(digest->model == whole_digest);
  }
}

}  // namespace
}  // namespace streamrec::state
