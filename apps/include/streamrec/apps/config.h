#pragma once

// The one config table of the `streamrec` command. Every key maps onto a
// field of a component's Options struct (or, for parts not written yet, of an
// apps-level struct below); the table gives each key its meaning, type and
// bounds, and the field's own default member value is the key's default.
// `--help`, `streamrec config`, docs/config.md, TOML loading and `--set`
// validation all read this table.
//
// Loading order: built-in defaults, then the optional TOML file (nested
// tables map to dotted keys), then each `--set key=value` in order.
// Keys starting with `kafka.` that the table does not list are passed to
// librdkafka verbatim, in the order they were given.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "streamrec/base/status.h"
#include "streamrec/online_learner/evaluation.h"
#include "streamrec/serving/http_server.h"
#include "streamrec/state/feature_store.h"

namespace streamrec::apps {

// Options of parts that do not have their component yet; each moves into
// that component's Options struct when it is written (serving/, kafka/).
struct ServingOptions {
  // Length of each published recommendation list. Default: 10.
  int top_n = 10;
  // A user's list is recomputed at most once per this interval. Default: 100 ms.
  int64_t min_refresh_ms = 100;
  // How long a touched user's list may wait for other users to share its
  // top-N round (each round reads the whole item matrix once), unless 16 are
  // waiting already. Default: 5 ms.
  int64_t refresh_gather_ms = 5;
  // Users whose lists one GEMM computes. Default: 256.
  int refresh_batch = 256;
  // Lists are computed on their own thread (true) or on the learner's,
  // between batches (false: one thread, a deterministic interleaving).
  // Default: true.
  bool refresh_thread = true;
  // How warm users' lists are ranked: "exact" scores every item; "hnsw"
  // re-scores the candidates of an approximate (HNSW) index; "sq8" re-scores
  // the best candidates by int8 scores over every item (a quantized copy
  // that follows every changed row, so drift does not hurt it). The last two
  // are for catalogs and rates where exact top-N cannot keep up.
  // Default: exact.
  std::string index = "exact";
  // hnsw, sq8: candidates re-scored exactly per list. Default: 50 (recall@10
  // 1.000 for sq8 and 0.9995 for hnsw at 50 on MovieLens; the evaluation
  // bench reports 10 to 100).
  int index_candidates = 50;
  // hnsw: search breadth (hnswlib's ef). Default: 128.
  int index_ef = 128;
  // hnsw, sq8: one list in this many is also computed exactly to measure
  // recall@N (streamrec_index_recall); 0 = never. Default: 1000 (an exact
  // list costs ~10x an approximate one: the check stays near 1%).
  int index_recall_every = 1000;
};

// The streaming pipeline's consumption side (`streamrec run`, `demo`).
struct PipelineOptions {
  // Most records consumed per batch (one store write per batch). Default: 1000.
  int batch_max_events = 1000;
  // Longest wait for a batch's first record. Default: 20 ms.
  int64_t batch_max_ms = 20;
  // Longest wait for more records once a batch has one. Default: 0, a batch
  // takes what is already fetched (lowest latency; under load batches fill
  // from what arrived while the previous one was processed).
  int64_t batch_linger_ms = 0;
  // Least time between two commits of consumed offsets to Kafka. The store's
  // offsets are the ones recovery uses; Kafka's serve lag tools and an
  // instance taking over a crashed one's partitions. Default: 1 s.
  int64_t commit_interval_ms = 1000;
  // Where a partition with no stored offset starts: earliest or latest.
  // Default: earliest, so a replayed log is consumed whole.
  std::string start = "earliest";
  // How far an event's ts may be ahead of its Kafka message's timestamp.
  // Default: 1 day.
  int64_t max_future_skew_ms = 24LL * 3600 * 1000;
  // Event ids remembered to drop redelivered duplicates. Default: 100000.
  int dedup_window = 100000;
  std::string events_topic = "events";
  std::string items_topic = "items";
  std::string dlq_topic = "events.dlq";
  std::string recommendations_topic = "recommendations";
};
// The HTTP surface of `run` and `demo`: the server's own options, and how
// requests reach the pipeline thread (apps/src/pipeline_backend.h).
struct HttpOptions {
  // Address, token, limits. An empty `listen` turns the server off.
  serving::HttpServerOptions server;
  // Longest a request waits for the pipeline thread (which answers between
  // batches) before a 503. Default: 2 s.
  int64_t request_timeout_ms = 2000;
  // /readyz answers 503 while the consumer is more records behind than
  // this, summed over its partitions. Default: 10000.
  int64_t ready_max_lag = 10000;
};
struct KafkaOptions {
  // Default: 127.0.0.1:9092 (where `streamrec broker` listens).
  std::string bootstrap_servers = "127.0.0.1:9092";
  // Default: streamrec.
  std::string group_id = "streamrec";
  // Suited to the embedded broker, whose rebalance waits for the session
  // timeout. Default: 6000.
  int session_timeout_ms = 6000;
  // Low, so a fetch returns as soon as records arrive (librdkafka's 500 ms
  // default gives ~250 ms median latency). Default: 5.
  int fetch_wait_max_ms = 5;
  // How long a producer (lists, dead letters) waits to fill a batch.
  // librdkafka's 5 ms default doubled the median freshness at 1k events/s
  // (24 -> 14 ms, bench/results/); under load batches still fill.
  // Default: 1.
  int linger_ms = 1;
  // Longest pause between reconnection attempts. librdkafka's 10 s lets the
  // backoff outgrow a short outage: after a 5 s broker outage the pipeline
  // caught up 4-13 s after the broker was back (docs/reliability.md).
  // Default: 1000.
  int reconnect_backoff_max_ms = 1000;
  // Every other `kafka.*` key, prefix removed, in the order given; a key set
  // twice keeps its first position and its last value.
  std::vector<std::pair<std::string, std::string>> passthrough;
};
struct LogOptions {
  // trace, debug, info, warn, error or off. Default: info.
  std::string level = "info";
};
// Crash-test hooks (scripts/crash_test.sh, docs/reliability.md): the
// pipeline raises SIGKILL on itself at a named point of its batch cycle.
// Never set outside tests.
struct TestingOptions {
  // none, after_store_write (the batch is durable, nothing published or
  // committed), mid_publish (one list of a refresh round handed to the
  // producer, the rest not) or before_commit (tombstones published, Kafka
  // offsets not committed). Default: none.
  std::string kill_point = "none";
  // The kill happens at the first pass over kill_point once this many
  // batches were written. Default: 1.
  int kill_after_batches = 1;
};
// Everything a config can set: the components' Options side by side.
struct Settings {
  online_learner::LearnerOptions learner;
  // StoreOptions::dir has no default of its own (the store requires one), so
  // the command line's is here. The fingerprint is not a key: it follows
  // learner.dim (see StoreOptionsFor in apps/src/model_store.h).
  state::StoreOptions state{.dir = "streamrec-state"};
  LogOptions log;
  ServingOptions serving;
  PipelineOptions pipeline;
  HttpOptions http;
  KafkaOptions kafka;
  TestingOptions testing;
};

enum class ConfigType { kInt, kFloat, kBool, kString, kDuration };

// A pointer to the Options field a key sets; the variant follows the field's
// C++ type, the key's ConfigType says how its text reads (a duration is
// int64_t milliseconds; an enum is a kString key whose choices are its
// enumerators' names in value order).
using FieldRef =
    std::variant<int*, int64_t*, uint64_t*, float*, bool*, std::string*, online_learner::NegativeSampling*>;

struct ConfigKey {
  std::string name;  // "learner.dim"
  ConfigType type;
  double min = 0;  // inclusive bounds of numbers (milliseconds for durations)
  double max = 0;
  std::vector<std::string_view> choices;  // strings and enums: allowed values; empty = any non-empty
  std::string field;                      // the Options field it sets, for docs: "learner.isgd.dim"
  std::function<FieldRef(Settings&)> bind;
  std::string meaning;
  // A string key that may be set empty (empty = the feature is off).
  bool may_be_empty = false;
  // Never printed: `streamrec config` shows whether it is set, not its value.
  bool secret = false;
};

// Every key, in the order help and docs list them.
const std::vector<ConfigKey>& ConfigTable();
const ConfigKey* FindConfigKey(std::string_view name);

// A key's value in `settings`, as config text ("64", "0.05", "7d", "true").
std::string FormatConfigValue(const ConfigKey& key, const Settings& settings);
// The same as a typed value (a duration stays text, a float becomes the
// double of its shortest decimal form), for JSON reports.
using ConfigValue = std::variant<int64_t, double, bool, std::string>;
ConfigValue GetConfigValue(const ConfigKey& key, const Settings& settings);
// What a key accepts: "an integer in [1, 1024]", "true or false"...
std::string ConfigExpectation(const ConfigKey& key);

// Sets one key from text: a table key is parsed and bounds-checked, an
// unlisted `kafka.*` key is passed through, anything else is an unknown key
// ("did you mean ...?"). Errors are kInvalidArgument.
[[nodiscard]] Status SetConfig(std::string_view name, std::string_view text, Settings& settings);
// "key=value", as given to --set.
[[nodiscard]] Status ApplySetFlag(std::string_view assignment, Settings& settings);
// Reads a TOML file into `settings`; errors name the file and line.
[[nodiscard]] Status ApplyConfigFile(const std::string& path, Settings& settings);
// Defaults, then the file (if any), then every assignment in order.
Result<Settings> LoadSettings(const std::optional<std::string>& file,
                              std::span<const std::string> assignments);

// Applies `log.level` to every logger.
void ApplyLogLevel(const Settings& settings);

// Every librdkafka property: the table's kafka.* keys, then the passthrough
// ones, prefix removed.
std::vector<std::pair<std::string, std::string>> KafkaProperties(const Settings& settings);

// The table as Markdown: the contents of docs/config.md.
std::string ConfigMarkdown();

}  // namespace streamrec::apps
