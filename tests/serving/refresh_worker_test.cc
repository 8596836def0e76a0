// RefreshWorker against the embedded broker: what reaches `recommendations`,
// in which order, in both modes.

#include <atomic>
#include <map>
#include <thread>
#include <variant>

#include <catch2/catch.hpp>

#include "streamrec/base/hash.h"
#include "streamrec/kafka/consumer.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/serving/refresh_worker.h"
#include "support/kafka_fixture.h"

namespace streamrec::serving {
namespace {

using namespace std::chrono_literals;
constexpr int kDim = 4;

ItemUpdate Item(uint32_t i, float score, bool available = true) {
  // With the user vector (1, 0, 0, 0), an item's score is its first factor.
  return {ItemIndex(i), "item" + std::to_string(i), 0.f, 1, available, {score, 0.f, 0.f, 0.f}};
}

DueUser Warm(uint32_t user, uint64_t seq, std::vector<uint32_t> seen = {}) {
  DueUser d{UserIndex(user), 1000 + static_cast<int64_t>(seq), 0, seq};
  d.user_id = "user" + std::to_string(user);
  d.vector = {1.f, 0.f, 0.f, 0.f};
  d.seen = std::move(seen);
  return d;
}

struct Record {
  std::string key;
  std::optional<schemas::RecommendationList> list;  // empty: a tombstone
};

std::vector<Record> ReadAll(const testing::KafkaFixture& kafka, size_t count) {
  auto consumer = kafka::Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Subscribe({"recommendations"}));
  std::vector<Record> out;
  for (kafka::Message& m : testing::ConsumeN(*consumer, count)) {
    Record r{m.key.value_or("")};
    if (m.value) {
      auto parsed = schemas::ParseRecommendationList(*m.value);
      REQUIRE(std::holds_alternative<schemas::RecommendationList>(parsed));
      r.list = std::get<schemas::RecommendationList>(std::move(parsed));
    }
    out.push_back(std::move(r));
  }
  return out;
}

RefreshWorkerOptions Options(const testing::KafkaFixture& kafka, bool own_thread) {
  RefreshWorkerOptions o;
  o.dim = kDim;
  o.top_n = 2;
  o.min_interval = 0ms;
  o.own_thread = own_thread;
  o.publisher.producer_config = kafka.ProducerConfig();
  return o;
}

TEST_CASE("refresh worker: lists from its item snapshot, tombstones after earlier lists", "[serving]") {
  testing::KafkaFixture kafka;
  const bool own_thread = GENERATE(false, true);
  INFO((own_thread ? "own thread" : "inline"));
  std::vector<std::string> observed;
  // The users gather (for an hour: until Finish) so that, on its own thread
  // too, the worker computes no list before every command below is given.
  // Bug: without it the thread could run a round between the two
  // UpdateItems and publish user 2 twice.
  RefreshWorkerOptions options = Options(kafka, own_thread);
  options.gather = std::chrono::hours(1);
  auto worker = RefreshWorker::Create(options, [&](const schemas::RecommendationList& l, const DueUser&) {
    observed.push_back(l.user_id);  // one thread at a time: the worker's
  });
  REQUIRE_RESULT_OK(worker);
  RefreshWorker& w = **worker;
  const auto touched_now = [](DueUser d) {
    d.touched_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    return d;
  };

  w.UpdateItems({Item(0, 0.1f), Item(1, 0.9f), Item(2, 0.5f), Item(3, 0.7f)});
  w.Touch(touched_now(Warm(1, 1, {1})));  // seen: item1
  w.Touch(touched_now(Warm(2, 1)));
  // Item 1 withdrawn and item 0 raised before any list is computed: the
  // worker applies commands in order, so no list may hold item 1.
  w.UpdateItems({Item(1, 0.9f, false), Item(0, 0.8f)});
  w.Touch(touched_now(Warm(2, 2)));  // coalesces with the first touch of user 2
  w.Forget(UserIndex(3), "user3", 2);
  REQUIRE_OK(w.RunInline());
  REQUIRE_OK(w.Finish(5s));

  const auto records = ReadAll(kafka, 3);
  REQUIRE(records.size() == 3);
  std::map<std::string, Record> by_key;
  for (const auto& r : records) by_key[r.key] = r;
  REQUIRE(by_key.at("user1").list);
  REQUIRE(by_key.at("user2").list);
  CHECK_FALSE(by_key.at("user3").list);  // the tombstone
  const auto names = [](const schemas::RecommendationList& l) {
    std::vector<std::string> n;
    for (const auto& i : l.items) n.push_back(i.item_id);
    return n;
  };
  CHECK(names(*by_key.at("user1").list) == std::vector<std::string>{"item0", "item3"});
  CHECK(names(*by_key.at("user2").list) == std::vector<std::string>{"item0", "item3"});
  CHECK(by_key.at("user2").list->seq == 2);
  CHECK(observed.size() == 2);

  const RefreshReport report = w.TakeReport();
  CHECK(report.published.size() == 2);
  CHECK(report.acknowledged.size() == 3);
  CHECK(report.delivery_error.ok());
  CHECK(w.waiting() == 0);
}

TEST_CASE("refresh worker: a batch of touches coalesces as the same touches one by one would", "[serving]") {
  testing::KafkaFixture kafka;
  auto worker = RefreshWorker::Create(Options(kafka, /*own_thread=*/false));
  REQUIRE_RESULT_OK(worker);
  RefreshWorker& w = **worker;
  w.UpdateItems({Item(0, 0.1f), Item(1, 0.9f), Item(2, 0.5f)});
  w.Touch(std::vector<DueUser>{});  // an empty batch owes nothing
  CHECK(w.waiting() == 0);
  std::vector<DueUser> batch;
  batch.push_back(Warm(1, 1));
  batch.push_back(Warm(2, 1, {1}));
  batch.push_back(Warm(1, 3));  // user 1 again, from a later store batch
  w.Touch(std::move(batch));
  CHECK(w.waiting() == 3);  // counted per touch until the worker takes them
  REQUIRE_OK(w.RunInline());
  REQUIRE_OK(w.Finish(5s));
  CHECK(w.waiting() == 0);

  const auto records = ReadAll(kafka, 2);
  REQUIRE(records.size() == 2);
  std::map<std::string, schemas::RecommendationList> by_key;
  for (const auto& r : records) {
    REQUIRE(r.list);
    by_key[r.key] = *r.list;
  }
  REQUIRE(by_key.size() == 2);
  CHECK(by_key.at("user1").seq == 3);
  CHECK(by_key.at("user1").items.front().item_id == "item1");
  CHECK(by_key.at("user2").items.front().item_id == "item2");  // item1 seen
  CHECK(w.TakeReport().published.size() == 2);
}

TEST_CASE("refresh worker: while the pipeline catches up, one round per batch, all lists once it has", "[serving]") {
  testing::KafkaFixture kafka;
  RefreshWorkerOptions options = Options(kafka, /*own_thread=*/true);
  options.batch = 2;  // users per round
  std::atomic<int> published{0};
  auto worker = RefreshWorker::Create(options, [&](const schemas::RecommendationList&, const DueUser&) {
    published.fetch_add(1);
  });
  REQUIRE_RESULT_OK(worker);
  RefreshWorker& w = **worker;
  const auto wait_for = [&](int lists) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (published.load() < lists && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    return published.load();
  };

  w.Pace(/*backlog=*/true);
  w.UpdateItems({Item(0, 0.5f), Item(1, 0.6f), Item(2, 0.7f)});
  for (uint32_t user = 0; user < 6; ++user) w.Touch(Warm(user, 1));
  REQUIRE(wait_for(2) >= 2);
  // One round, then it waits for the next batch (or, failing one, a second).
  std::this_thread::sleep_for(200ms);
  CHECK(published.load() == 2);
  w.Pace(/*backlog=*/true);  // the next batch: one more round
  REQUIRE(wait_for(4) >= 4);
  std::this_thread::sleep_for(200ms);
  CHECK(published.load() == 4);
  w.Pace(/*backlog=*/false);  // caught up: the rest at once
  CHECK(wait_for(6) == 6);
  REQUIRE_OK(w.Finish(5s));
  CHECK(ReadAll(kafka, 6).size() == 6);
}

TEST_CASE("refresh worker: a forget after a touch publishes the list first, then the tombstone", "[serving]") {
  testing::KafkaFixture kafka;
  auto worker = RefreshWorker::Create(Options(kafka, /*own_thread=*/false));
  REQUIRE_RESULT_OK(worker);
  RefreshWorker& w = **worker;
  w.UpdateItems({Item(0, 0.5f), Item(1, 0.6f)});
  w.Touch(Warm(7, 1));
  REQUIRE_OK(w.RunInline());  // the list is computed and handed to Kafka
  w.Forget(UserIndex(7), "user7", 2);
  w.Touch(Warm(8, 2));
  w.Forget(UserIndex(8), "user8", 2);  // forgotten before its list: no list
  REQUIRE_OK(w.Finish(5s));

  const auto records = ReadAll(kafka, 3);
  REQUIRE(records.size() == 3);
  CHECK(records[0].key == "user7");
  CHECK(records[0].list);
  CHECK(records[1].key == "user7");
  CHECK_FALSE(records[1].list);
  CHECK(records[2].key == "user8");
  CHECK_FALSE(records[2].list);
}

// The approximate rankings' world: 3,000 items of dim 8 in 20 clusters, as
// learned vectors look, and 40 users near a cluster centre, each having seen
// two items.
struct ClusteredWorld {
  static constexpr int kDim = 8;
  std::vector<std::vector<float>> centres;
  CounterRng rng{7};

  ClusteredWorld() : centres(20, std::vector<float>(kDim)) {
    for (auto& c : centres) {
      for (float& x : c) x = Uniform();
    }
  }
  float Uniform() { return static_cast<float>(rng.NextBelow(2001)) / 1000.f - 1.f; }
  static RefreshWorkerOptions Options(const testing::KafkaFixture& kafka, RefreshWorkerOptions::Ranking ranking) {
    RefreshWorkerOptions options = serving::Options(kafka, /*own_thread=*/false);
    options.dim = kDim;
    options.top_n = 10;
    options.ranking = ranking;
    options.recall_every = 1;  // check every approximate list
    return options;
  }
  std::vector<ItemUpdate> Items() {
    std::vector<ItemUpdate> items;
    for (uint32_t i = 0; i < 3000; ++i) {
      ItemUpdate u{ItemIndex(i), "item" + std::to_string(i), 0.1f * Uniform(), 1, true, centres[i % 20]};
      for (float& x : u.factors) x += 0.3f * Uniform();
      items.push_back(std::move(u));
    }
    return items;
  }
  void TouchAll(RefreshWorker& w, uint64_t seq) const {
    for (uint32_t u = 0; u < 40; ++u) {
      DueUser d = Warm(u, seq, {u, u + 100});
      d.vector = centres[u % 20];
      d.vector[u % kDim] += 0.5f;
      w.Touch(std::move(d));
    }
  }
  // An inline worker of `ranking` holding the items, every user touched.
  std::unique_ptr<RefreshWorker> Start(const testing::KafkaFixture& kafka, RefreshWorkerOptions::Ranking ranking) {
    auto worker = RefreshWorker::Create(Options(kafka, ranking));
    REQUIRE_RESULT_OK(worker);
    (*worker)->UpdateItems(Items());
    TouchAll(**worker, 1);
    return std::move(*worker);
  }
  // Seen items stay out of every published list.
  static void CheckSeenLeftOut(const std::vector<Record>& records) {
    for (const Record& r : records) {
      REQUIRE(r.list);
      const uint32_t u = static_cast<uint32_t>(std::stoul(r.key.substr(4)));
      for (const auto& item : r.list->items) {
        CHECK(item.item_id != "item" + std::to_string(u));
        CHECK(item.item_id != "item" + std::to_string(u + 100));
      }
    }
  }
};

// serving.index=hnsw: exact lists until the index holds every item, then
// approximate ones, whose recall the worker measures against exact.
TEST_CASE("refresh worker: approximate lists once the index is built, recall measured", "[serving]") {
  testing::KafkaFixture kafka;
  ClusteredWorld world;
  const auto worker = world.Start(kafka, RefreshWorkerOptions::Ranking::kHnsw);
  RefreshWorker& w = *worker;
  REQUIRE_OK(w.RunInline());  // the first slice only: these lists are exact
  CHECK_FALSE(w.counters().index_ready);
  CHECK(w.counters().approximate_lists == 0);
  // The index is built on its own thread; rounds serve exact lists meanwhile.
  for (int round = 0; round < 1000 && !w.counters().index_ready; ++round) {
    REQUIRE_OK(w.RunInline());
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(w.counters().index_ready);

  world.TouchAll(w, 2);
  REQUIRE_OK(w.RunInline());
  const RefreshCounters c = w.counters();
  CHECK(c.lists == 80);
  CHECK(c.approximate_lists == 40);
  CHECK(c.recall_lists == 40);
  CHECK(c.recall_overlap.wanted == 400);
  CHECK(c.recall() >= 0.95);
  REQUIRE_OK(w.Finish(5s));
  ClusteredWorld::CheckSeenLeftOut(ReadAll(kafka, 80));
}

// serving.index=sq8: nothing to build, warm lists approximate from the first
// round (recall measured the same way); cold users still get popularity.
TEST_CASE("refresh worker: sq8 lists are approximate from the start, recall measured", "[serving]") {
  testing::KafkaFixture kafka;
  ClusteredWorld world;
  const auto worker = world.Start(kafka, RefreshWorkerOptions::Ranking::kSq8);
  RefreshWorker& w = *worker;
  CHECK(w.counters().index_ready);
  DueUser cold = Warm(99, 1);
  cold.cold = true;
  cold.vector.clear();
  w.Touch(std::move(cold));
  REQUIRE_OK(w.RunInline());
  RefreshCounters c = w.counters();
  CHECK(c.lists == 41);
  CHECK(c.approximate_lists == 40);
  CHECK(c.recall_lists == 40);
  CHECK(c.recall_overlap.wanted == 400);
  CHECK(c.recall() >= 0.95);
  // The int8 work is counted: 40 warm users are 3 tiles over every item.
  CHECK(c.sq8_work.full == uint64_t{(3000 + kItemChunk - 1) / kItemChunk} * 3);
  CHECK(c.sq8_work.scored <= c.sq8_work.full);

  // A changed row reaches the int8 copy before the next round.
  w.UpdateItems({{ItemIndex(2999), "", 1000.f, 1, true, world.centres[0]}});
  world.TouchAll(w, 2);
  REQUIRE_OK(w.RunInline());
  c = w.counters();
  CHECK(c.lists == 81);
  CHECK(c.approximate_lists == 80);
  REQUIRE_OK(w.Finish(5s));
  const auto records = ReadAll(kafka, 81);
  ClusteredWorld::CheckSeenLeftOut(records);
  for (size_t k = 41; k < records.size(); ++k) {
    REQUIRE(records[k].list);
    REQUIRE_FALSE(records[k].list->items.empty());
    CHECK(records[k].list->items.front().item_id == "item2999");
  }
}

// Every user of a round waits for all of it, so on its own thread the worker
// ranks sq8 rounds of at most 64 users; a round run once per batch (inline)
// takes every due user up to serving.refresh_batch.
TEST_CASE("refresh worker: sq8 rounds of at most 64 users on the worker's thread, all due users inline",
          "[serving]") {
  testing::KafkaFixture kafka;
  ClusteredWorld world;
  const bool own_thread = GENERATE(false, true);
  INFO((own_thread ? "own thread" : "inline"));
  RefreshWorkerOptions options = ClusteredWorld::Options(kafka, RefreshWorkerOptions::Ranking::kSq8);
  options.own_thread = own_thread;
  options.recall_every = 0;
  auto worker = RefreshWorker::Create(options);
  REQUIRE_RESULT_OK(worker);
  RefreshWorker& w = **worker;
  w.UpdateItems(world.Items());
  constexpr uint32_t kUsers = 200;
  for (uint32_t u = 0; u < kUsers; ++u) {
    DueUser d = Warm(u, 1);
    d.vector = world.centres[u % 20];
    w.Touch(std::move(d));
  }
  if (own_thread) {
    REQUIRE_OK(w.Finish(5s));
    const RefreshCounters c = w.counters();
    CHECK(c.lists == kUsers);
    CHECK(c.rounds >= (kUsers + 63) / 64);
  } else {
    REQUIRE_OK(w.RunInline());
    const RefreshCounters c = w.counters();
    CHECK(c.lists == kUsers);
    CHECK(c.rounds == 1);
    REQUIRE_OK(w.Finish(5s));
  }
}

}  // namespace
}  // namespace streamrec::serving
