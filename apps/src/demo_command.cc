// `streamrec demo`: one process with the embedded broker, a synthetic feed
// and the pipeline, and a live terminal view of what flows through.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "command.h"
#include "demo_feed.h"
#include "kafka_settings.h"
#include "pipeline.h"
#include "pipeline_backend.h"
#include "text.h"
#include "streamrec/base/logging.h"
#include "streamrec/base/thread_name.h"
#include "streamrec/kafka/embedded_broker.h"
#include "streamrec/kafka/producer.h"

namespace streamrec::apps {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<bool> g_interrupted{false};
extern "C" void InterruptDemo(int /*signal*/) { g_interrupted.store(true); }

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The newest lists, for the terminal view.
class RecentLists {
 public:
  void Add(const schemas::RecommendationList& list) {
    std::lock_guard lock(mutex_);
    lists_.push_front(list);
    if (lists_.size() > kKept) lists_.pop_back();
  }
  std::deque<schemas::RecommendationList> Snapshot() const {
    std::lock_guard lock(mutex_);
    return lists_;
  }

 private:
  static constexpr size_t kKept = 6;
  mutable std::mutex mutex_;
  std::deque<schemas::RecommendationList> lists_;
};

// Produces the feed at `rate` records per second until `stop`.
void RunFeed(kafka::Producer& producer, int rate, const std::atomic<bool>& stop, std::atomic<uint64_t>& produced,
             const PipelineOptions& topics) {
  DemoFeed feed;
  auto send = [&](const FeedRecord& r) {
    kafka::ProducerRecord record;
    record.topic = r.topic == FeedTopic::kItems ? topics.items_topic : topics.events_topic;
    record.key = r.key;
    record.value = r.value;
    if (Status s = producer.Produce(record); !s.ok()) Logger(kLogApp)->warn("demo feed: {}", s.ToString());
  };
  for (const FeedRecord& r : feed.InitialCatalog()) send(r);
  const auto start = Clock::now();
  uint64_t sent = 0;
  while (!stop.load()) {
    // Catch up to where the rate says we should be, then sleep a little.
    const auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto due = static_cast<uint64_t>(elapsed * rate);
    for (; sent < due && !stop.load(); ++sent) send(feed.Next(WallMs()));
    produced.store(sent);
    producer.Poll(0ms);
    std::this_thread::sleep_for(5ms);
  }
  if (Status s = producer.Flush(5s); !s.ok()) Logger(kLogApp)->warn("demo feed: {}", s.ToString());
}

void PrintView(std::ostream& out, bool tty, double seconds, uint64_t produced, const PipelineStats& now,
               const PipelineStats& before, double interval, const std::deque<schemas::RecommendationList>& lists,
               const std::string& dashboard) {
  if (tty) out << "\x1b[H\x1b[2J";
  out << fmt::format(
      "streamrec demo - {:.0f}s  |  events/s {:.0f}  |  lists/s {:.0f}  |  dead-lettered {}  |  users {}  items {}  "
      "|  produced {}\n",
      seconds, (now.events_applied - before.events_applied) / interval,
      (now.lists_published - before.lists_published) / interval, now.dead_lettered, now.users, now.items, produced);
  if (!tty) return;
  out << "\nfreshest lists (user: top items, age of the triggering event)\n";
  const int64_t wall = WallMs();
  for (const auto& list : lists) {
    std::string items;
    for (size_t k = 0; k < std::min<size_t>(5, list.items.size()); ++k) {
      items += fmt::format("{}{} {:.2f}", k ? ", " : "", list.items[k].item_id, list.items[k].score);
    }
    out << fmt::format("  {:>6} [{}] {}  ({} ms)\n", list.user_id, list.model, items,
                       wall - list.source_event_ts_ms);
  }
  out << (dashboard.empty() ? "\nCtrl-C to stop.\n" : "\nDashboard: " + dashboard + "  -  Ctrl-C to stop.\n");
  out.flush();
}

Status RunDemo(const CommandContext& context) {
  auto duration_ms = context.flags.Has("duration") ? ParseDuration(*context.flags.Get("duration")) : std::nullopt;
  if (context.flags.Has("duration") && !duration_ms) {
    return Status::InvalidArgument("--duration: expected a duration such as 60s or 5m");
  }
  auto port = context.flags.GetInt("port", 9092, 0, 65535);
  if (!port.ok()) return port.status();
  auto rate = context.flags.GetInt("rate", 500, 1, 1000000);
  if (!rate.ok()) return rate.status();

  kafka::BrokerOptions broker_options;
  broker_options.port = static_cast<uint16_t>(*port);
  const PipelineOptions& p = context.settings.pipeline;
  broker_options.topics = {p.events_topic, p.items_topic, p.recommendations_topic, p.dlq_topic};
  auto broker = kafka::EmbeddedBroker::Start(broker_options);
  if (!broker.ok()) return broker.status().WithContext(fmt::format("starting the embedded broker on port {}", *port));
  context.err << fmt::format("streamrec demo: embedded broker at {} (kcat -b {} -C -t {} -K: shows the lists)\n",
                             broker->bootstrap_servers(), broker->bootstrap_servers(), p.recommendations_topic);

  // The broker is new and memory-only, so the store must be new too: a
  // store from an earlier demo would point at offsets this broker never had.
  Settings settings = context.settings;
  settings.kafka.bootstrap_servers = broker->bootstrap_servers();
  const bool own_state = settings.state.dir == Settings{}.state.dir;
  if (own_state) {
    char pattern[] = "/tmp/streamrec-demo-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Status::IoError("creating a temporary state dir under /tmp");
    settings.state.dir = pattern;
  }
  auto pipeline = Pipeline::Open(settings);
  if (!pipeline.ok()) return pipeline.status();
  auto http = HttpFrontEnd::Start(settings, **pipeline);
  if (!http.ok()) return http.status();
  const std::string dashboard = *http ? (*http)->url() + "/dashboard" : "";
  if (*http) context.out << "streamrec demo: dashboard at " << dashboard << std::endl;

  kafka::ProducerOptions producer_options;
  STREAMREC_RETURN_IF_ERROR(producer_options.config.Set("linger.ms", "2"));
  STREAMREC_RETURN_IF_ERROR(AddKafkaProperties(settings, KafkaRole::kProducer, producer_options.config));
  auto producer = kafka::Producer::Create(std::move(producer_options));
  if (!producer.ok()) return producer.status();

  RecentLists recent;
  std::atomic<bool> stop_feed{false};
  std::atomic<uint64_t> produced{0};
  Status pipeline_status;
  std::thread pipeline_thread([&] {
    SetThreadName("sr-pipeline");
    pipeline_status = (*pipeline)->Run(std::nullopt, [&](const schemas::RecommendationList& l, int64_t) { recent.Add(l); });
  });
  std::thread feed_thread([&] {
    SetThreadName("sr-demo-feed");
    RunFeed(*producer, static_cast<int>(*rate), stop_feed, produced, p);
  });

  g_interrupted.store(false);
  auto previous_int = std::signal(SIGINT, InterruptDemo);
  auto previous_term = std::signal(SIGTERM, InterruptDemo);
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const auto start = Clock::now();
  PipelineStats before;
  auto last = start;
  while (!g_interrupted.load()) {
    std::this_thread::sleep_for(tty ? 500ms : 2s);
    const auto now = Clock::now();
    const PipelineStats stats = (*pipeline)->Stats();
    PrintView(context.out, tty, std::chrono::duration<double>(now - start).count(), produced.load(), stats, before,
              std::chrono::duration<double>(now - last).count(), recent.Snapshot(), dashboard);
    before = stats;
    last = now;
    if (duration_ms && now - start >= std::chrono::milliseconds(*duration_ms)) break;
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  stop_feed.store(true);
  feed_thread.join();
  (*pipeline)->Stop();
  pipeline_thread.join();
  const PipelineStats stats = (*pipeline)->Stats();
  context.out << fmt::format("streamrec demo: {} events applied, {} dead-lettered, {} lists published\n",
                             stats.events_applied, stats.dead_lettered, stats.lists_published);
  pipeline->reset();
  if (own_state) std::filesystem::remove_all(settings.state.dir);
  return pipeline_status;
}

}  // namespace

Command DemoCommand() {
  return {
      "demo",
      "Embedded broker + synthetic feed + pipeline in one process, with a live view",
      "[--duration 60s] [--port 9092] [--rate 500]",
      {
          {"duration", "DURATION", "stop after this long (default: until Ctrl-C)"},
          {"port", "PORT", "bootstrap port of the embedded broker (default 9092; 0 = any free port)"},
          {"rate", "N", "feed records per second (default 500)"},
      },
      RunDemo};
}

}  // namespace streamrec::apps
