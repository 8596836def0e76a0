#pragma once

// Pipeline: the streaming loop of `streamrec run` and `streamrec demo`,
// wiring ingest -> learner -> store -> refresher -> publisher (DESIGN.md
// "Processing loop and guarantees"):
//   1. poll a batch (invalid records are dead-lettered by the Ingestor);
//   2. apply the valid events and catalog records to the in-memory model;
//   3. write one atomic store batch: changed rows, touched users as pending,
//      acknowledged lists cleared from pending, next offsets. The write runs
//      on a writer thread while the next batch is polled and learned; one
//      write is in flight at a time, and step 4 waits for it;
//   4. once the write is durable: hand the refresh worker (serving/) the
//      batch's item rows, tombstones and touched users; commit the offsets
//      to Kafka (for lag tools);
//   5. the worker refreshes the stalest due users (batched top-N) and
//      publishes their lists, on its own thread (serving.refresh_thread).
// On start the model is loaded from the store and pending users are
// refreshed first; consumption resumes at the stored offsets.
//
// Thread-safety: Run() drives the loop on the calling thread (with the
// store writer's and the worker's threads beside it); Stop() and Stats()
// may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/apps/config.h"
#include "streamrec/base/status.h"
#include "streamrec/schemas/event.h"

namespace streamrec::apps {

class PipelineBackend;

struct PipelineStats {
  uint64_t batches = 0;
  uint64_t events_applied = 0;
  uint64_t duplicates = 0;
  uint64_t forgotten = 0;
  uint64_t approximate_lists = 0;   // ranked through the HNSW index (serving.index)
  bool index_ready = false;         // the index holds every item
  uint64_t index_recall_lists = 0;  // approximate lists also computed exactly
  double index_recall = 1;          // recall@N of those, against exact
  double sq8_skipped_share = 0;     // serving.index=sq8: share of the int8 work the score bound saved
  uint64_t expired_users = 0;  // removed after learner.user_ttl of inactivity
  uint64_t retired_items = 0;  // retired after learner.item_retire unavailable
  uint64_t items_applied = 0;
  uint64_t dead_lettered = 0;
  uint64_t lists_published = 0;
  uint64_t refresh_rounds = 0;  // top-N rounds of the refresh worker
  uint64_t lists_acknowledged = 0;
  uint64_t users_waiting = 0;
  uint64_t users = 0;
  uint64_t items = 0;
};

// A list on its way to Kafka, on the refresh worker's thread, with the wall
// clock (ms) when its user was touched: when the batch that last changed
// the user was stored.
using ListCallback = std::function<void(const schemas::RecommendationList& list, int64_t touched_at_ms)>;

class Pipeline {
 public:
  // Opens the store at settings.state.dir, loads the model, connects to
  // Kafka. Fails with a clear Status (bad config, store of another
  // fingerprint, unreachable broker is only detected later by polling).
  [[nodiscard]] static Result<std::unique_ptr<Pipeline>> Open(const Settings& settings);
  ~Pipeline();

  // Runs until Stop(), or, with `stop_when_idle`, once every assigned
  // partition has been read to its end and nothing arrived for that long
  // (and every owed list is published). Then finishes the batch in hand,
  // publishes what is owed, flushes and commits. `on_list` (optional) sees
  // every list as it is handed to Kafka (the demo's terminal view; the
  // freshness bench's split of each latency).
  [[nodiscard]] Status Run(std::optional<std::chrono::milliseconds> stop_when_idle,
                           const ListCallback& on_list = {});
  void Stop();
  PipelineStats Stats() const;
  // Lets the HTTP server in (pipeline_backend.h): each loop iteration
  // `backend` answers its queued requests, and it sees every batch and
  // published list (metrics, /v1/stream). Call before Run; it must outlive
  // Run.
  void AttachBackend(PipelineBackend* backend);

 private:
  struct Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::apps
