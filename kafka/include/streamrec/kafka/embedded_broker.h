#pragma once

// EmbeddedBroker: an in-process Kafka-protocol broker for development, tests
// and demos — librdkafka's mock cluster on 127.0.0.1 — and the
// `streamrec broker` command built on it.
//
// What the mock is not (see kafka/README.md and DESIGN.md): memory only; each
// partition keeps about 5 MiB or 100k batches and silently drops the oldest;
// no admin API, compaction or retention; unknown topics are auto-created with
// 4 partitions; a rebalance waits about session.timeout.ms; new ephemeral
// ports at every start. Production uses Apache Kafka.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/base/status.h"

namespace streamrec::kafka {

// What the mock keeps per partition (librdkafka 2.0.2): past either bound it
// drops the oldest batches without a word, so a consumer behind them is
// reset per auto.offset.reset (use `error` to notice). Producers can size
// replays against these.
inline constexpr int64_t kMockPartitionMaxBytes = 5 * 1024 * 1024;
inline constexpr int64_t kMockPartitionMaxBatches = 100000;

struct BrokerOptions {
  // Brokers in the cluster (ids 1..N); all share one thread. Default: 1.
  int brokers = 1;
  // Partitions of each topic in `topics`. Default: 1.
  int partitions = 1;
  // Topics created at start. Default: the pipeline's topics.
  std::vector<std::string> topics = {"events", "items", "recommendations", "events.dlq"};
  // A fixed bootstrap port on 127.0.0.1, served by an in-process TCP forwarder
  // to the mock's own bootstrap port (the mock binds only ephemeral ports);
  // clients then follow the advertised broker ports. 0 picks a free port.
  // Default: nullopt, no forwarder; the bootstrap is the mock's own address.
  std::optional<uint16_t> port;
};

// Kafka protocol request types (Kafka's ApiKeys numbering) for fault
// injection.
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kInitProducerId = 22,
};

// A running mock cluster.
//
// Lifecycle: Start() creates the cluster and topics (and the forwarder) and
// returns when clients can connect; destruction closes the forwarder's
// connections and destroys the cluster with all its data. Destroy clients
// first: a client outliving its broker only sees connection errors.
//
// Thread-safety: every method may be called from any thread (the cluster
// runs on its own thread and takes requests through a queue). Movable.
class EmbeddedBroker {
 public:
  // Fails with InvalidArgument for bad options, Unavailable when the fixed
  // port cannot be bound, Internal when the mock cannot start.
  [[nodiscard]] static Result<EmbeddedBroker> Start(const BrokerOptions& options);

  EmbeddedBroker(EmbeddedBroker&&) noexcept;
  EmbeddedBroker& operator=(EmbeddedBroker&&) noexcept;
  ~EmbeddedBroker();

  // "127.0.0.1:PORT" of the forwarder when a port was requested, else the
  // mock's own bootstrap list.
  const std::string& bootstrap_servers() const;
  // The mock's own bootstrap list ("127.0.0.1:P1,127.0.0.1:P2,...").
  const std::string& mock_bootstrap_servers() const;
  int broker_count() const;

  // Creates a topic (replication min(brokers, 3)); an existing topic is left
  // as it is.
  [[nodiscard]] Status CreateTopic(const std::string& topic, int partitions);

  // Fault injection, thin passthroughs to rdkafka_mock.h.
  // Broker ids are 1..broker_count().
  [[nodiscard]] Status SetBrokerDown(int32_t broker_id);
  [[nodiscard]] Status SetBrokerUp(int32_t broker_id);
  [[nodiscard]] Status SetBrokerRtt(int32_t broker_id, std::chrono::milliseconds rtt);
  [[nodiscard]] Status SetPartitionLeader(const std::string& topic, PartitionId partition,
                                          int32_t broker_id);
  // The next requests of type `api`, on any broker, fail with these Kafka
  // protocol error codes in order (e.g. 6 NOT_LEADER_OR_FOLLOWER, 7
  // REQUEST_TIMED_OUT); -195 (librdkafka's "transport") drops the connection.
  void PushRequestErrors(KafkaApi api, const std::vector<int>& error_codes);
  void ClearRequestErrors(KafkaApi api);

 private:
  struct Impl;
  explicit EmbeddedBroker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `streamrec broker`: starts an EmbeddedBroker, writes one line
// "bootstrap=127.0.0.1:PORT" to `out` and a human description to `err`,
// then waits for SIGINT or SIGTERM and stops the broker. Returns OK on such a
// stop, or why the broker could not start.
//
// Signals: it blocks SIGINT and SIGTERM in the calling thread before starting
// the broker (so the broker's threads inherit the mask) and takes them with
// sigwait(); the previous mask is restored on return. Threads the process
// started earlier must block them too, or a signal could kill it there.
[[nodiscard]] Status RunBrokerCommand(const BrokerOptions& options, std::ostream& out,
                                      std::ostream& err);

}  // namespace streamrec::kafka
