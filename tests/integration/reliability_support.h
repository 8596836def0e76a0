#pragma once

// Shared by the reliability tests (docs/reliability.md): an embedded broker
// with a producer, a deterministic event stream with event ids, `streamrec`
// run as a child process (so SIGKILL kill points can fire) or in-process,
// and readers of the store and of output topics.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "streamrec/apps/cli.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/state/feature_store.h"
#include "support/kafka_fixture.h"

namespace streamrec::testing {

// Valid events carry times before this; records are produced with it as
// their Kafka timestamp (the future-skew check is judged against it).
inline constexpr int64_t kReferenceTsMs = 1732350000000;
inline constexpr uint32_t kTestDim = 16;

// `count` events of `users` users over 40 items, every type but forget, with
// event ids "<prefix><k>", in time order ending before kReferenceTsMs.
inline std::vector<schemas::Event> EventStream(int count, int users = 30, const std::string& prefix = "e",
                                               int64_t first_ts = kReferenceTsMs - 3'600'000) {
  static constexpr schemas::EventType kTypes[] = {schemas::EventType::kView,      schemas::EventType::kClick,
                                                  schemas::EventType::kAddToCart, schemas::EventType::kPurchase,
                                                  schemas::EventType::kRating,    schemas::EventType::kImpression};
  std::vector<schemas::Event> out;
  for (int k = 0; k < count; ++k) {
    schemas::Event e;
    e.user_id = fmt::format("u{}", (k * 7) % users);
    e.item_id = fmt::format("i{}", (k * 13 + k / users) % 40);
    e.type = kTypes[k % 6];
    e.ts_ms = first_ts + k;
    e.event_id = fmt::format("{}{}", prefix, k);
    if (e.type == schemas::EventType::kRating) e.value = 1 + k % 5;
    out.push_back(std::move(e));
  }
  return out;
}

// Exit status of a child: its code, or 128 + the signal that killed it.
inline int RunChild(const std::string& command, std::string* output = nullptr) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  const int status = ::pclose(pipe);
  if (output) *output = text;
  if (WIFEXITED(status)) {
    // popen runs the command through sh, which reports a child killed by
    // signal S as exit code 128 + S.
    return WEXITSTATUS(status);
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

// A child process of the built binary, output to a file; SIGKILLed on
// destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, const std::string& output_path) : output_path_(output_path) {
    std::vector<std::string> argv_storage = {(BinaryDir() / "streamrec").string()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void Signal(int signal) const { ::kill(pid_, signal); }
  bool Running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Exit code, or 128 + the signal that ended it.
  int Wait() {
    int status = 0;
    if (pid_ <= 0 || ::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string Output() const {
    std::ifstream in(output_path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  pid_t pid_ = -1;
  std::string output_path_;
};

// Polls `done` every 20 ms until it holds or `timeout` passes; returns how
// long it took, or nullopt on timeout.
inline std::optional<std::chrono::milliseconds> WaitFor(const std::function<bool()>& done,
                                                        std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    if (done()) return elapsed;
    if (elapsed > timeout) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class ReliabilityFixture {
 public:
  explicit ReliabilityFixture(const kafka::BrokerOptions& options = {}) : kafka_(options) {
    auto producer = kafka::Producer::Create({.config = kafka_.ProducerConfig()});
    REQUIRE_RESULT_OK(producer);
    producer_.emplace(std::move(*producer));
  }

  void Produce(const std::string& topic, const std::optional<std::string>& key, const std::string& value) {
    kafka::ProducerRecord record;
    record.topic = topic;
    if (key) record.key = *key;
    record.value = value;
    record.timestamp_ms = kReferenceTsMs;
    REQUIRE_OK(producer_->Produce(record));
  }
  void ProduceEvent(const schemas::Event& e) { Produce("events", e.user_id, schemas::SerializeEvent(e)); }
  void ProduceEvents(const std::vector<schemas::Event>& events) {
    for (const auto& e : events) ProduceEvent(e);
    Flush();
  }
  // A new producer: one connected before a broker outage may wait out
  // librdkafka's socket.timeout.ms (60 s) on the mock (docs/reliability.md).
  void ReconnectProducer() {
    producer_.reset();
    auto producer = kafka::Producer::Create({.config = kafka_.ProducerConfig()});
    REQUIRE_RESULT_OK(producer);
    producer_.emplace(std::move(*producer));
  }
  void Flush(std::chrono::milliseconds timeout = std::chrono::seconds(10)) { REQUIRE_OK(producer_->Flush(timeout)); }

  // Settings every run of a test shares: short group timeouts for the
  // embedded broker, no HTTP server, a small model.
  std::vector<std::string> CommonSets(const std::string& state_dir) const {
    return {"--set", "kafka.bootstrap.servers=" + kafka_.bootstrap(),
            "--set", "state.dir=" + state_dir,
            "--set", "kafka.session.timeout.ms=3000",
            "--set", "kafka.heartbeat.interval.ms=500",
            "--set", "serving.min_refresh_ms=0ms",
            "--set", fmt::format("learner.dim={}", kTestDim),
            "--set", "http.listen=",
            "--set", "log.level=warn"};
  }

  // `streamrec run --stop-when-idle 1s` in this process; returns its exit code.
  int Run(const std::string& state_dir, const std::vector<std::string>& extra = {}, std::string* err_text = nullptr) {
    std::vector<std::string> args = {"run", "--stop-when-idle", "1s"};
    for (auto& a : CommonSets(state_dir)) args.push_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    const int code = apps::Run(args, out, err);
    if (err_text) *err_text = err.str();
    UNSCOPED_INFO("run " << state_dir << ": " << err.str());
    return code;
  }

  // The same as a child process of the built binary, so a kill point's
  // SIGKILL ends only the child: 137 when killed.
  int RunChildProcess(const std::string& state_dir, const std::vector<std::string>& extra,
                      std::string* output = nullptr) {
    std::string command = (BinaryDir() / "streamrec").string() + " run --stop-when-idle 1s";
    for (const auto& a : CommonSets(state_dir)) command += " '" + a + "'";
    for (const auto& a : extra) command += " '" + a + "'";
    return RunChild(command, output);
  }

  // `streamrec run` (no idle stop) as a child process, stopped by SIGTERM.
  std::unique_ptr<ChildProcess> StartChild(const std::string& state_dir, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run"};
    for (const auto& a : CommonSets(state_dir)) args.push_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, state_dir + ".out");
  }

  // Every record of a topic (all partitions), from the start.
  std::vector<kafka::Message> ReadTopic(const std::string& topic, int partitions = 1) {
    auto consumer = kafka::Consumer::Create({.config = kafka_.ConsumerConfig()});
    REQUIRE_RESULT_OK(consumer);
    std::vector<kafka::TopicPartition> assignment;
    for (int p = 0; p < partitions; ++p) assignment.push_back({topic, PartitionId(p)});
    REQUIRE_OK(consumer->Assign(assignment));
    return ConsumeToEnd(*consumer, std::chrono::seconds(15));
  }

  kafka::EmbeddedBroker& broker() { return kafka_.broker(); }
  const std::string& bootstrap() const { return kafka_.bootstrap(); }
  TempDir& dir() { return dir_; }

 private:
  KafkaFixture kafka_;
  TempDir dir_;
  std::optional<kafka::Producer> producer_;
};

inline std::unique_ptr<state::FeatureStore> OpenReadOnly(const std::string& dir) {
  auto store = state::FeatureStore::Open({.dir = dir, .read_only = true, .fingerprint = {kTestDim, "string-v1"}});
  REQUIRE_RESULT_OK(store);
  return std::move(*store);
}

// The stored next offset of events/`partition` (0 when none yet); read-only,
// so it works beside a running pipeline.
inline int64_t StoredOffset(const std::string& dir, int partition = 0) {
  auto store = state::FeatureStore::Open({.dir = dir, .read_only = true, .fingerprint = {kTestDim, "string-v1"}});
  if (!store.ok()) return 0;
  auto offsets = (*store)->ReadOffsets("events");
  if (!offsets.ok()) return 0;
  auto it = offsets->find(PartitionId(partition));
  return it == offsets->end() ? 0 : it->second.value();
}

inline state::StoreDigest DigestOf(const std::string& dir) {
  auto digest = OpenReadOnly(dir)->Digest();
  REQUIRE_RESULT_OK(digest);
  return *digest;
}

// Every user's event count: the ledger (an event lost or applied twice
// shows in its user's count).
inline std::map<std::string, uint32_t> EventCounts(const std::string& dir) {
  auto store = OpenReadOnly(dir);
  online_learner::IsgdOptions options;
  options.dim = kTestDim;
  online_learner::IsgdModel model(options);
  online_learner::IdMap users, items;
  REQUIRE_OK(store->LoadModel(model, users, items));
  std::map<std::string, uint32_t> counts;
  for (uint32_t u = 0; u < users.size(); ++u) {
    if (!users.Name(u).empty()) counts[std::string(users.Name(u))] = model.ExportUser(UserIndex(u)).event_count;
  }
  return counts;
}

inline std::map<std::string, uint32_t> ExpectedCounts(const std::vector<schemas::Event>& events) {
  std::map<std::string, uint32_t> counts;
  for (const auto& e : events) ++counts[e.user_id];
  return counts;
}

}  // namespace streamrec::testing
