#pragma once

// Publisher: sends fresh recommendation lists (and tombstones for forgotten
// users) to the `recommendations` topic, keyed by user id, through an
// idempotent producer, and tells which ones Kafka acknowledged so the
// pipeline can clear them from the store's `pending` set.
//
// Lifecycle: Create, Publish/PublishTombstone, Poll regularly,
// TakeAcknowledged after polling, Flush before destruction.
// Thread-safety: none; the pipeline thread owns it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "streamrec/base/status.h"
#include "streamrec/kafka/config.h"
#include "streamrec/schemas/event.h"

namespace streamrec::serving {

struct PublisherOptions {
  // Default: recommendations.
  std::string topic = "recommendations";
  // Producer properties (kafka.* keys), passed verbatim.
  kafka::KafkaConfig producer_config;
};

// A list (or tombstone) Kafka has acknowledged.
struct Acknowledged {
  std::string user_id;
  uint64_t batch_seq = 0;  // the list's seq: the store batch it reflects
  int64_t source_event_ts_ms = 0;
  bool tombstone = false;
};

struct PublisherCounters {
  uint64_t lists = 0;
  uint64_t tombstones = 0;
  uint64_t acknowledged = 0;
  uint64_t failed = 0;
};

class Publisher {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Publisher>> Create(const PublisherOptions& options);
  ~Publisher();

  // Enqueues the list; its seq must be the store batch it reflects.
  [[nodiscard]] Status Publish(const schemas::RecommendationList& list);
  // Enqueues a null value for the user's key: compaction then drops the
  // user's lists, and consumers see the user is gone.
  // `batch_seq` is the store batch that forgot the user (the tombstone is
  // pending there until acknowledged).
  [[nodiscard]] Status PublishTombstone(const std::string& user_id, uint64_t batch_seq);
  // Serves delivery reports for up to `timeout`.
  void Poll(std::chrono::milliseconds timeout);
  // Waits until everything enqueued is acknowledged or failed.
  [[nodiscard]] Status Flush(std::chrono::milliseconds timeout);
  // Deliveries acknowledged since the last call, in acknowledgement order.
  std::vector<Acknowledged> TakeAcknowledged();
  // The first delivery failure since the last call (OK if none): a failed
  // list stays pending in the store and is published again after a restart.
  Status TakeDeliveryError();
  size_t InFlight() const;
  const PublisherCounters& counters() const;

 private:
  struct Impl;
  explicit Publisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::serving
