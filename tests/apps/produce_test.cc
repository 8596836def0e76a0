// `streamrec produce` and `streamrec broker` flags, and produce replaying
// logs into a real embedded broker over TCP.

#include <chrono>
#include <fstream>
#include <map>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli_support.h"
#include "streamrec/schemas/codec.h"
#include "support/kafka_fixture.h"
#include "support/test_support.h"

namespace streamrec::apps {
namespace {

using namespace std::chrono_literals;
using testing::KafkaFixture;

constexpr int kUsers = 10;
constexpr int kRatingsPerUser = 5;

// kUsers users with kRatingsPerUser ratings each, written out of time order
// (users interleaved, each user's rows newest first), plus two bad lines.
std::string WriteRatings(const testing::TempDir& dir) {
  const std::string path = dir.Sub("ratings.csv");
  std::ofstream file(path);
  file << "userId,movieId,rating,timestamp\n";
  for (int round = kRatingsPerUser - 1; round >= 0; --round) {
    for (int user = 0; user < kUsers; ++user) {
      file << fmt::format("{},{},{}.5,{}\n", user, 100 + round * kUsers + user, round % 5,
                          1'600'000'000 + round * 60 + user);
    }
    if (round == 2) file << "not,a,valid,row\n";
  }
  file << "7,8\n";
  return path;
}

// `count` click events a second apart, in a JSON lines log.
std::string WriteClicks(const testing::TempDir& dir, int count) {
  const std::string path = dir.Sub("clicks.jsonl");
  std::ofstream file(path);
  for (int i = 0; i < count; ++i) {
    file << fmt::format(R"({{"user_id":"u{}","item_id":"i{}","type":"click","ts":{}}})", i % 7, i,
                        1'700'000'000'000 + i * 1000)
         << "\n";
  }
  return path;
}

std::vector<kafka::Message> ReadAll(const KafkaFixture& kafka, const std::string& topic, int partitions) {
  auto consumer = kafka::Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  std::vector<kafka::TopicPartition> assignment;
  for (int p = 0; p < partitions; ++p) assignment.push_back({topic, PartitionId(p)});
  REQUIRE_OK(consumer->Assign(assignment));
  return testing::ConsumeToEnd(*consumer, 15s);
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_CASE("produce replays a MovieLens log in time order per user, keyed by user", "[apps][kafka]") {
  constexpr int kPartitions = 3;
  KafkaFixture kafka({.partitions = kPartitions});
  testing::TempDir dir;
  const std::string input = WriteRatings(dir);
  const int64_t started_ms = WallMs();

  const CliResult result = RunCli({"produce", "--input", input, "--format", "movielens-csv", "--set",
                                   "kafka.bootstrap.servers=" + kafka.bootstrap()});
  INFO(result.err);
  REQUIRE(result.code == 0);
  constexpr int kEvents = kUsers * kRatingsPerUser;
  CHECK_THAT(result.out, Catch::Contains(fmt::format("{} delivered, 0 failed", kEvents)));
  // Both bad lines are reported by number, and did not stop the replay.
  CHECK_THAT(result.err, Catch::Contains("skipped 2 bad lines"));
  CHECK_THAT(result.err, Catch::Contains("line 32:"));
  CHECK_THAT(result.err, Catch::Contains("line 53:"));
  CHECK_THAT(result.err, !Catch::Contains("warning: about"));

  const std::vector<kafka::Message> messages = ReadAll(kafka, "events", kPartitions);
  REQUIRE(messages.size() == kEvents);
  std::map<std::string, PartitionId> partition_of;
  std::map<std::string, int64_t> last_ts;
  for (const kafka::Message& message : messages) {
    REQUIRE(message.value.has_value());
    auto parsed = schemas::ParseEvent(*message.value);
    REQUIRE(std::holds_alternative<schemas::Event>(parsed));
    const auto& event = std::get<schemas::Event>(parsed);
    CHECK(message.key == event.user_id);
    // Stamped at send time, not with the event's historical ts.
    REQUIRE(message.timestamp_ms.has_value());
    CHECK(*message.timestamp_ms >= started_ms - 1000);
    CHECK(event.ts_ms < started_ms);
    // Within a partition messages arrive in offset order, so this checks
    // that each user's events were produced oldest first, all to one
    // partition.
    const auto [it, first] = partition_of.emplace(event.user_id, message.partition);
    CHECK(it->second == message.partition);
    if (!first) CHECK(event.ts_ms >= last_ts[event.user_id]);
    last_ts[event.user_id] = event.ts_ms;
  }
  CHECK(partition_of.size() == static_cast<size_t>(kUsers));
}

TEST_CASE("produce --limit replays the oldest events only", "[apps][kafka]") {
  KafkaFixture kafka;
  testing::TempDir dir;
  const CliResult result = RunCli({"produce", "--input", WriteClicks(dir, 50), "--format", "jsonl", "--limit",
                                   "10", "--set", "kafka.bootstrap.servers=" + kafka.bootstrap()});
  INFO(result.err);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.out, Catch::Contains("produced 10 of 10 events to 'events'"));
  const auto messages = ReadAll(kafka, "events", 1);
  REQUIRE(messages.size() == 10);
  auto last = schemas::ParseEvent(*messages.back().value);
  REQUIRE(std::holds_alternative<schemas::Event>(last));
  CHECK(std::get<schemas::Event>(last).item_id == "i9");
}

TEST_CASE("produce paces by --rate and by --speed", "[apps][kafka]") {
  KafkaFixture kafka;
  testing::TempDir dir;
  const std::string bootstrap = "kafka.bootstrap.servers=" + kafka.bootstrap();

  SECTION("--rate 200: 100 events are spread over about half a second") {
    const auto start = std::chrono::steady_clock::now();
    const CliResult result = RunCli({"produce", "--input", WriteClicks(dir, 100), "--format", "jsonl",
                                     "--rate", "200", "--set", bootstrap});
    INFO(result.err);
    REQUIRE(result.code == 0);
    // The 100th event is due 99/200 s after the first.
    CHECK(std::chrono::steady_clock::now() - start >= 400ms);
    CHECK_THAT(result.out, Catch::Contains("100 delivered, 0 failed"));
  }
  SECTION("--speed 10: events a second apart in the log go out 100 ms apart") {
    const auto start = std::chrono::steady_clock::now();
    const CliResult result = RunCli({"produce", "--input", WriteClicks(dir, 6), "--format", "jsonl",
                                     "--speed", "10", "--set", bootstrap});
    INFO(result.err);
    REQUIRE(result.code == 0);
    CHECK(std::chrono::steady_clock::now() - start >= 450ms);
    CHECK_THAT(result.out, Catch::Contains("6 delivered, 0 failed"));
  }
}

TEST_CASE("produce warns when a replay could outrun the embedded broker's partitions", "[apps][kafka]") {
  KafkaFixture kafka;
  testing::TempDir dir;
  // About 70 bytes per event: 90k events are over 5 MiB on one partition.
  const CliResult result = RunCli({"produce", "--input", WriteClicks(dir, 90000), "--format", "jsonl",
                                   "--set", "kafka.bootstrap.servers=" + kafka.bootstrap()});
  INFO(result.err);
  CHECK(result.code == 0);
  CHECK_THAT(result.err, Catch::Contains("MiB per partition of 'events'"));
  CHECK_THAT(result.err, Catch::Contains("If the broker is streamrec's embedded broker"));
}

TEST_CASE("produce rejects bad flags naming them, before any connection", "[apps]") {
  testing::TempDir dir;
  const std::string input = WriteClicks(dir, 3);
  // An address nothing listens on: the flags must fail first.
  const std::string bootstrap = "kafka.bootstrap.servers=127.0.0.1:1";
  const auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"produce", "--input", input, "--set", bootstrap};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(args);
  };
  const auto expect_usage_error = [](const CliResult& result, const std::string& flag) {
    INFO(result.err);
    CHECK(result.code == 2);
    CHECK_THAT(result.err, Catch::Contains(flag));
  };
  expect_usage_error(run({"--format", "jsonl", "--rate", "abc"}), "--rate");
  expect_usage_error(run({"--format", "jsonl", "--rate", "0"}), "--rate");
  expect_usage_error(run({"--format", "jsonl", "--speed", "-2"}), "--speed");
  expect_usage_error(run({"--format", "jsonl", "--rate", "10", "--speed", "2"}), "--speed");
  expect_usage_error(run({"--format", "csv"}), "--format");
  expect_usage_error(run({"--format", "jsonl", "--limit", "0"}), "--limit");
  expect_usage_error(RunCli({"produce", "--format", "jsonl"}), "--input");
  expect_usage_error(run({"--format", "jsonl", "--set", "kafka.linger.ms=soon"}), "linger.ms");
}

TEST_CASE("produce fails when the log cannot be read", "[apps]") {
  const CliResult result = RunCli({"produce", "--input", "/nonexistent/events.jsonl", "--format", "jsonl"});
  CHECK(result.code == 1);
  CHECK_THAT(result.err, Catch::Contains("/nonexistent/events.jsonl"));
}

TEST_CASE("broker rejects bad flags naming them", "[apps]") {
  const CliResult port = RunCli({"broker", "--port", "70000"});
  CHECK(port.code == 2);
  CHECK_THAT(port.err, Catch::Contains("--port"));
  const CliResult partitions = RunCli({"broker", "--partitions", "0"});
  CHECK(partitions.code == 2);
  CHECK_THAT(partitions.err, Catch::Contains("--partitions"));
}

}  // namespace
}  // namespace streamrec::apps
