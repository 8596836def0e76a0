#include "pipeline_backend.h"

#include <algorithm>
#include <filesystem>
#include <future>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "streamrec/schemas/reject_reason.h"
#include "streamrec/serving/top_n.h"
#include "text.h"

namespace streamrec::apps {
namespace {

using Json = nlohmann::ordered_json;
using SteadyClock = std::chrono::steady_clock;

// Requests waiting for the pipeline thread; beyond this they get 503 at
// once instead of piling up behind a slow batch.
constexpr size_t kMaxQueuedRequests = 1024;
// Gauges (lag, users, ...) are sampled at most this often: the loop runs
// every few milliseconds, scrapers and /readyz need far less.
constexpr auto kGaugeInterval = std::chrono::milliseconds(250);
// Walking the store's directory costs a few system calls per file.
constexpr auto kStoreSizeInterval = std::chrono::seconds(5);
constexpr auto kStatsInterval = std::chrono::seconds(1);
// A loop that has not come round for this long is stuck: not ready.
constexpr int64_t kStalledLoopMs = 30000;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json Floats(std::span<const float> values) {
  Json array = Json::array();
  for (float v : values) array.push_back(ShortestDouble(v));
  return array;
}

// Bytes of every file under `dir`; files vanishing mid-walk (compaction)
// are skipped.
uint64_t DirectoryBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

Json Percentiles(const serving::HistogramSnapshot& window) {
  const auto p50 = window.Quantile(0.5);
  const auto p99 = window.Quantile(0.99);
  if (!p50 || !p99) return nullptr;
  return {{"p50", *p50 * 1000}, {"p99", *p99 * 1000}};
}

}  // namespace

PipelineBackend::PipelineBackend(const HttpOptions& options, std::string state_dir)
    : options_(options),
      state_dir_(std::move(state_dir)),
      events_consumed_(registry_.AddCounter("streamrec_events_consumed_total",
                                            "Records consumed from the events and items topics, valid or not.")),
      events_applied_(registry_.AddCounter("streamrec_events_applied_total",
                                           "Events the model learned from (duplicates and forgets excluded).")),
      batch_latency_(registry_.AddHistogram(
          "streamrec_batch_latency_seconds",
          "Time to apply one consumed batch: learner updates, the store write, the offset commit.",
          serving::LatencyBuckets())),
      freshness_(registry_.AddHistogram(
          "streamrec_freshness_seconds",
          "Event time of the newest event a list reflects -> the list published. Meaningless for replays of "
          "old logs; see streamrec_refresh_delay_seconds.",
          serving::LatencyBuckets())),
      refresh_delay_(registry_.AddHistogram(
          "streamrec_refresh_delay_seconds",
          "Wall clock: the pipeline stored the first event a list reflects -> the list published.",
          serving::LatencyBuckets())),
      lists_published_(registry_.AddCounter("streamrec_lists_published_total",
                                            "Recommendation lists published to the recommendations topic.")),
      refresh_rounds_(registry_.AddCounter("streamrec_refresh_rounds_total",
                                           "Top-N rounds of the refresh worker; lists published / rounds = users a "
                                           "round, and every user of a round waits for all of it.")),
      consumer_lag_(registry_.AddGauge("streamrec_consumer_lag",
                                       "Records not yet consumed, summed over the assigned partitions.")),
      partitions_(registry_.AddGauge("streamrec_partitions_assigned", "Partitions assigned to this consumer.")),
      store_size_(registry_.AddGauge("streamrec_store_size_bytes", "Bytes of the feature store on disk.")),
      users_(registry_.AddGauge("streamrec_users", "Users in the model.")),
      items_(registry_.AddGauge("streamrec_items", "Items in the model.")),
      refresh_backlog_(registry_.AddGauge("streamrec_refresh_backlog_users", "Users whose lists wait for a refresh.")),
      index_recall_(registry_.AddGauge("streamrec_index_recall",
                                       "serving.index=hnsw or sq8: recall@N of approximate lists against exact ones, "
                                       "over the lists checked (serving.index_recall_every).")),
      sq8_skipped_share_(registry_.AddGauge("streamrec_sq8_skipped_share",
                                            "serving.index=sq8: share of the int8 scan that the score bound skipped "
                                            "(items that could reach no list), since start.")),
      users_expired_(registry_.AddCounter("streamrec_users_expired_total",
                                          "Users removed after learner.user_ttl of inactivity (stream time).")),
      items_retired_(registry_.AddCounter("streamrec_items_retired_total",
                                          "Items retired after learner.item_retire unavailable (stream time).")) {
  for (int r = 0; r < schemas::kRejectReasonCount; ++r) {
    dead_lettered_.push_back(&registry_.AddCounter(
        "streamrec_events_dead_lettered_total", "Records sent to the dead-letter topic, by reason.",
        {{"reason", std::string(schemas::RejectCode(static_cast<schemas::RejectReason>(r)))}}));
  }
}

PipelineBackend::~PipelineBackend() { OnStop(); }

template <typename T>
Result<T> PipelineBackend::Call(std::function<Result<T>(const PipelineView&)> work) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> answer = promise->get_future();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopped_) return Status::Unavailable("the pipeline is not running");
    if (queue_.size() >= kMaxQueuedRequests) return Status::Unavailable("too many requests waiting for the pipeline");
    queue_.push_back([promise, work = std::move(work)](const PipelineView* view) {
      if (view == nullptr) {
        promise->set_value(Status::Unavailable("the pipeline stopped"));
        return;
      }
      // Runs on the pipeline thread: nothing may escape into the loop.
      try {
        promise->set_value(work(*view));
      } catch (const std::exception& e) {
        promise->set_value(Status::Internal(e.what()));
      }
    });
  }
  if (answer.wait_for(std::chrono::milliseconds(options_.request_timeout_ms)) != std::future_status::ready) {
    // The closure still runs later; its answer just finds nobody waiting.
    return Status::Unavailable(
        fmt::format("the pipeline did not answer within {} ms (busy with a batch)", options_.request_timeout_ms));
  }
  return answer.get();
}

Result<schemas::RecommendationList> PipelineBackend::Recommend(const std::string& user_id, uint32_t n,
                                                               bool fallback_popular) {
  return Call<schemas::RecommendationList>(
      // Copies: after a timeout the closure outlives this call.
      [user_id, n, fallback_popular](const PipelineView& view) -> Result<schemas::RecommendationList> {
        const online_learner::Learner& learner = view.learner;
        schemas::RecommendationList list;
        list.user_id = user_id;
        list.generated_at_ms = WallMs();
        std::vector<serving::ScoredIndex> items;
        if (auto user = learner.users().Find(user_id)) {
          const UserIndex index(*user);
          auto lists = serving::TopN(learner.model(), {&index, 1}, n);
          list.model = lists[0].cold ? "popularity" : "isgd";
          list.source_event_ts_ms = learner.model().ExportUser(index).last_ts_ms;
          items = std::move(lists[0].items);
        } else if (fallback_popular) {
          list.model = "popularity";
          items = serving::PopularItems(learner.model(), n);
        } else {
          return Status::NotFound(
              fmt::format("unknown user '{}' (no events seen); add fallback=popular for popular items", user_id));
        }
        for (const auto& s : items) list.items.push_back({std::string(learner.items().Name(s.item.value())), s.score});
        return list;
      });
}

Result<std::string> PipelineBackend::DescribeUser(const std::string& user_id) {
  return Call<std::string>([user_id](const PipelineView& view) -> Result<std::string> {
    const online_learner::Learner& learner = view.learner;
    auto index = learner.users().Find(user_id);
    if (!index) return Status::NotFound(fmt::format("unknown user '{}'", user_id));
    const UserIndex user(*index);
    const online_learner::UserRow row = learner.model().ExportUser(user);
    Json recent = Json::array();
    for (uint32_t item : row.recent_items) recent.push_back(learner.items().Name(item));
    return Dump(Json{{"user_id", user_id},
                     {"index", *index},
                     {"cold", learner.model().IsCold(user)},
                     {"event_count", row.event_count},
                     {"last_ts_ms", row.last_ts_ms},
                     {"recent_items", recent},
                     {"seen_items", row.seen_items.size()},
                     {"factors", Floats(row.factors)}});
  });
}

Result<std::string> PipelineBackend::DescribeItem(const std::string& item_id) {
  return Call<std::string>([item_id](const PipelineView& view) -> Result<std::string> {
    auto index = view.learner.items().Find(item_id);
    if (!index) return Status::NotFound(fmt::format("unknown item '{}'", item_id));
    const online_learner::ItemRow row = view.learner.model().ExportItem(ItemIndex(*index));
    return Dump(Json{{"item_id", item_id},
                     {"index", *index},
                     {"available", row.available},
                     {"bias", ShortestDouble(row.bias)},
                     {"count", row.count},
                     {"last_ts_ms", row.last_ts_ms},
                     {"factors", Floats(row.factors)}});
  });
}

std::string PipelineBackend::MetricsText() { return registry_.RenderPrometheus(); }

serving::Readiness PipelineBackend::Ready() {
  serving::Readiness r;
  r.partitions = static_cast<size_t>(partitions_.value());
  r.lag = static_cast<int64_t>(consumer_lag_.value());
  if (!running_.load()) {
    r.reason = "the pipeline is not running";
  } else if (const int64_t idle = WallMs() - last_loop_ms_.load(); idle > kStalledLoopMs) {
    r.reason = fmt::format("the pipeline loop has not come round for {} ms", idle);
  } else if (r.partitions == 0) {
    r.reason = "no partitions assigned yet";
  } else if (r.lag > options_.ready_max_lag) {
    r.reason = fmt::format("consumer lag {} exceeds http.ready_max_lag {}", r.lag, options_.ready_max_lag);
  } else {
    r.ready = true;
  }
  return r;
}

void PipelineBackend::OnBatch(std::chrono::steady_clock::duration took) {
  batch_latency_.Observe(std::chrono::duration<double>(took).count());
}

void PipelineBackend::OnList(const schemas::RecommendationList& list, int64_t touched_at_ms, int64_t now_ms) {
  // An event may carry a time slightly ahead of this clock (skew is allowed).
  freshness_.Observe(static_cast<double>(std::max<int64_t>(0, now_ms - list.source_event_ts_ms)) / 1000);
  refresh_delay_.Observe(static_cast<double>(std::max<int64_t>(0, now_ms - touched_at_ms)) / 1000);
  stream_.PublishList(list);
}

void PipelineBackend::OnLoop(const PipelineView& view) {
  running_.store(true);
  last_loop_ms_.store(WallMs());
  std::deque<Task> tasks;
  {
    std::lock_guard lock(queue_mutex_);
    tasks.swap(queue_);
  }
  for (Task& task : tasks) task(&view);

  const ingest::IngestCounters& counters = view.ingestor.counters();
  events_consumed_.MirrorTotal(counters.records);
  events_applied_.MirrorTotal(view.stats.events_applied);
  lists_published_.MirrorTotal(view.stats.lists_published);
  refresh_rounds_.MirrorTotal(view.stats.refresh_rounds);
  users_expired_.MirrorTotal(view.stats.expired_users);
  if (view.stats.index_recall_lists > 0) index_recall_.Set(view.stats.index_recall);
  sq8_skipped_share_.Set(view.stats.sq8_skipped_share);
  items_retired_.MirrorTotal(view.stats.retired_items);
  for (size_t r = 0; r < dead_lettered_.size(); ++r)
    dead_lettered_[r]->MirrorTotal(counters.dead_lettered_by_reason[r]);

  const auto now = SteadyClock::now();
  if (now >= next_gauges_) {
    next_gauges_ = now + kGaugeInterval;
    SampleGauges(view, now);
  }
  if (!last_stats_ || now - last_stats_->at >= kStatsInterval) PublishStats(now);
}

void PipelineBackend::SampleGauges(const PipelineView& view, SteadyClock::time_point now) {
  int64_t lag = 0;
  const auto partitions = view.ingestor.Lag();
  // A partition with no position yet (nothing fetched) counts as caught up:
  // its lag is unknown, not large.
  for (const auto& p : partitions) lag += p.lag.value_or(0);
  consumer_lag_.Set(static_cast<double>(lag));
  partitions_.Set(static_cast<double>(partitions.size()));
  users_.Set(static_cast<double>(view.stats.users));
  items_.Set(static_cast<double>(view.stats.items));
  refresh_backlog_.Set(static_cast<double>(view.stats.users_waiting));
  if (now >= next_store_size_) {
    next_store_size_ = now + kStoreSizeInterval;
    store_size_.Set(static_cast<double>(DirectoryBytes(state_dir_)));
  }
}

void PipelineBackend::PublishStats(SteadyClock::time_point now) {
  StatsSample sample;
  sample.at = now;
  sample.consumed = events_consumed_.value();
  sample.applied = events_applied_.value();
  sample.lists = lists_published_.value();
  Json by_reason = Json::object();
  for (size_t r = 0; r < dead_lettered_.size(); ++r) {
    if (const uint64_t n = dead_lettered_[r]->value()) {
      by_reason[std::string(schemas::RejectCode(static_cast<schemas::RejectReason>(r)))] = n;
      sample.dead_lettered += n;
    }
  }
  sample.freshness = freshness_.Snapshot();
  sample.refresh_delay = refresh_delay_.Snapshot();
  const std::optional<StatsSample> previous = std::exchange(last_stats_, sample);
  if (!previous || !stream_.has_subscribers()) return;

  const double seconds = std::chrono::duration<double>(now - previous->at).count();
  const auto per_second = [&](uint64_t now_value, uint64_t before) {
    return static_cast<double>(now_value - before) / seconds;
  };
  const Json stats = {
      {"ts_ms", WallMs()},
      {"interval_s", seconds},
      {"events_per_s", per_second(sample.applied, previous->applied)},
      {"consumed_per_s", per_second(sample.consumed, previous->consumed)},
      {"lists_per_s", per_second(sample.lists, previous->lists)},
      {"lists_published", sample.lists},
      {"freshness_ms", Percentiles(sample.freshness.Since(previous->freshness))},
      {"refresh_delay_ms", Percentiles(sample.refresh_delay.Since(previous->refresh_delay))},
      {"dead_lettered",
       {{"total", sample.dead_lettered},
        {"per_s", per_second(sample.dead_lettered, previous->dead_lettered)},
        {"by_reason", by_reason}}},
      {"users", static_cast<uint64_t>(users_.value())},
      {"items", static_cast<uint64_t>(items_.value())},
      {"lag", static_cast<int64_t>(consumer_lag_.value())},
      {"partitions", static_cast<int64_t>(partitions_.value())},
  };
  stream_.PublishStats(Dump(stats));
}

void PipelineBackend::OnStop() {
  running_.store(false);
  std::deque<Task> tasks;
  {
    std::lock_guard lock(queue_mutex_);
    stopped_ = true;
    tasks.swap(queue_);
  }
  for (Task& task : tasks) task(nullptr);
}

Result<std::unique_ptr<HttpFrontEnd>> HttpFrontEnd::Start(const Settings& settings, Pipeline& pipeline) {
  if (settings.http.server.listen.empty()) return std::unique_ptr<HttpFrontEnd>();
  std::unique_ptr<HttpFrontEnd> front(new HttpFrontEnd());
  front->backend_ = std::make_unique<PipelineBackend>(settings.http, settings.state.dir);
  auto server = serving::HttpServer::Start(settings.http.server, *front->backend_, front->backend_->stream());
  if (!server.ok()) {
    return server.status().WithContext(
        "starting the HTTP server (config key http.listen; set another host:port, or empty to disable it)");
  }
  front->server_ = std::move(*server);
  pipeline.AttachBackend(front->backend_.get());
  return front;
}

HttpFrontEnd::~HttpFrontEnd() = default;

}  // namespace streamrec::apps
