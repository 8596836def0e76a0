#pragma once

// RefreshWorker: computes and publishes fresh lists away from the learner.
//
// The learner thread hands it, in order, what each batch changed: touched
// users (with their query: effective vector, seen items), forgotten users
// (their tombstones) and changed item rows. The worker keeps its own
// ItemSnapshot, coalesces touches in a Refresher (stalest first, at most one
// refresh per min_interval), computes batched top-N on the snapshot and
// publishes through its own Publisher. So ingest never waits on top-N, and
// top-N never reads the model while it changes.
//
// Ordering: commands are applied in the order given, between two rounds of
// top-N. A tombstone is therefore published after any list of that user
// computed before the forget, and a touch given after a forget yields a list
// after the tombstone: the compacted topic ends as the learner decided.
//
// Two modes (RefreshWorkerOptions::own_thread):
//  - own thread (default): the worker thread runs rounds as users fall due;
//  - inline: nothing runs until RunInline() is called, on the caller's
//    thread, which then does one round. Deterministic interleaving of
//    learning and publishing, as the crash tests and debugging want.
//
// Thread-safety: every method may be called from one other thread (the
// learner's) while the worker runs; the observer runs on the worker's
// thread (or RunInline's caller).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "streamrec/base/status.h"
#include "streamrec/schemas/event.h"
#include "streamrec/serving/approximate_index.h"
#include "streamrec/serving/item_snapshot.h"
#include "streamrec/serving/publisher.h"
#include "streamrec/serving/refresher.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::serving {

struct RefreshWorkerOptions {
  int dim = 128;
  uint32_t top_n = 10;
  // Users per top-N round (one blocked GEMM).
  size_t batch = 256;
  std::chrono::milliseconds min_interval{100};
  // How long a touched user may wait for others to share its round (see
  // Refresher). Default: 0, a round as soon as a user is due.
  std::chrono::milliseconds gather{0};
  bool own_thread = true;
  PublisherOptions publisher;
  // How warm users are ranked (serving.index). Default: kExact.
  enum class Ranking {
    // Score every item in float.
    kExact,
    // Re-score the candidates of an HNSW index (ApproximateIndex). The
    // worker builds the index on its own thread, serving exact lists
    // meanwhile, then keeps it up to date with the item rows it receives.
    kHnsw,
    // Re-score the best candidates by int8 scores over every item
    // (TopNQuantized); the snapshot keeps the int8 copy, each row quantized
    // again as it changes, so lists are approximate from the start.
    kSq8,
  };
  Ranking ranking = Ranking::kExact;
  // kHnsw's index; `index.candidates` is kSq8's candidates per list too.
  ApproximateIndexOptions index;
  // Every this-many approximate lists, one is also computed exactly and the
  // overlap counted (RefreshCounters::recall): recall@N measured online.
  // An exact list costs ~10x an approximate one, so 1 in 1000 keeps the
  // check near 1% of the worker (1 in 100 was 14% at 5k events/s). 0 = never.
  uint32_t recall_every = 1000;
};

struct RefreshCounters {
  uint64_t lists = 0;              // lists published
  uint64_t rounds = 0;             // top-N rounds computed (lists / rounds: users a round)
  uint64_t approximate_lists = 0;  // of which ranked through the index (kHnsw) or int8 scores (kSq8)
  bool index_ready = false;        // the index holds every item (kSq8: from the start)
  uint64_t recall_lists = 0;       // approximate lists also computed exactly
  ListOverlap recall_overlap;      // of those lists with their exact ones
  Int8ScanWork sq8_work;           // kSq8: the int8 scans' work, and what the bound saved
  // recall@N over the checked lists; 1 before any check.
  double recall() const { return recall_overlap.recall(); }
};

// A list handed to Kafka: which items it holds.
struct PublishedList {
  UserIndex user;
  std::vector<ItemIndex> items;
};

// What the worker tells the learner thread (RefreshWorker::TakeReport).
struct RefreshReport {
  std::vector<Acknowledged> acknowledged;  // lists and tombstones Kafka acknowledged
  std::vector<PublishedList> published;    // lists handed to Kafka, in order
  Status delivery_error;                   // a failed delivery (stays pending in the store)
};

// Sees every list right after it is handed to Kafka, with the touch it
// answers. Runs on the worker's thread.
using ListObserver = std::function<void(const schemas::RecommendationList&, const DueUser&)>;

class RefreshWorker {
 public:
  [[nodiscard]] static Result<std::unique_ptr<RefreshWorker>> Create(RefreshWorkerOptions options,
                                                                    ListObserver observer = {});
  // Stops the thread without publishing what waits (see Finish).
  ~RefreshWorker();

  // The user's list is due (coalesced with earlier touches).
  void Touch(DueUser touch);
  // A batch's touches at once: one hand-over, one wake-up of the worker.
  void Touch(std::vector<DueUser> touches);
  // The user is gone: drop any waiting touch and publish a tombstone for
  // `user_id`, pending in store batch `batch_seq`. `user` may be empty for
  // a user the model no longer knows (a tombstone owed from before a crash).
  void Forget(std::optional<UserIndex> user, std::string user_id, uint64_t batch_seq);
  // Item rows changed by a batch (or all of them, at start).
  void UpdateItems(std::vector<ItemUpdate> updates);

  // The learner applied a batch; `backlog`: the consumer is behind (more
  // than a batch of records waits). While it catches up the worker's thread
  // computes one round per batch rather than back to back: on two cores a
  // worker at full speed took the CPU that learning and persisting need,
  // to publish lists the next batch made stale at once. Touches coalesce
  // meanwhile; Finish still publishes every list owed. Inline mode runs one
  // round per batch anyway.
  void Pace(bool backlog);

  // Inline mode: one round on this thread (commands, due lists, Kafka's
  // delivery reports). Own-thread mode: returns the worker's first error.
  [[nodiscard]] Status RunInline();
  // Publishes every waiting list regardless of min_interval, waits up to
  // `timeout` for Kafka to acknowledge everything, and stops the thread.
  [[nodiscard]] Status Finish(std::chrono::milliseconds timeout);

  // Takes what happened since the last call.
  RefreshReport TakeReport();
  // Users whose list is owed (waiting in the refresher or in commands).
  size_t waiting() const;
  // The worker's first error (a Publish refused); OK while it runs.
  Status error() const;
  RefreshCounters counters() const;

 private:
  struct Impl;
  explicit RefreshWorker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::serving
