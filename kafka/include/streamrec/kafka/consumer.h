#pragma once

// Consumer: an RAII librdkafka consumer with manual offsets, caller-chosen
// start offsets on assignment, batched polling and end-of-partition tracking.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/base/status.h"
#include "streamrec/kafka/config.h"
#include "streamrec/kafka/message.h"

namespace streamrec::kafka {

// Where to start reading a newly assigned partition: the next offset to read,
// or nullopt to start from the group's committed offset, else per
// auto.offset.reset. This is how offsets stored outside Kafka (RocksDB) win
// over Kafka's own.
using StartOffsetFn = std::function<std::optional<KafkaOffset>(const TopicPartition&)>;

enum class RebalanceKind {
  kAssigned,  // told after the partitions were assigned
  kRevoked,   // told before they are given up: a last chance to commit
  kLost,      // the group already took them away (commits would be refused)
};
using RebalanceFn = std::function<void(RebalanceKind, const std::vector<TopicPartition>&)>;

struct ConsumerOptions {
  // librdkafka properties; needs bootstrap.servers and group.id. Offsets are
  // managed by the caller, so these are fixed and setting them otherwise
  // fails: enable.auto.commit=false, enable.auto.offset.store=false,
  // enable.partition.eof=true. Worth setting: auto.offset.reset (earliest,
  // latest, or error to refuse a silent skip), partition.assignment.strategy
  // (cooperative-sticky is supported), session.timeout.ms, fetch.wait.max.ms.
  KafkaConfig config;
  // Asked once per partition as it is assigned. Empty: always nullopt.
  StartOffsetFn start_offset;
  // Told about each assignment change. May be empty.
  RebalanceFn on_rebalance;
};

// Consumer progress on one assigned partition, from the client's local view
// (no request is sent): the high watermark is the one the last fetch saw.
struct PartitionLag {
  TopicPartition partition;
  std::optional<KafkaOffset> position;        // next offset this consumer reads
  std::optional<KafkaOffset> high_watermark;  // offset the next record will get
  std::optional<int64_t> lag;                 // high_watermark - position
};

struct Watermarks {
  KafkaOffset low;   // oldest offset the broker still holds
  KafkaOffset high;  // offset the next record will get
};

// A Kafka consumer: a group member (Subscribe) or a static reader (Assign).
//
// Lifecycle: Create, then Subscribe or Assign, then Poll in a loop, committing
// offsets as work is made durable; Close leaves the group cleanly (the
// destructor closes if Close was not called). StartOffsetFn and RebalanceFn
// run inside Poll and Close, so whatever they reference must outlive those
// calls.
//
// Thread-safety: none; use a Consumer from one thread at a time. Callbacks
// run on that thread. Movable; a moved-from Consumer may only be destroyed or
// assigned to.
class Consumer {
 public:
  // Fails with InvalidArgument naming the property when the configuration is
  // refused (by librdkafka, or a managed key set otherwise, or no group.id).
  [[nodiscard]] static Result<Consumer> Create(ConsumerOptions options);

  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;
  ~Consumer();

  // Joins the consumer group for these topics; partitions arrive through
  // Poll (the group's rebalance runs there).
  [[nodiscard]] Status Subscribe(const std::vector<std::string>& topics);

  // Reads exactly these partitions, without group membership (offsets can
  // still be committed under group.id). Start offsets follow StartOffsetFn
  // as for a group assignment; on_rebalance is told kAssigned.
  [[nodiscard]] Status Assign(const std::vector<TopicPartition>& partitions);

  // Returns up to `max_messages` records: waits at most `timeout` for the
  // first, then at most `linger` for more (0: only records librdkafka has
  // already fetched, so a batch never waits to fill). Transient broker and network trouble is
  // logged and retried by librdkafka; errors that need the caller come back
  // as a Status: an offset the broker no longer has with auto.offset.reset=
  // error (FailedPrecondition, naming topic, partition and offset), missing
  // topics (NotFound), authorisation and fatal errors. Records read before
  // such an error are returned first, the error on the next call.
  [[nodiscard]] Result<std::vector<Message>> Poll(size_t max_messages, std::chrono::milliseconds timeout,
                                                  std::chrono::milliseconds linger = std::chrono::milliseconds(0));

  // Commits these next-to-read offsets to the group coordinator and waits
  // for the answer. Partitions need not be assigned to this consumer.
  [[nodiscard]] Status CommitOffsets(const OffsetMap& next_offsets);
  // The same without waiting: the commit is queued and its outcome is not
  // reported (a lost commit leaves the group's offsets behind until the
  // next one). For callers whose own offsets are the ones that count, so a
  // slow or absent coordinator never stalls them. Fails only on bad input.
  [[nodiscard]] Status CommitOffsetsAsync(const OffsetMap& next_offsets);

  // The group's committed next-to-read offsets for these partitions; a
  // partition with none committed is absent from the map.
  [[nodiscard]] Result<OffsetMap> Committed(const std::vector<TopicPartition>& partitions,
                                            std::chrono::milliseconds timeout);

  // The partitions currently assigned, in order.
  std::vector<TopicPartition> Assignment() const;

  // True once partitions are assigned and every one of them has been read to
  // its end (its high watermark as of the last fetch); false again as soon
  // as a new record arrives on any of them.
  bool AtEndOfAllPartitions() const;

  // Position, high watermark and lag of every assigned partition.
  std::vector<PartitionLag> Lag() const;

  // Asks the partition leader for the partition's current watermarks.
  [[nodiscard]] Result<Watermarks> QueryWatermarks(const TopicPartition& partition,
                                                   std::chrono::milliseconds timeout);

  // Leaves the group (running the final kRevoked) and stops fetching. Idempotent.
  [[nodiscard]] Status Close();

 private:
  struct Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::kafka
