#pragma once

// PipelineBackend: the pipeline's side of the HTTP server. The model has one
// owner, the pipeline thread, so HTTP threads never read it: a request
// becomes a closure queued here, Pipeline::Run answers the queue between
// batches (OnLoop), and the HTTP thread waits for the answer up to
// http.request_timeout (then 503). Metrics and readiness need no pipeline
// thread: the pipeline updates atomics, HTTP threads read them.
//
// HttpFrontEnd puts backend, list stream and server together for `run` and
// `demo`.
//
// Thread-safety: the ServingBackend methods are called from any thread; the
// On* methods only from the thread running Pipeline::Run.
// Lifecycle: attach to the pipeline before Run; it must outlive Run.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline.h"
#include "streamrec/apps/config.h"
#include "streamrec/ingest/ingestor.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/serving/http_server.h"
#include "streamrec/serving/list_stream.h"
#include "streamrec/serving/metrics.h"

namespace streamrec::apps {

// What the pipeline thread shows the backend between batches.
struct PipelineView {
  const online_learner::Learner& learner;
  const ingest::Ingestor& ingestor;
  const PipelineStats& stats;
};

class PipelineBackend final : public serving::ServingBackend {
 public:
  // `state_dir`: the store's directory, whose size is a metric.
  PipelineBackend(const HttpOptions& options, std::string state_dir);
  ~PipelineBackend() override;

  // ServingBackend, from HTTP threads.
  Result<schemas::RecommendationList> Recommend(const std::string& user_id, uint32_t n, bool fallback_popular) override;
  Result<std::string> DescribeUser(const std::string& user_id) override;
  Result<std::string> DescribeItem(const std::string& item_id) override;
  std::string MetricsText() override;
  serving::Readiness Ready() override;

  // Published lists and live stats, for /v1/stream.
  serving::ListStream& stream() { return stream_; }

  // Pipeline thread: a batch was applied, stored and committed in `took`.
  void OnBatch(std::chrono::steady_clock::duration took);
  // Pipeline thread: `list` was published at `now_ms`; its user was first
  // touched (the triggering event stored) at `touched_at_ms`, wall clock.
  void OnList(const schemas::RecommendationList& list, int64_t touched_at_ms, int64_t now_ms);
  // Pipeline thread, once per loop: answers queued requests, refreshes
  // counters and gauges, sends the once-a-second stats to the stream.
  void OnLoop(const PipelineView& view);
  // Pipeline thread, when Run ends: queued and later requests get 503.
  void OnStop();

 private:
  // A request for the pipeline thread; called with nullptr once it stopped.
  using Task = std::function<void(const PipelineView*)>;
  template <typename T>
  Result<T> Call(std::function<Result<T>(const PipelineView&)> work);
  void SampleGauges(const PipelineView& view, std::chrono::steady_clock::time_point now);
  void PublishStats(std::chrono::steady_clock::time_point now);

  const HttpOptions options_;
  const std::string state_dir_;
  serving::ListStream stream_;

  std::mutex queue_mutex_;
  std::deque<Task> queue_;
  bool stopped_ = false;

  serving::MetricsRegistry registry_;
  serving::Counter& events_consumed_;
  serving::Counter& events_applied_;
  std::vector<serving::Counter*> dead_lettered_;  // index = RejectReason
  serving::Histogram& batch_latency_;
  serving::Histogram& freshness_;
  serving::Histogram& refresh_delay_;
  serving::Counter& lists_published_;
  serving::Counter& refresh_rounds_;
  serving::Gauge& consumer_lag_;
  serving::Gauge& partitions_;
  serving::Gauge& store_size_;
  serving::Gauge& users_;
  serving::Gauge& items_;
  serving::Gauge& refresh_backlog_;
  serving::Gauge& index_recall_;
  serving::Gauge& sq8_skipped_share_;
  serving::Counter& users_expired_;
  serving::Counter& items_retired_;

  // Readiness, written by the pipeline thread.
  std::atomic<bool> running_{false};
  std::atomic<int64_t> last_loop_ms_{0};

  // Pipeline thread only: when gauges and stats were last sampled.
  std::chrono::steady_clock::time_point next_gauges_{};
  std::chrono::steady_clock::time_point next_store_size_{};
  struct StatsSample {
    std::chrono::steady_clock::time_point at;
    uint64_t consumed = 0, applied = 0, lists = 0, dead_lettered = 0;
    serving::HistogramSnapshot freshness, refresh_delay;
  };
  std::optional<StatsSample> last_stats_;
};

// The HTTP server of `run` and `demo`, wired to a pipeline.
class HttpFrontEnd {
 public:
  // Starts serving settings.http on its own threads and attaches to
  // `pipeline` (before its Run). Nullptr when http.listen is empty. The
  // front end must outlive the pipeline's Run.
  [[nodiscard]] static Result<std::unique_ptr<HttpFrontEnd>> Start(const Settings& settings, Pipeline& pipeline);
  ~HttpFrontEnd();

  // http://host:port of the server.
  std::string url() const { return server_->url(); }

 private:
  HttpFrontEnd() = default;
  std::unique_ptr<PipelineBackend> backend_;
  std::unique_ptr<serving::HttpServer> server_;  // after backend_: stops first
};

}  // namespace streamrec::apps
