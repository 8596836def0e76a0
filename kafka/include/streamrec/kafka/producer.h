#pragma once

// Producer: an RAII librdkafka producer with per-message delivery reports.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "streamrec/base/ids.h"
#include "streamrec/base/status.h"
#include "streamrec/kafka/config.h"
#include "streamrec/kafka/message.h"

namespace streamrec::kafka {

// One record to send. The views need to stay valid only for the Produce call:
// librdkafka copies everything before it returns.
struct ProducerRecord {
  std::string_view topic;
  // nullopt: librdkafka's partitioner picks the partition from the key
  // (consistent_random: same key, same partition; null key, random).
  std::optional<PartitionId> partition;
  std::optional<std::string_view> key;    // nullopt: null key
  std::optional<std::string_view> value;  // nullopt: null value, a tombstone
  std::span<const Header> headers;
  // ms since the epoch; nullopt: librdkafka stamps the send time.
  std::optional<int64_t> timestamp_ms;
  // Opaque to the producer; echoed in this record's DeliveryReport so the
  // caller can tell which of its records was acknowledged.
  uint64_t tag = 0;
};

// The fate of one produced record, reported exactly once per accepted
// Produce call (unless the Producer is destroyed first).
struct DeliveryReport {
  uint64_t tag = 0;  // ProducerRecord::tag
  std::string topic;
  PartitionId partition;  // -1 when the record never got a partition
  KafkaOffset offset;     // meaningful only when status is OK
  std::optional<std::string> key;
  // OK: the broker acknowledged the record (per `acks`, default all). Else
  // why it was not written (timed out, rejected, purged at destruction).
  Status status;
};

using DeliveryCallback = std::function<void(const DeliveryReport&)>;

struct ProducerOptions {
  // librdkafka properties. Applied after streamrec's defaults, so each of
  // these can be overridden:
  //   enable.idempotence=true  (no duplicates or reordering from retries)
  // Compression, batching and security are set here too, e.g.
  // compression.type=lz4, linger.ms=5, security.protocol=SASL_SSL.
  KafkaConfig config;

  // Called once per accepted record when librdkafka knows its fate. It runs
  // on the thread calling Poll, Flush or Produce (the latter only while the
  // local queue is full), never on a librdkafka thread, so it needs no lock
  // against that thread. May be empty.
  DeliveryCallback on_delivery;

  // How long Produce keeps serving delivery reports while librdkafka's local
  // queue is full (queue.buffering.max.messages / .kbytes) before giving up
  // with Unavailable. Default: 10 s.
  std::chrono::milliseconds queue_full_timeout{10000};
};

// A Kafka producer.
//
// Lifecycle: Create() builds and starts the client (connections are made
// lazily). Produce() enqueues; Poll() or Flush() must be called regularly to
// run delivery callbacks. The destructor does not wait: records not yet
// acknowledged are purged without a report, so call Flush() first when they
// matter.
//
// Thread-safety: Produce, Poll, Flush, InFlight, PartitionCount and
// FatalError may be called from any thread concurrently; the delivery
// callback then runs on whichever thread polls (on several at once if
// several poll, so poll from one thread to keep it lock-free). Movable; a
// moved-from Producer may only be destroyed or assigned to.
class Producer {
 public:
  // Fails with InvalidArgument naming the property when librdkafka rejects
  // the configuration (e.g. enable.idempotence with acks=1).
  [[nodiscard]] static Result<Producer> Create(ProducerOptions options);

  Producer(Producer&&) noexcept;
  Producer& operator=(Producer&&) noexcept;
  ~Producer();

  // Enqueues one record. OK means accepted: its DeliveryReport will follow.
  // Fails (and no report follows) when the queue stays full for
  // queue_full_timeout (Unavailable), the record is too large or the
  // partition does not exist (InvalidArgument / NotFound), or the producer
  // hit a fatal error (FailedPrecondition; see FatalError).
  [[nodiscard]] Status Produce(const ProducerRecord& record);

  // Serves delivery reports and client events for up to `timeout`; returns
  // how many events were served.
  int Poll(std::chrono::milliseconds timeout);

  // Waits up to `timeout` until every accepted record has been reported,
  // running the delivery callbacks. Unavailable if some are still pending.
  [[nodiscard]] Status Flush(std::chrono::milliseconds timeout);

  // Records accepted but not yet reported, plus client requests in flight.
  size_t InFlight() const;

  // The partition count of `topic` from broker metadata (may auto-create the
  // topic where the broker allows it).
  [[nodiscard]] Result<int> PartitionCount(const std::string& topic,
                                           std::chrono::milliseconds timeout);

  // OK, or the fatal error that stopped this producer (e.g. the idempotent
  // producer lost its sequence); a new Producer is then needed.
  Status FatalError() const;

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::kafka
