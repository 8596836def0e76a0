// The HTTP server against a fake backend, through a real HTTP client over
// loopback: routes, statuses, JSON errors, token, rate and size limits, SSE.

#include "streamrec/serving/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace streamrec::serving {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

class FakeBackend final : public ServingBackend {
 public:
  Result<schemas::RecommendationList> Recommend(const std::string& user_id, uint32_t n,
                                                bool fallback_popular) override {
    if (user_id == "boom") throw std::runtime_error("secret internals");
    if (user_id == "busy") return Status::Unavailable("the pipeline did not answer");
    schemas::RecommendationList list;
    list.user_id = user_id;
    list.model = "isgd";
    if (user_id != "u1") {
      if (!fallback_popular) return Status::NotFound("unknown user '" + user_id + "'");
      list.model = "popularity";
    }
    for (uint32_t k = 0; k < n; ++k) list.items.push_back({fmt::format("i{}", k), 1.0f / static_cast<float>(k + 1)});
    last_n = n;
    return list;
  }
  Result<std::string> DescribeUser(const std::string& user_id) override {
    if (user_id != "u1") return Status::NotFound("unknown user '" + user_id + "'");
    return std::string(R"({"user_id":"u1","event_count":3})");
  }
  Result<std::string> DescribeItem(const std::string& item_id) override {
    if (item_id != "i/1") return Status::NotFound("unknown item '" + item_id + "'");
    return std::string(R"({"item_id":"i/1"})");
  }
  std::string MetricsText() override { return "# TYPE x_total counter\nx_total 1\n"; }
  Readiness Ready() override {
    std::lock_guard lock(mutex);
    return readiness;
  }

  std::atomic<uint32_t> last_n{0};
  std::mutex mutex;
  Readiness readiness{.ready = true, .reason = "", .partitions = 4, .lag = 0};
};

struct ServerFixture {
  explicit ServerFixture(HttpServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    auto started = HttpServer::Start(options, backend, stream);
    REQUIRE_RESULT_OK(started);
    server = std::move(*started);
    REQUIRE(server->port() > 0);
  }
  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server->port());
    client.set_read_timeout(5, 0);
    return client;
  }

  FakeBackend backend;
  ListStream stream;
  std::unique_ptr<HttpServer> server;
};

Json JsonOf(const httplib::Result& res) {
  REQUIRE(res);
  INFO(res->body);
  Json json = Json::parse(res->body, nullptr, false);
  REQUIRE_FALSE(json.is_discarded());
  return json;
}

// Every error is {"error": text, "code": status}.
void CheckJsonError(const httplib::Result& res, int status) {
  REQUIRE(res);
  CHECK(res->status == status);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  const Json json = JsonOf(res);
  CHECK(json["code"] == status);
  CHECK(json["error"].is_string());
  CHECK_FALSE(json["error"].get<std::string>().empty());
}

TEST_CASE("GET /v1/recommendations: lists, unknown users, fallback, bad n and ids", "[serving]") {
  ServerFixture f;
  auto client = f.Client();

  auto res = client.Get("/v1/recommendations/u1?n=3");
  REQUIRE(res);
  CHECK(res->status == 200);
  Json list = JsonOf(res);
  CHECK(list["user_id"] == "u1");
  CHECK(list["items"].size() == 3);
  CHECK(list["items"][0]["item_id"] == "i0");

  res = client.Get("/v1/recommendations/u1");
  CHECK(JsonOf(res)["items"].size() == 10);  // n defaults to 10

  CheckJsonError(client.Get("/v1/recommendations/stranger"), 404);
  res = client.Get("/v1/recommendations/stranger?fallback=popular&n=2");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(JsonOf(res)["model"] == "popularity");

  for (const char* bad : {"n=0", "n=1001", "n=abc", "n=-1", "n=5x", "fallback=random"}) {
    INFO(bad);
    CheckJsonError(client.Get(std::string("/v1/recommendations/u1?") + bad), 400);
  }
  // Control characters and over-long ids are refused before the backend.
  CheckJsonError(client.Get("/v1/recommendations/u%01x"), 400);
  CheckJsonError(client.Get("/v1/recommendations/" + std::string(300, 'a')), 400);
  CheckJsonError(client.Get("/v1/recommendations/"), 400);
}

TEST_CASE("backend failures map to statuses, exceptions become a JSON 500 without details", "[serving]") {
  ServerFixture f;
  auto client = f.Client();
  CheckJsonError(client.Get("/v1/recommendations/busy"), 503);
  auto res = client.Get("/v1/recommendations/boom");
  CheckJsonError(res, 500);
  CHECK(res->body.find("secret internals") == std::string::npos);
  CHECK_FALSE(res->has_header("EXCEPTION_WHAT"));
}

TEST_CASE("GET /v1/users and /v1/items: state as JSON, ids percent-decoded, 404 when unknown", "[serving]") {
  ServerFixture f;
  auto client = f.Client();
  auto res = client.Get("/v1/users/u1");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(JsonOf(res)["event_count"] == 3);
  CheckJsonError(client.Get("/v1/users/nobody"), 404);
  res = client.Get("/v1/items/i%2F1");  // an id with a slash
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(JsonOf(res)["item_id"] == "i/1");
  CheckJsonError(client.Get("/v1/items/none"), 404);
}

TEST_CASE("health, readiness, metrics, dashboard, unknown routes and methods are JSON errors", "[serving]") {
  ServerFixture f;
  auto client = f.Client();
  auto res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);

  res = client.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(JsonOf(res)["ready"] == true);
  {
    std::lock_guard lock(f.backend.mutex);
    f.backend.readiness = {.ready = false, .reason = "no partitions assigned yet", .partitions = 0, .lag = 0};
  }
  res = client.Get("/readyz");
  CheckJsonError(res, 503);
  CHECK(JsonOf(res)["error"].get<std::string>().find("no partitions assigned yet") != std::string::npos);

  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  CHECK(res->body == "# TYPE x_total counter\nx_total 1\n");

  res = client.Get("/dashboard");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(res->body.find("new EventSource") != std::string::npos);
  // Self-contained: no script, style or font from elsewhere.
  CHECK(res->body.find("src=\"http") == std::string::npos);
  CHECK(res->body.find("href=\"http") == std::string::npos);

  CheckJsonError(client.Get("/no/such/route"), 404);
  CheckJsonError(client.Post("/v1/recommendations/u1", "{}", "application/json"), 405);
  CheckJsonError(client.Delete("/metrics"), 405);
}

TEST_CASE("bearer token: required everywhere but /healthz, as a header or access_token", "[serving]") {
  HttpServerOptions options;
  options.token = "s3cret";
  ServerFixture f(options);
  auto client = f.Client();
  CheckJsonError(client.Get("/v1/recommendations/u1"), 401);
  CheckJsonError(client.Get("/metrics"), 401);
  CheckJsonError(client.Get("/dashboard"), 401);
  CheckJsonError(client.Get("/metrics", {{"Authorization", "Bearer wrong"}}), 401);
  CheckJsonError(client.Get("/metrics", {{"Authorization", "Bearer s3cre"}}), 401);
  CheckJsonError(client.Get("/metrics", {{"Authorization", "Basic s3cret"}}), 401);
  auto res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  res = client.Get("/metrics", {{"Authorization", "Bearer s3cret"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  res = client.Get("/v1/recommendations/u1?n=2&access_token=s3cret");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(f.backend.last_n == 2);
}

TEST_CASE("rate limit: a client over its requests per second gets 429", "[serving]") {
  HttpServerOptions options;
  options.rate_limit = 3;
  ServerFixture f(options);
  auto client = f.Client();
  int ok = 0;
  int limited = 0;
  for (int k = 0; k < 8; ++k) {
    auto res = client.Get("/metrics");
    REQUIRE(res);
    if (res->status == 200) ++ok;
    if (res->status == 429) {
      ++limited;
      CheckJsonError(res, 429);
      CHECK(res->get_header_value("Retry-After") == "1");
    }
  }
  // A burst of one second's worth (3), perhaps one more refilled meanwhile.
  CHECK(ok >= 3);
  CHECK(ok <= 4);
  CHECK(limited == 8 - ok);
  // Health checks are never throttled.
  auto res = client.Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  // The bucket refills.
  std::this_thread::sleep_for(1100ms);
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("request size limit: bodies over max_body_bytes get 413", "[serving]") {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  ServerFixture f(options);
  auto client = f.Client();
  httplib::Request req;
  req.method = "GET";
  req.path = "/v1/recommendations/u1";
  req.body = std::string(4096, 'x');
  req.set_header("Content-Type", "text/plain");
  req.set_header("Content-Length", "4096");
  auto res = client.send(req);
  CheckJsonError(res, 413);
  // The library's own limits answer in JSON too.
  CheckJsonError(client.Get("/v1/recommendations/" + std::string(10000, 'a')), 414);
  // Within the limit: served.
  res = client.Get("/v1/recommendations/u1");
  REQUIRE(res);
  CHECK(res->status == 200);
}

struct StreamRead {
  int status = 0;
  std::string content_type;
  std::string content_encoding;
  std::string received;
};

// Reads /v1/stream until `done` says enough or the server ends it. Makes no
// Catch assertions: readers run on threads of their own.
StreamRead ReadStream(const ServerFixture& f, const std::function<bool(const std::string&)>& done,
                      httplib::Headers headers = {}) {
  auto client = f.Client();
  StreamRead read;
  client.Get(
      "/v1/stream", headers,
      [&](const httplib::Response& response) {
        read.status = response.status;
        read.content_type = response.get_header_value("Content-Type");
        read.content_encoding = response.get_header_value("Content-Encoding");
        return true;
      },
      [&](const char* data, size_t length) {
        read.received.append(data, length);
        return !done(read.received);
      });
  return read;
}

void CheckStreamHeaders(const StreamRead& read) {
  CHECK(read.status == 200);
  CHECK(read.content_type == "text/event-stream");
  // The library compresses text/* for clients that accept it, which would
  // hold events back: the stream must go out uncompressed.
  CHECK(read.content_encoding.empty());
}

TEST_CASE("GET /v1/stream delivers published lists and stats as server-sent events", "[serving]") {
  ServerFixture f;
  std::atomic<bool> stop{false};
  // Publishes until the reader has what it needs: it may subscribe late.
  std::thread publisher([&] {
    schemas::RecommendationList list;
    list.user_id = "u7";
    list.items = {{"i3", 0.75f}};
    list.model = "isgd";
    while (!stop.load()) {
      f.stream.PublishList(list);
      f.stream.PublishStats(R"({"events_per_s":12})");
      std::this_thread::sleep_for(20ms);
    }
  });
  const StreamRead read =
      ReadStream(f,
                 [](const std::string& text) {
                   return text.find("event: list\ndata: {\"user_id\":\"u7\"") != std::string::npos &&
                          text.find("event: stats\ndata: {\"events_per_s\":12}\n\n") != std::string::npos;
                 },
                 {{"Accept-Encoding", "gzip, deflate, br"}});
  stop.store(true);
  publisher.join();
  CheckStreamHeaders(read);
  CHECK(read.received.find("event: list\ndata: {\"user_id\":\"u7\",\"items\":[{\"item_id\":\"i3\",\"score\":0.75}]") !=
        std::string::npos);
  // The subscriber left when the client closed.
  for (int k = 0; k < 50 && f.stream.has_subscribers(); ++k) std::this_thread::sleep_for(100ms);
  CHECK_FALSE(f.stream.has_subscribers());
}

TEST_CASE("GET /v1/stream: idle streams get keep-alive comments, streams beyond max_streams get 503", "[serving]") {
  HttpServerOptions options;
  options.max_streams = 1;
  ServerFixture f(options);
  StreamRead read;
  std::thread reader([&] {
    read = ReadStream(f, [&](const std::string& text) { return text.find(": keep-alive\n\n") != std::string::npos; });
  });
  while (!f.stream.has_subscribers()) std::this_thread::sleep_for(10ms);
  CheckJsonError(f.Client().Get("/v1/stream"), 503);
  reader.join();
  CheckStreamHeaders(read);
  CHECK(read.received == ": keep-alive\n\n");
}

TEST_CASE("Stop ends open streams promptly", "[serving]") {
  ServerFixture f;
  std::thread reader([&] { ReadStream(f, [](const std::string&) { return false; }); });
  while (!f.stream.has_subscribers()) std::this_thread::sleep_for(10ms);
  const auto started = std::chrono::steady_clock::now();
  f.server->Stop();
  reader.join();
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("start: a busy port or a malformed address is a clear error", "[serving]") {
  ServerFixture f;
  FakeBackend backend;
  ListStream stream;
  HttpServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(f.server->port());
  auto busy = HttpServer::Start(options, backend, stream);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.status().message().find(options.listen) != std::string::npos);
  CHECK(busy.status().message().find("in use") != std::string::npos);
  for (const char* bad : {"8080", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:http", ":8080"}) {
    INFO(bad);
    options.listen = bad;
    auto started = HttpServer::Start(options, backend, stream);
    REQUIRE_FALSE(started.ok());
    CHECK(started.status().code() == StatusCode::kInvalidArgument);
  }
  options.listen = "[::1]:0";
  auto v6 = HttpServer::Start(options, backend, stream);
  // Loopback IPv6 may be absent in a container; when it works, the URL is bracketed.
  if (v6.ok()) CHECK((*v6)->url().starts_with("http://[::1]:"));
}

}  // namespace
}  // namespace streamrec::serving
