#pragma once

// Test fixture for the kafka component: an embedded broker per test and
// client configs tuned for it. A candidate for tests/support/ once other
// components (ingest, serving, integration) need a broker too.

#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/kafka/config.h"
#include "streamrec/kafka/consumer.h"
#include "streamrec/kafka/embedded_broker.h"
#include "streamrec/kafka/producer.h"
#include "support/test_support.h"

namespace streamrec::testing {

using namespace std::chrono_literals;

// A running mock cluster with the pipeline's topics.
class KafkaFixture {
 public:
  explicit KafkaFixture(const kafka::BrokerOptions& options = {}) {
    auto broker = kafka::EmbeddedBroker::Start(options);
    REQUIRE_RESULT_OK(broker);
    broker_.emplace(std::move(broker).value());
  }

  kafka::EmbeddedBroker& broker() { return *broker_; }
  const std::string& bootstrap() const { return broker_->bootstrap_servers(); }

  // Low-latency settings the embedded broker needs (see kafka/README.md).
  kafka::KafkaConfig ProducerConfig() const {
    kafka::KafkaConfig config;
    REQUIRE_OK(config.Set("bootstrap.servers", bootstrap()));
    REQUIRE_OK(config.Set("linger.ms", "1"));
    REQUIRE_OK(config.Set("reconnect.backoff.max.ms", "1000"));
    return config;
  }

  // A consumer config in a group of its own unless `group` is given.
  kafka::KafkaConfig ConsumerConfig(std::optional<std::string> group = std::nullopt) const {
    static std::atomic<int> counter{0};
    kafka::KafkaConfig config;
    REQUIRE_OK(config.Set("bootstrap.servers", bootstrap()));
    REQUIRE_OK(config.Set("group.id", group.value_or("test-group-" + std::to_string(counter++))));
    REQUIRE_OK(config.Set("auto.offset.reset", "earliest"));
    REQUIRE_OK(config.Set("session.timeout.ms", "6000"));
    REQUIRE_OK(config.Set("heartbeat.interval.ms", "500"));
    REQUIRE_OK(config.Set("fetch.wait.max.ms", "5"));
    REQUIRE_OK(config.Set("reconnect.backoff.max.ms", "1000"));
    return config;
  }

 private:
  std::optional<kafka::EmbeddedBroker> broker_;
};

// Polls until `count` records arrived or `timeout` passed.
inline std::vector<kafka::Message> ConsumeN(kafka::Consumer& consumer, size_t count,
                                            std::chrono::milliseconds timeout = 8000ms) {
  std::vector<kafka::Message> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer.Poll(count - out.size(), 100ms);
    REQUIRE_RESULT_OK(batch);
    for (auto& m : *batch) out.push_back(std::move(m));
  }
  return out;
}

// Polls until every assigned partition was read to its end.
inline std::vector<kafka::Message> ConsumeToEnd(kafka::Consumer& consumer,
                                                std::chrono::milliseconds timeout = 8000ms) {
  std::vector<kafka::Message> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!consumer.AtEndOfAllPartitions() && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer.Poll(1000, 100ms);
    REQUIRE_RESULT_OK(batch);
    for (auto& m : *batch) out.push_back(std::move(m));
  }
  return out;
}

// Runs a shell command and returns its exit code and standard output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace streamrec::testing
