// Group membership against the embedded broker. Each join costs a rebalance,
// which the mock stretches towards session.timeout.ms, so tests join rarely.

#include <map>
#include <optional>

#include "support/kafka_fixture.h"

namespace streamrec::kafka {
namespace {

using namespace std::chrono_literals;
using testing::ConsumeN;
using testing::ConsumeToEnd;
using testing::KafkaFixture;

void ProduceNumbered(const KafkaFixture& kafka, const std::string& topic, int partitions,
                     int per_partition) {
  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  for (int p = 0; p < partitions; ++p) {
    for (int i = 0; i < per_partition; ++i) {
      REQUIRE_OK(producer->Produce({.topic = topic,
                                    .partition = PartitionId(p),
                                    .value = std::to_string(p) + ":" + std::to_string(i)}));
    }
  }
  REQUIRE_OK(producer->Flush(5s));
}

struct RebalanceLog {
  std::vector<std::pair<RebalanceKind, std::vector<TopicPartition>>> events;
  RebalanceFn Callback() {
    return [this](RebalanceKind kind, const std::vector<TopicPartition>& partitions) {
      events.emplace_back(kind, partitions);
    };
  }
};

TEST_CASE("a group member starts assigned partitions at the offsets it is given", "[kafka]") {
  KafkaFixture kafka({.partitions = 3});
  ProduceNumbered(kafka, "events", 3, 5);
  const TopicPartition p0{"events", PartitionId(0)};
  const TopicPartition p1{"events", PartitionId(1)};
  const TopicPartition p2{"events", PartitionId(2)};
  const std::string group = "pipeline";

  // The group has committed p1 up to 4; our own store says p0 from 3.
  {
    auto committer = Consumer::Create({.config = kafka.ConsumerConfig(group)});
    REQUIRE_RESULT_OK(committer);
    REQUIRE_OK(committer->CommitOffsets({{p1, KafkaOffset(4)}}));
  }

  const std::map<TopicPartition, KafkaOffset> stored = {{p0, KafkaOffset(3)}};
  RebalanceLog log;
  ConsumerOptions options{
      .config = kafka.ConsumerConfig(group),
      .start_offset = [&](const TopicPartition& tp) -> std::optional<KafkaOffset> {
        auto it = stored.find(tp);
        if (it == stored.end()) return std::nullopt;
        return it->second;
      },
      .on_rebalance = log.Callback()};
  OffsetMap next;
  {
    auto consumer = Consumer::Create(options);
    REQUIRE_RESULT_OK(consumer);
    REQUIRE_OK(consumer->Subscribe({"events"}));
    const std::vector<Message> got = ConsumeN(*consumer, 2 + 1 + 5);
    // Drain the end markers, so every partition reports its end.
    REQUIRE(ConsumeToEnd(*consumer).empty());
    REQUIRE(consumer->AtEndOfAllPartitions());
    REQUIRE(consumer->Assignment() == std::vector<TopicPartition>{p0, p1, p2});

    REQUIRE(log.events.size() == 1);
    REQUIRE(log.events[0].first == RebalanceKind::kAssigned);
    REQUIRE(log.events[0].second.size() == 3);

    std::map<TopicPartition, std::vector<int64_t>> offsets;
    for (const Message& m : got) {
      offsets[{m.topic, m.partition}].push_back(m.offset.value());
      next[{m.topic, m.partition}] = KafkaOffset(m.offset.value() + 1);
    }
    REQUIRE(offsets[p0] == std::vector<int64_t>{3, 4});           // our store
    REQUIRE(offsets[p1] == std::vector<int64_t>{4});              // group commit
    REQUIRE(offsets[p2] == std::vector<int64_t>{0, 1, 2, 3, 4});  // auto.offset.reset
    REQUIRE_OK(consumer->CommitOffsets(next));
    REQUIRE_OK(consumer->Close());
  }
  // Close gave the partitions back through the hook.
  REQUIRE(log.events.size() == 2);
  REQUIRE(log.events[1].first == RebalanceKind::kRevoked);
  REQUIRE(log.events[1].second.size() == 3);

  auto reader = Consumer::Create({.config = kafka.ConsumerConfig(group)});
  REQUIRE_RESULT_OK(reader);
  auto committed = reader->Committed({p0, p1, p2}, 5s);
  REQUIRE_RESULT_OK(committed);
  REQUIRE(*committed == next);
}

KafkaConfig CooperativeConfig(const KafkaFixture& kafka) {
  KafkaConfig config = kafka.ConsumerConfig("sticky");
  REQUIRE_OK(config.Set("partition.assignment.strategy", "cooperative-sticky"));
  return config;
}

TEST_CASE("a cooperative-sticky member is assigned and revoked incrementally", "[kafka]") {
  KafkaFixture kafka({.partitions = 2});
  ProduceNumbered(kafka, "events", 2, 3);
  RebalanceLog log;
  auto consumer = Consumer::Create(
      {.config = CooperativeConfig(kafka),
       .start_offset =
           [](const TopicPartition&) { return std::optional<KafkaOffset>(KafkaOffset(1)); },
       .on_rebalance = log.Callback()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Subscribe({"events"}));
  REQUIRE(ConsumeN(*consumer, 4).size() == 4);  // offsets 1 and 2 of each
  REQUIRE(consumer->Assignment().size() == 2);
  REQUIRE_OK(consumer->Close());
  REQUIRE(log.events.size() == 2);
  REQUIRE(log.events[0].first == RebalanceKind::kAssigned);
  REQUIRE(log.events[1].first == RebalanceKind::kRevoked);
  REQUIRE(log.events[1].second.size() == 2);
  REQUIRE(consumer->Assignment().empty());
}

TEST_CASE("closing a cooperative member between join and assignment does not abort", "[kafka]") {
  // librdkafka < 2.3 aborts on this (confluentinc/librdkafka#4312); Close
  // works around it. A SyncGroup failure (REBALANCE_IN_PROGRESS, 27) holds
  // the member in the window: joined at ~3 s (the mock's first-join delay),
  // assigned one rebalance later. That rebalance waits session.timeout.ms
  // - 1 s on the mock, so this test shortens the session to stay quick.
  KafkaFixture kafka({.partitions = 2});
  kafka.broker().PushRequestErrors(KafkaApi::kSyncGroup, {27});
  KafkaConfig config = CooperativeConfig(kafka);
  REQUIRE_OK(config.Set("session.timeout.ms", "3000"));
  RebalanceLog log;
  auto consumer = Consumer::Create({.config = config, .on_rebalance = log.Callback()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Subscribe({"events"}));
  const auto joined = std::chrono::steady_clock::now() + 3500ms;
  while (std::chrono::steady_clock::now() < joined) REQUIRE_RESULT_OK(consumer->Poll(10, 100ms));
  REQUIRE(log.events.empty());
  REQUIRE_OK(consumer->Close());
  // Close waited for the assignment, then gave it back.
  REQUIRE(log.events.size() == 2);
  REQUIRE(log.events[0].first == RebalanceKind::kAssigned);
  REQUIRE(log.events[1].first == RebalanceKind::kRevoked);
}

// Slow (two or three rebalances, each up to ~session.timeout.ms on the
// mock), so hidden: run with `streamrec_kafka_test "[.slow]"`.
TEST_CASE("cooperative-sticky members share partitions and take over a leaver's",
          "[kafka][.slow]") {
  KafkaFixture kafka({.partitions = 2});
  ProduceNumbered(kafka, "events", 2, 3);
  RebalanceLog log_a;
  RebalanceLog log_b;
  auto a = Consumer::Create({.config = CooperativeConfig(kafka), .on_rebalance = log_a.Callback()});
  auto b = Consumer::Create({.config = CooperativeConfig(kafka), .on_rebalance = log_b.Callback()});
  REQUIRE_RESULT_OK(a);
  REQUIRE_RESULT_OK(b);
  REQUIRE_OK(a->Subscribe({"events"}));
  REQUIRE_OK(b->Subscribe({"events"}));

  // Poll both until each holds one partition and all records are in.
  std::vector<Message> got;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(a->Assignment().size() == 1 && b->Assignment().size() == 1 && got.size() == 6)) {
    for (Consumer* c : {&*a, &*b}) {
      auto batch = c->Poll(100, 50ms);
      REQUIRE_RESULT_OK(batch);
      for (Message& m : *batch) got.push_back(std::move(m));
    }
  }
  REQUIRE(got.size() == 6);
  REQUIRE(a->Assignment().size() == 1);
  REQUIRE(b->Assignment().size() == 1);
  REQUIRE(a->Assignment() != b->Assignment());
  const std::vector<TopicPartition> kept = a->Assignment();

  // b leaves: a is given b's partition as an increment, keeping its own.
  REQUIRE_OK(b->Close());
  REQUIRE(log_b.events.back().first == RebalanceKind::kRevoked);
  deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && a->Assignment().size() < 2) {
    REQUIRE_RESULT_OK(a->Poll(100, 50ms));
  }
  REQUIRE(a->Assignment().size() == 2);
  REQUIRE(log_a.events.back().first == RebalanceKind::kAssigned);
  REQUIRE(log_a.events.back().second.size() == 1);
  REQUIRE(log_a.events.back().second != kept);
  // b committed nothing, so a reads b's partition again from the start; both
  // of a's partitions count for the end-of-input check.
  REQUIRE(ConsumeToEnd(*a).size() == 3);
  REQUIRE(a->AtEndOfAllPartitions());
}

}  // namespace
}  // namespace streamrec::kafka
