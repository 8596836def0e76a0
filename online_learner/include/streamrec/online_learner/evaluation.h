#pragma once

// Prequential evaluation: for each event in time order, every model ranks the
// event's item among all items known so far (the user's earlier items
// excluded) before it learns from the event; then every model learns.
// Items tied with the target count as ranked above it. An event repeating an
// earlier (user, item) pair is learned from but not scored.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "streamrec/base/status.h"
#include "streamrec/online_learner/baselines.h"
#include "streamrec/online_learner/expiry.h"
#include "streamrec/online_learner/id_map.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/online_learner/recommender.h"
#include "streamrec/schemas/event.h"

namespace streamrec::online_learner {

// Every model's options in one place.
struct LearnerOptions {
  IsgdOptions isgd;
  PopularityDecayOptions popularity_decay;
  ItemKnnOptions item_knn;
  // Idle-user expiry and unavailable-item retirement (expiry.h), applied by
  // the Learner (`run`) and by Evaluate alike. Default: off.
  ExpiryOptions expiry;
};

// Names: "isgd", "popularity", "popularity-decay", "item-knn".
Result<std::unique_ptr<Recommender>> MakeRecommender(std::string_view name,
                                                     const LearnerOptions& options);
std::vector<std::string_view> RecommenderNames();

struct EvaluationOptions {
  // List length N of recall@N, NDCG@N, MRR@N. Default: 10.
  uint32_t top_n = 10;
  // Coverage and popularity bias come from the full top-N lists of every
  // k-th scored event (a deterministic sample). Default: 50.
  uint32_t list_sample_every = 50;
  // Events per point of the sliding-window recall curve. Default: 1000.
  uint32_t curve_window = 1000;
  // Event ids remembered to drop redelivered events, as the pipeline does
  // (learner.dedup_window). Default: 100000.
  size_t dedup_window = 100000;
  // Users idle longer than the TTL (stream time) are removed from every
  // model as if forgotten, exactly when the pipeline's Learner removes them
  // (learner.user_ttl). item_retire_ms has no effect here: a log file holds
  // no catalog updates, so no item is ever unavailable. Pass an IdMap for
  // users built with reuse_erased = (user_ttl_ms > 0), as the Learner's is,
  // so the stored model equals the pipeline's. Default: off.
  ExpiryOptions expiry;
};

struct ModelReport {
  std::string name;
  double recall = 0;           // hits / scored events
  double ndcg = 0;             // mean 1/log2(rank + 2) over hits, 0 for misses
  double mrr = 0;              // mean 1/(rank + 1) over hits, 0 for misses
  double coverage = 0;         // distinct items in sampled lists / items known at the end
  double popularity_bias = 0;  // mean popularity percentile (0..1) of sampled list items
  double events_per_second = 0;  // this model's rank + learn time only
  std::vector<double> recall_curve;  // recall of each window of scored events
};

struct EvaluationReport {
  uint32_t top_n = 0;
  uint64_t events = 0;         // events replayed
  uint64_t scored_events = 0;  // events that were ranked (first (user, item) pairs)
  uint32_t curve_window = 0;
  uint64_t expired_users = 0;  // removed by options.expiry
  std::optional<int64_t> stream_time_ms;  // newest event ts replayed (duplicates aside)
  std::vector<ModelReport> models;
};

// Replays `events` (already in time order). The id maps are filled as ids
// appear, so a caller can store the ISGD model afterwards. Duplicates (same
// event_id within the window) are dropped, as the pipeline's Learner does.
EvaluationReport Evaluate(const std::vector<schemas::Event>& events,
                          const std::vector<Recommender*>& models,
                          const EvaluationOptions& options, IdMap& users, IdMap& items);

}  // namespace streamrec::online_learner
