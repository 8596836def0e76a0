#include "streamrec/serving/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include <fmt/format.h>

namespace streamrec::serving {
namespace {

// Prometheus numbers: Go's ParseFloat reads fmt's shortest form; infinities
// have their own spelling.
std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",le="0.5"}`, or nothing without labels.
std::string FormatLabels(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  auto add = [&](const std::pair<std::string, std::string>& label) {
    if (out.size() > 1) out += ",";
    out += label.first + "=\"" + EscapeLabelValue(label.second) + "\"";
  };
  for (const auto& label : labels) add(label);
  if (extra != nullptr) add(*extra);
  return out + "}";
}

// A double sum updated from one thread while others read it.
void AtomicAdd(std::atomic<double>& target, double value) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + value, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Counter::MirrorTotal(uint64_t total) {
  uint64_t current = value_.load(std::memory_order_relaxed);
  while (current < total && !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
  }
}

uint64_t HistogramSnapshot::count() const {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  return total;
}

HistogramSnapshot HistogramSnapshot::Since(const HistogramSnapshot& earlier) const {
  HistogramSnapshot out = *this;
  if (earlier.counts.size() != counts.size()) return out;
  for (size_t k = 0; k < counts.size(); ++k) out.counts[k] -= std::min(out.counts[k], earlier.counts[k]);
  out.sum -= earlier.sum;
  return out;
}

std::optional<double> HistogramSnapshot::Quantile(double q) const {
  const uint64_t total = count();
  if (total == 0 || bounds.empty()) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t k = 0; k < bounds.size(); ++k) {
    if (counts[k] > 0 && static_cast<double>(below + counts[k]) >= rank) {
      const double lower = k == 0 ? std::min(0.0, bounds[0]) : bounds[k - 1];
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[k]);
      return lower + (bounds[k] - lower) * within;
    }
    below += counts[k];
  }
  return bounds.back();
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()) && "histogram bounds must ascend");
}

void Histogram::Observe(double value) {
  // Bucket k holds values in (bounds[k-1], bounds[k]], as Prometheus's `le`.
  const auto k = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[k].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.bounds = bounds_;
  s.counts.resize(bounds_.size() + 1);
  for (size_t k = 0; k <= bounds_.size(); ++k) s.counts[k] = counts_[k].load(std::memory_order_relaxed);
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,    1,       2.5,    5,     10,     30,    60,   120,   300,  600};
}

MetricsRegistry::Entry& MetricsRegistry::Add(std::string name, std::string help, Kind kind, Labels labels) {
  std::lock_guard lock(mutex_);
  assert(std::none_of(entries_.begin(), entries_.end(),
                      [&](const Entry& e) { return e.name == name && (e.labels == labels || e.kind != kind); }) &&
         "metric registered twice, or one name with two kinds");
  Entry& entry = entries_.emplace_back();
  entry.name = std::move(name);
  entry.help = std::move(help);
  entry.kind = kind;
  entry.labels = std::move(labels);
  return entry;
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help, Labels labels) {
  Entry& e = Add(std::move(name), std::move(help), Kind::kCounter, std::move(labels));
  e.counter = std::make_unique<Counter>();
  return *e.counter;
}

Gauge& MetricsRegistry::AddGauge(std::string name, std::string help, Labels labels) {
  Entry& e = Add(std::move(name), std::move(help), Kind::kGauge, std::move(labels));
  e.gauge = std::make_unique<Gauge>();
  return *e.gauge;
}

Histogram& MetricsRegistry::AddHistogram(std::string name, std::string help, std::vector<double> bounds) {
  Entry& e = Add(std::move(name), std::move(help), Kind::kHistogram, {});
  e.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *e.histogram;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  std::vector<std::string_view> done;  // families already written
  for (const Entry& first : entries_) {
    if (std::find(done.begin(), done.end(), first.name) != done.end()) continue;
    done.push_back(first.name);
    static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram"};
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", first.name, EscapeHelp(first.help), first.name,
                       kTypes[static_cast<int>(first.kind)]);
    for (const Entry& e : entries_) {
      if (e.name != first.name) continue;
      switch (e.kind) {
        case Kind::kCounter:
          out += fmt::format("{}{} {}\n", e.name, FormatLabels(e.labels), e.counter->value());
          break;
        case Kind::kGauge:
          out += fmt::format("{}{} {}\n", e.name, FormatLabels(e.labels), FormatValue(e.gauge->value()));
          break;
        case Kind::kHistogram: {
          const HistogramSnapshot s = e.histogram->Snapshot();
          uint64_t cumulative = 0;
          for (size_t k = 0; k <= s.bounds.size(); ++k) {
            cumulative += s.counts[k];
            const std::pair<std::string, std::string> le{"le", k < s.bounds.size() ? FormatValue(s.bounds[k]) : "+Inf"};
            out += fmt::format("{}_bucket{} {}\n", e.name, FormatLabels(e.labels, &le), cumulative);
          }
          out += fmt::format("{}_sum{} {}\n", e.name, FormatLabels(e.labels), FormatValue(s.sum));
          out += fmt::format("{}_count{} {}\n", e.name, FormatLabels(e.labels), cumulative);
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace streamrec::serving
