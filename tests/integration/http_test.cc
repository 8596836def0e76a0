// The HTTP surface over a real pipeline: embedded broker, RocksDB store,
// the pipeline thread answering requests between batches, a real client.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

// Private headers of apps/, where the pipeline and its backend live.
#include "../../apps/src/pipeline.h"
#include "../../apps/src/pipeline_backend.h"
#include "streamrec/apps/cli.h"
#include "streamrec/schemas/codec.h"
#include "support/kafka_fixture.h"

namespace streamrec {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `path` until it answers `status` (or 30 s pass); the last response.
httplib::Result GetUntil(httplib::Client& client, const std::string& path, int status) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (true) {
    auto res = client.Get(path);
    if ((res && res->status == status) || std::chrono::steady_clock::now() > deadline) return res;
    std::this_thread::sleep_for(100ms);
  }
}

// `name{labels} value` lines of a Prometheus text body, keyed by series.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> series;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    series[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return series;
}

class HttpPipelineFixture {
 public:
  HttpPipelineFixture() {
    auto settings = apps::LoadSettings(
        std::nullopt, std::vector<std::string>{
                          "kafka.bootstrap.servers=" + kafka_.bootstrap(), "state.dir=" + dir_.Sub("state"),
                          "learner.dim=16", "serving.min_refresh_ms=0ms", "http.listen=127.0.0.1:0", "log.level=warn"});
    REQUIRE_RESULT_OK(settings);
    apps::ApplyLogLevel(*settings);
    auto pipeline = apps::Pipeline::Open(*settings);
    REQUIRE_RESULT_OK(pipeline);
    pipeline_ = std::move(*pipeline);
    auto http = apps::HttpFrontEnd::Start(*settings, *pipeline_);
    REQUIRE_RESULT_OK(http);
    http_ = std::move(*http);
    REQUIRE(http_);
    auto producer = kafka::Producer::Create({.config = kafka_.ProducerConfig()});
    REQUIRE_RESULT_OK(producer);
    producer_.emplace(std::move(*producer));
    runner_ = std::thread([this] { run_status_ = pipeline_->Run(std::nullopt); });
  }
  ~HttpPipelineFixture() { StopPipeline(); }

  void StopPipeline() {
    if (!runner_.joinable()) return;
    pipeline_->Stop();
    runner_.join();
    CHECK(run_status_.ok());
  }

  httplib::Client Client() const {
    httplib::Client client(http_->url());
    client.set_read_timeout(10, 0);
    return client;
  }

  void Produce(const std::string& topic, const std::string& key, const std::string& value) {
    kafka::ProducerRecord record;
    record.topic = topic;
    record.key = key;
    record.value = value;
    REQUIRE_OK(producer_->Produce(record));
  }
  void Click(const std::string& user, const std::string& item) {
    Produce("events", user,
            schemas::SerializeEvent({user, item, schemas::EventType::kClick, NowMs(), std::nullopt, std::nullopt}));
  }
  void Flush() { REQUIRE_OK(producer_->Flush(10s)); }

 private:
  testing::KafkaFixture kafka_;
  testing::TempDir dir_;
  std::unique_ptr<apps::Pipeline> pipeline_;
  std::unique_ptr<apps::HttpFrontEnd> http_;
  std::optional<kafka::Producer> producer_;
  std::thread runner_;
  Status run_status_;
};

TEST_CASE("HTTP on a running pipeline: lists for users who just acted, live metrics, stream, readiness",
          "[integration]") {
  HttpPipelineFixture f;
  auto client = f.Client();
  for (int round = 0; round < 5; ++round) {
    for (int user = 0; user < 20; ++user)
      f.Click(fmt::format("u{}", user), fmt::format("i{}", (user * 7 + round * 3) % 30));
  }
  f.Produce("events", "u0", "{not json");
  f.Flush();

  auto res = GetUntil(client, "/v1/recommendations/u1?n=5", 200);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  Json list = Json::parse(res->body);
  CHECK(list["user_id"] == "u1");
  CHECK(list["items"].size() == 5);
  CHECK(list["model"] == "isgd");

  // A user who acts now gets a list as soon as the event is consumed.
  CHECK(client.Get("/v1/recommendations/newcomer")->status == 404);
  f.Click("newcomer", "i3");
  f.Flush();
  res = GetUntil(client, "/v1/recommendations/newcomer", 200);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  list = Json::parse(res->body);
  CHECK(list["user_id"] == "newcomer");
  CHECK(list["items"].size() == 10);
  for (const auto& item : list["items"]) CHECK(item["item_id"] != "i3");  // seen items are left out
  CHECK(client.Get("/v1/recommendations/nobody?fallback=popular")->status == 200);

  res = client.Get("/v1/users/u1");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Json::parse(res->body)["event_count"] == 5);
  res = client.Get("/v1/items/i3");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Json::parse(res->body)["count"].get<int>() >= 1);

  res = GetUntil(client, "/readyz", 200);
  REQUIRE(res);
  CHECK(res->status == 200);

  // Metrics: every series the issue names, non-zero where traffic makes it
  // so (the lag is zero once caught up: it only has to be there).
  std::map<std::string, double> metrics;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  do {
    std::this_thread::sleep_for(300ms);
    res = client.Get("/metrics");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    metrics = ParseMetrics(res->body);
  } while (metrics["streamrec_store_size_bytes"] == 0 && std::chrono::steady_clock::now() < deadline);
  for (const char* name :
       {"streamrec_events_consumed_total", "streamrec_events_applied_total",
        "streamrec_events_dead_lettered_total{reason=\"invalid_json\"}", "streamrec_batch_latency_seconds_count",
        "streamrec_batch_latency_seconds_sum", "streamrec_freshness_seconds_count",
        "streamrec_freshness_seconds_bucket{le=\"+Inf\"}", "streamrec_refresh_delay_seconds_count",
        "streamrec_lists_published_total", "streamrec_refresh_rounds_total", "streamrec_store_size_bytes",
        "streamrec_users", "streamrec_items", "streamrec_partitions_assigned"}) {
    INFO(name);
    CHECK(metrics[name] > 0);
  }
  CHECK(metrics["streamrec_events_applied_total"] == 101);
  CHECK(metrics["streamrec_events_consumed_total"] == 102);
  CHECK(metrics["streamrec_users"] == 21);
  CHECK(metrics.contains("streamrec_consumer_lag"));

  // The stream: fresh lists as they are published, and stats every second.
  // The reader makes no Catch assertions (it runs on its own thread).
  std::string received;
  std::atomic<bool> read_done{false};
  std::thread reader([&] {
    auto stream_client = f.Client();
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    stream_client.Get("/v1/stream", [&](const char* data, size_t length) {
      received.append(data, length);
      const bool both = received.find("event: list\ndata: {") != std::string::npos &&
                        received.find("event: stats\ndata: {") != std::string::npos;
      return !both && std::chrono::steady_clock::now() < give_up;
    });
    read_done.store(true);
  });
  for (int k = 0; !read_done.load() && k < 400; ++k) {
    f.Click(fmt::format("u{}", k % 20), fmt::format("i{}", k % 30));
    f.Flush();
    std::this_thread::sleep_for(50ms);
  }
  reader.join();
  CHECK(received.find("event: list\ndata: {\"user_id\":\"u") != std::string::npos);
  CHECK(received.find("\"events_per_s\":") != std::string::npos);

  // Once the pipeline stops, requests that need it fail fast with 503.
  f.StopPipeline();
  res = client.Get("/v1/recommendations/u1");
  REQUIRE(res);
  CHECK(res->status == 503);
  res = client.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(client.Get("/healthz")->status == 200);
}

TEST_CASE("requests the pipeline thread does not answer in time get 503, metrics need no pipeline thread",
          "[integration]") {
  testing::KafkaFixture kafka;
  testing::TempDir dir;
  auto settings = apps::LoadSettings(
      std::nullopt,
      std::vector<std::string>{"kafka.bootstrap.servers=" + kafka.bootstrap(), "state.dir=" + dir.Sub("state"),
                               "http.listen=127.0.0.1:0", "http.request_timeout=200ms", "log.level=warn"});
  REQUIRE_RESULT_OK(settings);
  auto pipeline = apps::Pipeline::Open(*settings);
  REQUIRE_RESULT_OK(pipeline);
  auto http = apps::HttpFrontEnd::Start(*settings, **pipeline);
  REQUIRE_RESULT_OK(http);
  httplib::Client client((*http)->url());
  // Run() was never called: nobody drains the queue.
  const auto started = std::chrono::steady_clock::now();
  auto res = client.Get("/v1/recommendations/u1");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body.find("did not answer within 200 ms") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  res = client.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body.find("not running") != std::string::npos);
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("# TYPE streamrec_freshness_seconds histogram") != std::string::npos);
}

TEST_CASE("streamrec run: an http.listen port in use is a clear error", "[integration]") {
  testing::KafkaFixture kafka;
  testing::TempDir dir;
  // Hold a port the way another server would.
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(::listen(sock, 1) == 0);
  socklen_t length = sizeof(address);
  REQUIRE(::getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string listen = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));

  std::ostringstream out, err;
  const int code =
      apps::Run({"run", "--stop-when-idle", "1s", "--set", "kafka.bootstrap.servers=" + kafka.bootstrap(), "--set",
                 "state.dir=" + dir.Sub("state"), "--set", "http.listen=" + listen, "--set", "log.level=error"},
                out, err);
  ::close(sock);
  INFO(err.str());
  CHECK(code == 1);
  CHECK(err.str().find("http.listen") != std::string::npos);
  CHECK(err.str().find(listen) != std::string::npos);
  CHECK(err.str().find("in use") != std::string::npos);
}

}  // namespace
}  // namespace streamrec
