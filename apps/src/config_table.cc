// The config table: one entry per key. To add a key, give its Options field a
// default member value and a comment, then add one entry here; help, docs,
// TOML and --set pick it up.

#include <string>

#include "streamrec/apps/config.h"
#include "streamrec/schemas/event.h"

namespace streamrec::apps {
namespace {

using schemas::EventType;

// The field's path spelled once: it documents the mapping and binds it.
// clang-format off
#define STREAMREC_FIELD(path) #path, [](Settings& s) -> FieldRef { return &s.path; }
// clang-format on

constexpr double kMaxInt32 = 2147483647;
constexpr double kDayMs = 24.0 * 3600 * 1000;

std::string WeightMeaning(EventType type) {
  const std::string name(schemas::EventTypeName(type));
  if (type == EventType::kRating) {
    return "Weight of each `rating` event, multiplied by value / learner.rating_scale.";
  }
  return "Weight of each `" + name + "` event as a positive example (0 = not learned from).";
}

// One key per entry reads better than one field per line.
// clang-format off
std::vector<ConfigKey> BuildTable() {
  using T = ConfigType;
  std::vector<ConfigKey> table = {
      {"learner.dim", T::kInt, 1, 1024, {},
       STREAMREC_FIELD(learner.isgd.dim),
       "Latent factors per user and item. Structural: a store made with another value refuses to open."},
      {"learner.learning_rate", T::kFloat, 0, 10, {},
       STREAMREC_FIELD(learner.isgd.learning_rate),
       "SGD step size."},
      {"learner.regularization", T::kFloat, 0, 10, {},
       STREAMREC_FIELD(learner.isgd.regularization),
       "L2 penalty applied at every step."},
      {"learner.negatives", T::kInt, 0, 1000, {},
       STREAMREC_FIELD(learner.isgd.negatives),
       "Sampled negative items (target 0) per positive event."},
      {"learner.negative_sampling", T::kString, 0, 0, {"uniform", "popularity"},
       STREAMREC_FIELD(learner.isgd.negative_sampling),
       "Where negatives come from: any item equally likely, or recent positives (popular items more often)."},
      {"learner.context_items", T::kInt, 0, 1000, {},
       STREAMREC_FIELD(learner.isgd.context_items),
       "Most recent items of a user forming its context; 0 = plain matrix factorisation."},
      {"learner.context_learning_rate_scale", T::kFloat, 0, 100, {},
       STREAMREC_FIELD(learner.isgd.context_learning_rate_scale),
       "Step size of the context vectors, as a multiple of learner.learning_rate."},
      {"learner.seed", T::kInt, 0, 4294967295.0, {},
       STREAMREC_FIELD(learner.isgd.seed),
       "Seed of every random draw (negatives, new vectors)."},
      {"learner.init_scale", T::kFloat, 0, 10, {},
       STREAMREC_FIELD(learner.isgd.init_scale),
       "Scale of new vectors: uniform in +-init_scale/sqrt(dim)."},
      {"learner.rating_scale", T::kFloat, 0.001, 1e6, {},
       STREAMREC_FIELD(learner.isgd.rating_scale),
       "Ratings are divided by this before weighting."},
      {"learner.cold_start_events", T::kInt, 0, kMaxInt32, {},
       STREAMREC_FIELD(learner.isgd.cold_start_events),
       "Users with fewer events than this are served popularity."},
      {"learner.recent_items", T::kInt, 0, 100000, {},
       STREAMREC_FIELD(learner.isgd.recent_items),
       "Items per user remembered as recent: negatives never come from them, the context is taken from them."},
      {"learner.sampler_window", T::kInt, 1, 100000000, {},
       STREAMREC_FIELD(learner.isgd.sampler_window),
       "Recent positive items that popularity negatives are drawn from."},
  };
  // One weight per event type except `forget`, which deletes instead.
  for (int i = 0; i < schemas::kEventTypeCount; ++i) {
    const auto type = static_cast<EventType>(i);
    if (type == EventType::kForget) continue;
    const std::string name(schemas::EventTypeName(type));
    table.push_back({"learner.weight." + name, T::kFloat, 0, 100, {},
                     "learner.isgd.event_weights[" + name + "]",
                     [i](Settings& s) -> FieldRef { return &s.learner.isgd.event_weights[i]; },
                     WeightMeaning(type)});
  }
  const std::vector<ConfigKey> rest = {
      {"learner.user_ttl", T::kDuration, 0, 3650 * kDayMs, {},
       STREAMREC_FIELD(learner.expiry.user_ttl_ms),
       "Users with no event for this long, in stream time (the newest event ts applied, never the wall clock), "
       "are removed exactly as a `forget` removes them (model row, store rows, a tombstone on the "
       "recommendations topic). 0 = never. Checked once per an eighth of the TTL of stream time (1 s to 1 h)."},
      {"learner.item_retire", T::kDuration, 0, 3650 * kDayMs, {},
       STREAMREC_FIELD(learner.expiry.item_retire_ms),
       "Items marked unavailable (items topic) for this long, in stream time (from the later of their last "
       "positive event and when they were marked unavailable), are retired: their vectors are zeroed and their store row deleted; their model slot is kept (users' seen "
       "lists refer to it). An item announced again later starts as a new item. 0 = never."},
      {"baselines.popularity_decay.half_life", T::kDuration, 1, 3650 * kDayMs, {},
       STREAMREC_FIELD(learner.popularity_decay.half_life_ms),
       "Half-life of an event's weight in the `popularity-decay` baseline, in event time."},
      {"baselines.item_knn.history", T::kInt, 1, 100000, {},
       STREAMREC_FIELD(learner.item_knn.history),
       "Most recent items of a user that a new item co-occurs with in `item-knn`."},
      {"baselines.item_knn.query_items", T::kInt, 1, 100000, {},
       STREAMREC_FIELD(learner.item_knn.query_items),
       "Most recent items of a user whose neighbours score a ranking in `item-knn`."},
      {"state.dir", T::kString, 0, 0, {},
       STREAMREC_FIELD(state.dir),
       "Directory of the RocksDB feature store."},
      {"state.sync", T::kBool, 0, 0, {},
       STREAMREC_FIELD(state.sync),
       "fsync the write-ahead log on every batch (survives power loss, not only kill -9)."},
      {"log.level", T::kString, 0, 0, {"trace", "debug", "info", "warn", "error", "off"},
       STREAMREC_FIELD(log.level),
       "Level of every logger; logs go to stderr."},
      {"serving.top_n", T::kInt, 1, 1000, {},
       STREAMREC_FIELD(serving.top_n),
       "Length of each published recommendation list."},
      {"serving.min_refresh_ms", T::kDuration, 0, kDayMs, {},
       STREAMREC_FIELD(serving.min_refresh_ms),
       "A user's list is recomputed at most once per this interval."},
      {"serving.refresh_gather", T::kDuration, 0, 60000, {},
       STREAMREC_FIELD(serving.refresh_gather_ms),
       "How long a touched user's list may wait for others to share its top-N round (each round reads the "
       "whole item matrix once), unless 16 are waiting; 0 = a round as soon as a user is due."},
      {"serving.refresh_batch", T::kInt, 1, 65536, {},
       STREAMREC_FIELD(serving.refresh_batch),
       "Users whose lists one round computes (one GEMM). With serving.index=sq8 a round on the refresh thread "
       "takes at most 64 while the pipeline keeps up: int8 scoring gains little from bigger rounds, and every "
       "user of a round waits for all of it."},
      {"serving.index", T::kString, 0, 0, {"exact", "hnsw", "sq8"},
       STREAMREC_FIELD(serving.index),
       "How warm users' lists are ranked: score every item (exact); re-score the candidates of an approximate HNSW "
       "index (hnsw: built in the background, exact lists until it is ready); or re-score the best candidates by "
       "int8 scores over every item (sq8: a quantized copy that follows each changed row, approximate from the "
       "start)."},
      {"serving.index_candidates", T::kInt, 1, 100000, {},
       STREAMREC_FIELD(serving.index_candidates),
       "With serving.index=hnsw or sq8: candidates re-scored exactly per list (more: better recall, slower)."},
      {"serving.index_ef", T::kInt, 1, 100000, {},
       STREAMREC_FIELD(serving.index_ef),
       "With serving.index=hnsw: search breadth (hnswlib's ef; more: better recall, slower)."},
      {"serving.index_recall_every", T::kInt, 0, 1000000, {},
       STREAMREC_FIELD(serving.index_recall_every),
       "With serving.index=hnsw or sq8: one list in this many is also computed exactly to measure recall@N "
       "(streamrec_index_recall); 0 = never."},
      {"serving.refresh_thread", T::kBool, 0, 0, {},
       STREAMREC_FIELD(serving.refresh_thread),
       "Compute and publish lists on their own thread, so ingest never waits on top-N; false = on the learner's "
       "thread between batches (one thread, deterministic interleaving)."},
      {"batch.max_events", T::kInt, 1, 1000000, {},
       STREAMREC_FIELD(pipeline.batch_max_events),
       "Most records consumed per batch; each batch is one atomic store write."},
      {"batch.max_ms", T::kDuration, 0, 60000, {},
       STREAMREC_FIELD(pipeline.batch_max_ms),
       "Longest wait for a batch's first record."},
      {"batch.linger_ms", T::kDuration, 0, 60000, {},
       STREAMREC_FIELD(pipeline.batch_linger_ms),
       "Longest wait for more records once a batch has one; 0 = take what is already fetched (up to "
       "batch.max_events), so an event's latency never includes waiting for others."},
      {"ingest.commit_interval", T::kDuration, 0, 3600000, {},
       STREAMREC_FIELD(pipeline.commit_interval_ms),
       "Least time between two commits of consumed offsets to Kafka (for lag tools; recovery uses the "
       "store's offsets). 0 = after every batch."},
      {"ingest.start", T::kString, 0, 0, {"earliest", "latest"},
       STREAMREC_FIELD(pipeline.start),
       "Where a partition with no stored offset starts (a stored offset always wins)."},
      {"ingest.max_future_skew", T::kDuration, 0, 3650 * kDayMs, {},
       STREAMREC_FIELD(pipeline.max_future_skew_ms),
       "How far an event's ts may be ahead of its Kafka message's timestamp before it is dead-lettered."},
      {"learner.dedup_window", T::kInt, 0, 100000000, {},
       STREAMREC_FIELD(pipeline.dedup_window),
       "Event ids remembered to drop redelivered duplicates (0 = no deduplication)."},
      {"topics.events", T::kString, 0, 0, {},
       STREAMREC_FIELD(pipeline.events_topic),
       "Topic of user events."},
      {"topics.items", T::kString, 0, 0, {},
       STREAMREC_FIELD(pipeline.items_topic),
       "Topic of catalog records (availability, metadata)."},
      {"topics.dlq", T::kString, 0, 0, {},
       STREAMREC_FIELD(pipeline.dlq_topic),
       "Dead-letter topic: rejected records with their reason."},
      {"topics.recommendations", T::kString, 0, 0, {},
       STREAMREC_FIELD(pipeline.recommendations_topic),
       "Topic the fresh lists are published to (compacted, keyed by user)."},
      {"http.listen", T::kString, 0, 0, {},
       STREAMREC_FIELD(http.server.listen),
       "host:port the HTTP server of `run` and `demo` binds (loopback by default; port 0 = any free port; "
       "empty = no HTTP server).", true},
      {"http.token", T::kString, 0, 0, {},
       STREAMREC_FIELD(http.server.token),
       "Bearer token every HTTP route but /healthz requires (empty = no authentication).", true, true},
      {"http.max_body_bytes", T::kInt, 0, 64 * 1024 * 1024, {},
       STREAMREC_FIELD(http.server.max_body_bytes),
       "HTTP requests with a larger body are refused (413)."},
      {"http.rate_limit", T::kInt, 0, 1000000, {},
       STREAMREC_FIELD(http.server.rate_limit),
       "HTTP requests per second each client address may make (429 beyond; 0 = unlimited)."},
      {"http.threads", T::kInt, 1, 1024, {},
       STREAMREC_FIELD(http.server.threads),
       "Threads serving HTTP connections; every open /v1/stream holds one."},
      {"http.max_streams", T::kInt, 0, 1024, {},
       STREAMREC_FIELD(http.server.max_streams),
       "Concurrent /v1/stream (SSE) clients; more get 503. Must be below http.threads."},
      {"http.request_timeout", T::kDuration, 1, 60000, {},
       STREAMREC_FIELD(http.request_timeout_ms),
       "Longest an HTTP request waits for the pipeline thread, which answers between batches (503 beyond)."},
      {"http.ready_max_lag", T::kInt, 0, 1e12, {},
       STREAMREC_FIELD(http.ready_max_lag),
       "/readyz answers 503 while the consumer is more records behind than this (over its partitions)."},
      {"kafka.bootstrap.servers", T::kString, 0, 0, {},
       STREAMREC_FIELD(kafka.bootstrap_servers),
       "Kafka brokers to connect to. Every kafka.* key goes to librdkafka verbatim."},
      {"kafka.group.id", T::kString, 0, 0, {},
       STREAMREC_FIELD(kafka.group_id),
       "Consumer group of `streamrec run`."},
      {"kafka.session.timeout.ms", T::kInt, 1000, 3600000, {},
       STREAMREC_FIELD(kafka.session_timeout_ms),
       "Consumer session timeout; short, since the embedded broker's rebalance waits for it."},
      {"kafka.fetch.wait.max.ms", T::kInt, 0, 300000, {},
       STREAMREC_FIELD(kafka.fetch_wait_max_ms),
       "Longest a fetch waits for records; low for millisecond freshness."},
      {"kafka.linger.ms", T::kInt, 0, 300000, {},
       STREAMREC_FIELD(kafka.linger_ms),
       "How long producers (lists, dead letters) wait to fill a batch; low for millisecond freshness."},
      {"kafka.reconnect.backoff.max.ms", T::kInt, 0, 3600000, {},
       STREAMREC_FIELD(kafka.reconnect_backoff_max_ms),
       "Longest pause between reconnection attempts; short, so a broker outage ends soon after the broker is back."},
      {"testing.kill_point", T::kString, 0, 0, {"none", "after_store_write", "mid_publish", "before_commit"},
       STREAMREC_FIELD(testing.kill_point),
       "For crash tests only: the point of the batch cycle where `run` kills itself with SIGKILL."},
      {"testing.kill_after_batches", T::kInt, 1, kMaxInt32, {},
       STREAMREC_FIELD(testing.kill_after_batches),
       "For crash tests only: testing.kill_point fires once this many batches were written."},
  };
  table.insert(table.end(), rest.begin(), rest.end());
  return table;
}
// clang-format on

#undef STREAMREC_FIELD

}  // namespace

const std::vector<ConfigKey>& ConfigTable() {
  static const std::vector<ConfigKey> kTable = BuildTable();
  return kTable;
}

}  // namespace streamrec::apps
