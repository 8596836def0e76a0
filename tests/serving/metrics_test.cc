#include "streamrec/serving/metrics.h"

#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "streamrec/serving/list_stream.h"

namespace streamrec::serving {
namespace {

using namespace std::chrono_literals;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("registry renders counters, gauges and labelled families as Prometheus text", "[serving]") {
  MetricsRegistry registry;
  Counter& consumed = registry.AddCounter("x_consumed_total", "Records consumed.");
  Counter& bad = registry.AddCounter("x_dead_total", "Dead, by reason.", {{"reason", "invalid_json"}});
  Counter& other = registry.AddCounter("x_dead_total", "Dead, by reason.", {{"reason", "a\"b\\c\nd"}});
  Gauge& lag = registry.AddGauge("x_lag", "Lag.");
  consumed.Increment(3);
  bad.Increment();
  other.MirrorTotal(7);
  other.MirrorTotal(5);  // a mirrored total never goes down
  lag.Set(12.5);

  const std::string text = registry.RenderPrometheus();
  CHECK(Contains(text,
                 "# HELP x_consumed_total Records consumed.\n# TYPE x_consumed_total counter\n"
                 "x_consumed_total 3\n"));
  CHECK(Contains(text,
                 "# TYPE x_dead_total counter\nx_dead_total{reason=\"invalid_json\"} 1\n"
                 "x_dead_total{reason=\"a\\\"b\\\\c\\nd\"} 7\n"));
  // One header per family, however many label sets.
  CHECK(text.find("# TYPE x_dead_total") == text.rfind("# TYPE x_dead_total"));
  CHECK(Contains(text, "# TYPE x_lag gauge\nx_lag 12.5\n"));
}

TEST_CASE("histograms render cumulative buckets, sum and count", "[serving]") {
  MetricsRegistry registry;
  Histogram& h = registry.AddHistogram("x_seconds", "Latency.", {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 100.0}) h.Observe(v);
  const std::string text = registry.RenderPrometheus();
  CHECK(Contains(text,
                 "# TYPE x_seconds histogram\n"
                 "x_seconds_bucket{le=\"0.1\"} 2\n"
                 "x_seconds_bucket{le=\"1\"} 3\n"
                 "x_seconds_bucket{le=\"10\"} 4\n"
                 "x_seconds_bucket{le=\"+Inf\"} 5\n"
                 "x_seconds_sum 102.6"));
  CHECK(Contains(text, "\nx_seconds_count 5\n"));
}

TEST_CASE("histogram quantiles interpolate within buckets over a window", "[serving]") {
  Histogram h({1, 2, 4});
  const HistogramSnapshot empty = h.Snapshot();
  CHECK_FALSE(empty.Quantile(0.5).has_value());
  for (int k = 0; k < 50; ++k) h.Observe(0.5);
  for (int k = 0; k < 50; ++k) h.Observe(3);
  const HistogramSnapshot first = h.Snapshot();
  CHECK(first.count() == 100);
  CHECK(first.Quantile(0.5).value() == Approx(1.0));
  CHECK(first.Quantile(0.75).value() == Approx(3.0));  // halfway through (2, 4]
  // Only what came after `first` counts in the window.
  for (int k = 0; k < 10; ++k) h.Observe(100);
  const HistogramSnapshot window = h.Snapshot().Since(first);
  CHECK(window.count() == 10);
  CHECK(window.Quantile(0.99).value() == 4);  // above the last bound: the last bound
}

TEST_CASE("histograms take concurrent observations without losing any", "[serving]") {
  Histogram h(LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 10000; ++k) h.Observe(0.001);
    });
  }
  for (auto& t : threads) t.join();
  const HistogramSnapshot s = h.Snapshot();
  CHECK(s.count() == 40000);
  CHECK(s.sum == Approx(40.0));
}

schemas::RecommendationList ListFor(const std::string& user) {
  schemas::RecommendationList list;
  list.user_id = user;
  list.items = {{"i1", 0.5f}};
  list.model = "isgd";
  return list;
}

TEST_CASE("list stream: a slow subscriber loses its oldest events, never blocks the publisher", "[serving]") {
  ListStream stream(3);
  auto slow = stream.Subscribe(4);
  REQUIRE(slow);
  CHECK(stream.subscribers() == 1);
  for (int k = 0; k < 5; ++k) stream.PublishList(ListFor(fmt::format("u{}", k)));
  auto events = slow->Wait(0ms);
  REQUIRE(events);
  REQUIRE(events->size() == 3);
  CHECK(events->front().name == "list");
  CHECK(Contains(*events->front().data, "\"user_id\":\"u2\""));
  CHECK(Contains(*events->back().data, "\"user_id\":\"u4\""));
  CHECK(slow->TakeDropped() == 2);
  CHECK(slow->TakeDropped() == 0);
  stream.PublishStats(R"({"events_per_s":1})");
  events = slow->Wait(0ms);
  REQUIRE(events);
  REQUIRE(events->size() == 1);
  CHECK(events->front().name == "stats");
}

TEST_CASE("list stream: lists beyond the rate cap are skipped before serialisation", "[serving]") {
  ListStream stream(1000, 10);
  auto subscriber = stream.Subscribe(1);
  REQUIRE(subscriber);
  for (int k = 0; k < 100; ++k) stream.PublishList(ListFor(fmt::format("u{}", k)));
  auto events = subscriber->Wait(0ms);
  REQUIRE(events);
  // A burst of one second's worth, plus what refilled while publishing.
  CHECK(events->size() >= 10);
  CHECK(events->size() <= 12);
  CHECK(stream.lists_skipped() == 100 - events->size());
  // Stats are never skipped.
  stream.PublishStats("{}");
  CHECK(subscriber->Wait(0ms)->size() == 1);
}

TEST_CASE("list stream: subscriber limit, unsubscribe on destruction, close wakes waiters", "[serving]") {
  ListStream stream;
  auto a = stream.Subscribe(1);
  REQUIRE(a);
  CHECK_FALSE(stream.Subscribe(1));
  std::atomic<bool> woke_closed{false};
  std::thread waiter([&] { woke_closed.store(!a->Wait(10s).has_value()); });
  std::this_thread::sleep_for(50ms);
  const auto started = std::chrono::steady_clock::now();
  stream.Close();
  waiter.join();
  CHECK(woke_closed.load());
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK_FALSE(stream.Subscribe(10));
  a.reset();
  CHECK(stream.subscribers() == 0);
  CHECK_FALSE(stream.has_subscribers());
}

}  // namespace
}  // namespace streamrec::serving
