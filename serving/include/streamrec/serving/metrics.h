#pragma once

// A small metrics registry rendered as Prometheus text exposition (format
// 0.0.4): counters, gauges and fixed-bucket histograms, each optionally
// with one set of labels (e.g. reason="invalid_json"). Metrics of one name
// with different labels form one family (one HELP/TYPE header).
//
// Lifecycle: register every metric up front (Add*), then update and render
// for the registry's life; references returned by Add* stay valid as long as
// the registry.
// Thread-safety: updates are lock-free atomics, so the pipeline thread
// updates while HTTP threads render; registration and rendering take a lock.
// A render may see a histogram mid-update (a bucket counted, the sum not
// yet): the count is derived from the buckets, so it stays consistent with
// them, and Prometheus tolerates the rest.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamrec::serving {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // Mirrors a count a component keeps itself (e.g. IngestCounters): the
  // counter takes `total` unless that would make it go down.
  void MirrorTotal(uint64_t total);
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative counts of a histogram at one moment, or the difference of two
// such moments (what was observed in between).
struct HistogramSnapshot {
  std::vector<double> bounds;    // upper bounds of the finite buckets, ascending
  std::vector<uint64_t> counts;  // per bucket (not cumulative); last = above every bound
  double sum = 0;

  uint64_t count() const;
  // What was observed after `earlier` (a snapshot of the same histogram).
  HistogramSnapshot Since(const HistogramSnapshot& earlier) const;
  // The q-quantile (0..1) by linear interpolation inside its bucket, as
  // Prometheus's histogram_quantile does; values above the last bound
  // report the last bound. Empty when nothing was observed.
  std::optional<double> Quantile(double q) const;
};

class Histogram {
 public:
  // `bounds`: finite upper bounds, strictly ascending.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  HistogramSnapshot Snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 buckets
  std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds, from 100 µs to 10 minutes,
// roughly 1-2.5-5 per decade.
std::vector<double> LatencyBuckets();

class MetricsRegistry {
 public:
  // `name` must be a valid Prometheus metric name; counters end in _total.
  // Registering the same name and labels twice is a programmer error.
  Counter& AddCounter(std::string name, std::string help, Labels labels = {});
  Gauge& AddGauge(std::string name, std::string help, Labels labels = {});
  Histogram& AddHistogram(std::string name, std::string help, std::vector<double> bounds);

  // Every metric as Prometheus text, families in registration order.
  std::string RenderPrometheus() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Entry {
    std::string name;
    std::string help;
    Kind kind;
    Labels labels;
    // Exactly one of these, by kind.
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  Entry& Add(std::string name, std::string help, Kind kind, Labels labels);

  mutable std::mutex mutex_;
  std::deque<Entry> entries_;
};

}  // namespace streamrec::serving
