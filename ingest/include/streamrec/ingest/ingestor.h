#pragma once

// Ingestor: the consuming side of the pipeline. It polls `events` and
// `items` in batches, validates every record at the boundary (schemas/),
// sends rejected records to the dead-letter topic with their reason, and
// hands back the valid events in partition order together with the next
// offset of every partition the batch read.
//
// ingest never sees the store: stored offsets come in through OffsetSource,
// which apps/ implements with state/.
//
// Lifecycle: Create, then Next() in a loop; Commit() after the caller made a
// batch durable; Close() at the end.
// Thread-safety: none; one thread drives an Ingestor.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/base/status.h"
#include "streamrec/kafka/config.h"
#include "streamrec/kafka/consumer.h"
#include "streamrec/kafka/message.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/schemas/event.h"
#include "streamrec/schemas/reject_reason.h"

namespace streamrec::ingest {

// Where consumption of a partition resumes.
class OffsetSource {
 public:
  virtual ~OffsetSource() = default;
  // The next offset to read, or nullopt when nothing is stored (then the
  // group's committed offset, else IngestOptions::start, decides).
  virtual std::optional<KafkaOffset> NextOffset(const std::string& topic, PartitionId partition) = 0;
};

enum class StartPosition { kEarliest, kLatest };

struct IngestOptions {
  std::string events_topic = "events";
  std::string items_topic = "items";
  std::string dlq_topic = "events.dlq";
  // Most records per batch (batch.max_events). Default: 1000.
  size_t batch_max_events = 1000;
  // Longest wait for a batch's first record (batch.max_ms). Default: 20 ms.
  std::chrono::milliseconds batch_max_wait{20};
  // Longest wait for more records once a batch has one (batch.linger_ms).
  // Default: 0, a batch takes what is already fetched.
  std::chrono::milliseconds batch_linger{0};
  // Where a partition without a stored offset starts (ingest.start).
  // Default: earliest, so a replayed log is consumed whole.
  StartPosition start = StartPosition::kEarliest;
  // Event validation: how far ahead of its Kafka timestamp an event may be.
  schemas::ParseOptions parse;
  // DLQ copies of records larger than this keep only a prefix (and the
  // original size in a header). Default: the event size limit, 64 KiB.
  size_t dlq_max_value_bytes = schemas::kMaxMessageBytes;
  // Consumer and producer properties (kafka.* keys), passed verbatim.
  kafka::KafkaConfig consumer_config;
  kafka::KafkaConfig producer_config;
};

struct ConsumedEvent {
  schemas::Event event;
  PartitionId partition;
  KafkaOffset offset;
};

// One poll's worth of work.
struct Batch {
  std::vector<ConsumedEvent> events;  // valid events, in consumption order
  std::vector<schemas::Item> items;   // valid catalog records
  kafka::OffsetMap next_offsets;      // every partition read (valid or not)
  uint64_t dead_lettered = 0;
  bool empty() const { return next_offsets.empty(); }
};

// Counters since start, for metrics and the terminal view.
struct IngestCounters {
  uint64_t records = 0;
  uint64_t events = 0;
  uint64_t items = 0;
  uint64_t dead_lettered = 0;
  std::array<uint64_t, 32> dead_lettered_by_reason{};  // index = RejectReason
};

class Ingestor {
 public:
  // Creates the consumer (subscribed to events and items) and the DLQ
  // producer. `offsets` must outlive the Ingestor.
  [[nodiscard]] static Result<std::unique_ptr<Ingestor>> Create(const IngestOptions& options, OffsetSource& offsets);
  ~Ingestor();

  // Polls one batch. Rejected records are produced to the DLQ and flushed
  // before Next returns, so once the caller stores the batch's offsets no
  // rejected record can be lost. An error here (broker refuses a stored
  // offset, DLQ unreachable) stops the pipeline: nothing of the batch is
  // returned as processed.
  // `max_wait` replaces batch_max_wait for this call (0: only what is
  // already fetched).
  [[nodiscard]] Result<Batch> Next(std::optional<std::chrono::milliseconds> max_wait = std::nullopt);

  // Commits offsets to Kafka's group coordinator, for lag tools; the store's
  // offsets are the ones that count, so this does not wait for the answer
  // (a broker outage would otherwise stall the loop until the commit times
  // out, measured at several seconds after the broker is back).
  [[nodiscard]] Status Commit(const kafka::OffsetMap& next_offsets);

  // Partitions assigned and every one read to its end.
  bool AtEnd() const;
  std::vector<kafka::TopicPartition> Assignment() const;
  std::vector<kafka::PartitionLag> Lag() const;
  // Asks the partition's leader for its current low and high watermarks.
  [[nodiscard]] Result<kafka::Watermarks> QueryWatermarks(const kafka::TopicPartition& partition);
  const IngestCounters& counters() const;

  [[nodiscard]] Status Close();

 private:
  struct Impl;
  explicit Ingestor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The DLQ record for a rejected message: the original bytes (or a prefix of
// them) and the error headers of DESIGN.md. Exposed for tests.
struct DeadLetter {
  std::optional<std::string> key;
  std::string value;
  std::vector<kafka::Header> headers;
};
DeadLetter MakeDeadLetter(const kafka::Message& message, const schemas::Rejection& rejection, size_t max_value_bytes);

}  // namespace streamrec::ingest
