// Producer and consumer against the embedded broker, over TCP, with static
// assignment (group rebalances are in group_test.cc: they cost seconds).

#include <time.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "support/kafka_fixture.h"

namespace streamrec::kafka {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using testing::ConsumeN;
using testing::ConsumeToEnd;
using testing::KafkaFixture;

// Collects delivery reports (callbacks run on the polling thread: no lock).
struct Reports {
  std::vector<DeliveryReport> all;
  DeliveryCallback Callback() {
    return [this](const DeliveryReport& r) { all.push_back(r); };
  }
};

TEST_CASE("records round-trip with keys, headers, timestamps and tombstones", "[kafka]") {
  KafkaFixture kafka;
  Reports reports;
  auto producer =
      Producer::Create({.config = kafka.ProducerConfig(), .on_delivery = reports.Callback()});
  REQUIRE_RESULT_OK(producer);

  const std::vector<Header> headers = {
      {"error.code", "E42"}, {"source.topic", "events"}, {"error.code", "repeated"}, {"empty", ""}};
  REQUIRE_OK(producer->Produce({.topic = "events",
                                .partition = PartitionId(0),
                                .key = "u1",
                                .value = R"({"user_id":"u1"})",
                                .headers = headers,
                                .timestamp_ms = 1732350000123,
                                .tag = 1}));
  REQUIRE_OK(producer->Produce({.topic = "events",
                                .partition = PartitionId(0),
                                .key = "u2",
                                .value = std::nullopt,
                                .tag = 2}));
  REQUIRE_OK(producer->Produce({.topic = "events",
                                .partition = PartitionId(0),
                                .key = std::nullopt,
                                .value = "",
                                .tag = 3}));
  REQUIRE_OK(producer->Produce(
      {.topic = "events", .partition = PartitionId(0), .key = "", .value = "v", .tag = 4}));
  REQUIRE_OK(producer->Flush(5s));
  REQUIRE(producer->InFlight() == 0);

  REQUIRE(reports.all.size() == 4);
  for (size_t i = 0; i < reports.all.size(); ++i) {
    INFO(reports.all[i].status.ToString());
    REQUIRE(reports.all[i].status.ok());
    REQUIRE(reports.all[i].tag == i + 1);  // one partition: in order
    REQUIRE(reports.all[i].topic == "events");
    REQUIRE(reports.all[i].partition == PartitionId(0));
    REQUIRE(reports.all[i].offset == KafkaOffset(static_cast<int64_t>(i)));
  }
  REQUIRE(reports.all[0].key == "u1");
  REQUIRE_FALSE(reports.all[2].key.has_value());

  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  const std::vector<Message> got = ConsumeN(*consumer, 4);
  REQUIRE(got.size() == 4);

  REQUIRE(got[0].topic == "events");
  REQUIRE(got[0].partition == PartitionId(0));
  REQUIRE(got[0].offset == KafkaOffset(0));
  REQUIRE(got[0].key == "u1");
  REQUIRE(got[0].value == R"({"user_id":"u1"})");
  REQUIRE(got[0].headers == headers);
  REQUIRE(got[0].timestamp_ms == 1732350000123);

  REQUIRE(got[1].key == "u2");
  REQUIRE_FALSE(got[1].value.has_value());  // tombstone
  REQUIRE(got[1].headers.empty());
  REQUIRE(got[1].timestamp_ms.has_value());  // stamped by the producer

  REQUIRE_FALSE(got[2].key.has_value());
  REQUIRE(got[2].value == "");  // empty is not null

  REQUIRE(got[3].key == "");
  REQUIRE(got[3].value == "v");
}

TEST_CASE("keyed records without a partition keep per-key order, lz4 included", "[kafka]") {
  KafkaFixture kafka({.partitions = 4});
  Reports reports;
  ProducerOptions options{.config = kafka.ProducerConfig(), .on_delivery = reports.Callback()};
  REQUIRE_OK(options.config.Set("compression.type", "lz4"));
  auto producer = Producer::Create(options);
  REQUIRE_RESULT_OK(producer);
  auto partitions = producer->PartitionCount("events", 5s);
  REQUIRE_RESULT_OK(partitions);
  REQUIRE(*partitions == 4);

  const std::string payload(2000, 'x');  // compressible
  for (int i = 0; i < 200; ++i) {
    const std::string key = "u" + std::to_string(i % 10);
    const std::string value = std::to_string(i) + payload;
    REQUIRE_OK(producer->Produce(
        {.topic = "events", .key = key, .value = value, .tag = static_cast<uint64_t>(i)}));
  }
  REQUIRE_OK(producer->Flush(5s));
  REQUIRE(reports.all.size() == 200);

  std::map<std::string, PartitionId> partition_of_key;
  for (const DeliveryReport& r : reports.all) {
    REQUIRE(r.status.ok());
    auto [it, inserted] = partition_of_key.emplace(*r.key, r.partition);
    REQUIRE(it->second == r.partition);  // same key, same partition
  }

  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  std::vector<TopicPartition> all;
  for (int p = 0; p < 4; ++p) all.push_back({"events", PartitionId(p)});
  REQUIRE_OK(consumer->Assign(all));
  const std::vector<Message> got = ConsumeToEnd(*consumer);
  REQUIRE(got.size() == 200);
  std::map<std::string, int> last_index;
  for (const Message& m : got) {
    const int index = std::stoi(*m.value);
    REQUIRE(m.value->size() == std::to_string(index).size() + payload.size());
    auto it = last_index.find(*m.key);
    if (it != last_index.end()) REQUIRE(it->second < index);
    last_index[*m.key] = index;
  }
}

TEST_CASE("end of partitions, start offsets, commits and lag", "[kafka]") {
  KafkaFixture kafka({.partitions = 2});
  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  for (int i = 0; i < 5; ++i) {
    REQUIRE_OK(producer->Produce(
        {.topic = "items", .partition = PartitionId(0), .value = std::to_string(i)}));
  }
  REQUIRE_OK(producer->Flush(5s));

  const TopicPartition p0{"items", PartitionId(0)};
  const TopicPartition p1{"items", PartitionId(1)};  // stays empty
  const KafkaConfig config = kafka.ConsumerConfig("items-readers");
  std::vector<std::pair<RebalanceKind, std::vector<TopicPartition>>> rebalances;
  ConsumerOptions options{
      .config = config,
      // Offsets stored elsewhere win: start p0 at 2; p1 has none.
      .start_offset = [&](const TopicPartition& tp) -> std::optional<KafkaOffset> {
        if (tp == p0) return KafkaOffset(2);
        return std::nullopt;
      },
      .on_rebalance =
          [&](RebalanceKind kind, const std::vector<TopicPartition>& tps) {
            rebalances.emplace_back(kind, tps);
          }};
  {
    auto consumer = Consumer::Create(options);
    REQUIRE_RESULT_OK(consumer);
    REQUIRE_FALSE(consumer->AtEndOfAllPartitions());  // nothing assigned yet
    REQUIRE_OK(consumer->Assign({p0, p1}));
    REQUIRE(consumer->Assignment() == std::vector<TopicPartition>{p0, p1});
    REQUIRE(rebalances.size() == 1);
    REQUIRE(rebalances[0].first == RebalanceKind::kAssigned);

    const std::vector<Message> got = ConsumeToEnd(*consumer);
    REQUIRE(consumer->AtEndOfAllPartitions());  // the empty p1 reports its end too
    REQUIRE(got.size() == 3);
    REQUIRE(got.front().offset == KafkaOffset(2));
    REQUIRE(got.back().offset == KafkaOffset(4));

    const std::vector<PartitionLag> lag = consumer->Lag();
    REQUIRE(lag.size() == 2);
    REQUIRE(lag[0].partition == p0);
    REQUIRE(lag[0].position == KafkaOffset(5));
    REQUIRE(lag[0].high_watermark == KafkaOffset(5));
    REQUIRE(lag[0].lag == 0);
    auto marks = consumer->QueryWatermarks(p0, 5s);
    REQUIRE_RESULT_OK(marks);
    REQUIRE(marks->low == KafkaOffset(0));
    REQUIRE(marks->high == KafkaOffset(5));

    REQUIRE_OK(consumer->CommitOffsets({{p0, KafkaOffset(4)}}));
    auto committed = consumer->Committed({p0, p1}, 5s);
    REQUIRE_RESULT_OK(committed);
    REQUIRE(*committed == OffsetMap{{p0, KafkaOffset(4)}});  // p1: none committed

    // A new record clears the end state until it is read.
    REQUIRE_OK(producer->Produce({.topic = "items", .partition = PartitionId(1), .value = "late"}));
    REQUIRE_OK(producer->Flush(5s));
    const std::vector<Message> late = ConsumeN(*consumer, 1);
    REQUIRE(late.size() == 1);
    REQUIRE(late[0].partition == PartitionId(1));
    REQUIRE_OK(consumer->Close());
    REQUIRE_OK(consumer->Close());  // idempotent
    REQUIRE(consumer->Poll(1, 0ms).status().code() == StatusCode::kFailedPrecondition);
  }

  // Without a start offset, a new consumer in the same group resumes from
  // the committed one.
  options.start_offset = nullptr;
  auto again = Consumer::Create(options);
  REQUIRE_RESULT_OK(again);
  REQUIRE_OK(again->Assign({p0}));
  const std::vector<Message> resumed = ConsumeToEnd(*again);
  REQUIRE(resumed.size() == 1);
  REQUIRE(resumed[0].offset == KafkaOffset(4));
}

TEST_CASE("an offset the broker does not have is an error with auto.offset.reset=error",
          "[kafka]") {
  KafkaFixture kafka;
  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  for (int i = 0; i < 3; ++i) {
    REQUIRE_OK(producer->Produce({.topic = "events", .partition = PartitionId(0), .value = "e"}));
  }
  REQUIRE_OK(producer->Flush(5s));

  ConsumerOptions options{.config = kafka.ConsumerConfig(),
                          .start_offset = [](const TopicPartition&) {
                            return std::optional<KafkaOffset>(KafkaOffset(100));
                          }};
  REQUIRE_OK(options.config.Set("auto.offset.reset", "error"));
  auto consumer = Consumer::Create(options);
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  Status error;
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  while (error.ok() && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer->Poll(10, 100ms);
    if (!batch.ok()) {
      error = batch.status();
    } else {
      REQUIRE(batch->empty());  // nothing may be skipped to
    }
  }
  INFO(error.ToString());
  REQUIRE(error.code() == StatusCode::kFailedPrecondition);
  REQUIRE_THAT(error.message(), Contains("events/0"));
}

TEST_CASE("the mock drops the oldest data past its bound, and reset=error catches it", "[kafka]") {
  KafkaFixture kafka;
  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  const std::string value(64 * 1024, 'v');
  const int64_t records = 2 * kMockPartitionMaxBytes / static_cast<int64_t>(value.size());
  for (int64_t i = 0; i < records; ++i) {
    REQUIRE_OK(producer->Produce({.topic = "events", .partition = PartitionId(0), .value = value}));
  }
  REQUIRE_OK(producer->Flush(10s));

  ConsumerOptions options{.config = kafka.ConsumerConfig(),
                          .start_offset = [](const TopicPartition&) {
                            return std::optional<KafkaOffset>(KafkaOffset(0));
                          }};
  REQUIRE_OK(options.config.Set("auto.offset.reset", "error"));
  auto consumer = Consumer::Create(options);
  REQUIRE_RESULT_OK(consumer);
  auto marks = consumer->QueryWatermarks({"events", PartitionId(0)}, 5s);
  REQUIRE_RESULT_OK(marks);
  REQUIRE(marks->high == KafkaOffset(records));
  REQUIRE(marks->low > KafkaOffset(0));  // silently dropped by the broker

  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  Status error;
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  while (error.ok() && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer->Poll(10, 100ms);
    if (!batch.ok()) error = batch.status();
  }
  INFO(error.ToString());
  REQUIRE(error.code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("delivery reports tell failures apart, retried errors are not duplicated", "[kafka]") {
  KafkaFixture kafka;
  Reports reports;
  ProducerOptions options{.config = kafka.ProducerConfig(), .on_delivery = reports.Callback()};
  REQUIRE_OK(options.config.Set("message.timeout.ms", "1500"));
  auto producer = Producer::Create(options);
  REQUIRE_RESULT_OK(producer);

  // Two Produce requests fail with NOT_LEADER_OR_FOLLOWER (6): the
  // idempotent producer retries and each record lands exactly once.
  kafka.broker().PushRequestErrors(KafkaApi::kProduce, {6, 6});
  for (uint64_t tag = 0; tag < 3; ++tag) {
    REQUIRE_OK(producer->Produce(
        {.topic = "events", .partition = PartitionId(0), .value = "r", .tag = tag}));
  }
  REQUIRE_OK(producer->Flush(5s));
  REQUIRE(reports.all.size() == 3);
  for (const DeliveryReport& r : reports.all) REQUIRE(r.status.ok());

  // With the only broker down, the record times out: a failed report.
  REQUIRE_OK(kafka.broker().SetBrokerDown(1));
  REQUIRE_OK(producer->Produce(
      {.topic = "events", .partition = PartitionId(0), .value = "lost", .tag = 99}));
  REQUIRE_OK(producer->Flush(5s));  // a failed record is done too
  REQUIRE(reports.all.size() == 4);
  REQUIRE(reports.all[3].tag == 99);
  REQUIRE(reports.all[3].status.code() == StatusCode::kUnavailable);
  REQUIRE_OK(kafka.broker().SetBrokerUp(1));

  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  const std::vector<Message> got = ConsumeToEnd(*consumer);
  REQUIRE(got.size() == 3);
}


// A batch takes every record already fetched, not just the first (and with
// a linger it waits for the rest of a burst).
TEST_CASE("Poll returns the records already fetched together, linger waits for more", "[kafka]") {
  KafkaFixture kafka;
  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  for (int i = 0; i < 200; ++i) {
    REQUIRE_OK(producer->Produce({.topic = "events", .partition = PartitionId(0), .value = std::to_string(i)}));
  }
  REQUIRE_OK(producer->Flush(5s));

  for (const auto linger : {0ms, 2000ms}) {
    DYNAMIC_SECTION("linger " << linger.count() << " ms") {
      ConsumerOptions options{.config = kafka.ConsumerConfig()};
      auto consumer = Consumer::Create(options);
      REQUIRE_RESULT_OK(consumer);
      REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
      std::vector<size_t> sizes;
      size_t total = 0;
      const auto deadline = std::chrono::steady_clock::now() + 8s;
      while (total < 200 && std::chrono::steady_clock::now() < deadline) {
        auto batch = consumer->Poll(1000, 1000ms, linger);
        REQUIRE_RESULT_OK(batch);
        if (batch->empty()) continue;
        sizes.push_back(batch->size());
        total += batch->size();
      }
      REQUIRE(total == 200);
      // The records were all on the broker before the first fetch: a fetch
      // brings many at once, and a batch must hold more than one of them.
      CHECK(*std::max_element(sizes.begin(), sizes.end()) > 1);
      if (linger > 0ms) CHECK(sizes.size() == 1);
    }
  }
}

// CPU time of the calling thread.
std::chrono::nanoseconds ThreadCpuTime() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST_CASE("an idle Poll sleeps through its timeout rather than spinning", "[kafka]") {
  // Bug: the wait left was rounded down to whole milliseconds, so the last
  // millisecond of every timeout was a busy loop: a short-timeout poller
  // (a tail of `recommendations`, the pipeline between batches) burnt about
  // half a core while idle.
  KafkaFixture kafka;
  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  const auto wall_start = std::chrono::steady_clock::now();
  const auto cpu_start = ThreadCpuTime();
  for (int i = 0; i < 150; ++i) {
    auto batch = consumer->Poll(100, 2ms);
    REQUIRE_RESULT_OK(batch);
    REQUIRE(batch->empty());
  }
  const auto cpu = ThreadCpuTime() - cpu_start;
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  const double cpu_ms = std::chrono::duration<double, std::milli>(cpu).count();
  const double wall_ms = std::chrono::duration<double, std::milli>(wall).count();
  INFO("thread CPU " << cpu_ms << " ms over " << wall_ms << " ms");
  // Spinning through one of every two milliseconds costs about half the
  // wall time; sleeping costs a small fraction of it. (A ratio, not a time.)
  CHECK(cpu < wall / 5);
}

}  // namespace
}  // namespace streamrec::kafka
