#include "streamrec/serving/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "streamrec/base/logging.h"
#include "streamrec/base/thread_name.h"
#include "streamrec/schemas/codec.h"

namespace streamrec::serving {
namespace {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr uint32_t kMaxListLength = 1000;
// How long an SSE stream waits for events before sending a keep-alive
// comment: a closed client is noticed by the failed write, so this bounds
// how long a gone subscriber holds its thread.
constexpr std::chrono::milliseconds kStreamTick{1000};

// nlohmann throws on invalid UTF-8 unless told otherwise; ids are checked,
// but a message may still quote bytes from a request.
std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

void SetJson(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void SetError(httplib::Response& res, int status, const std::string& message) {
  SetJson(res, status, Dump(Json{{"error", message}, {"code", status}}));
}

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// Compares without an early exit, so response timing does not tell how
// much of a guessed token was right (only its length).
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t k = 0; k < a.size(); ++k) diff |= static_cast<unsigned char>(a[k] ^ b[k]);
  return diff == 0;
}

struct ListenAddress {
  std::string host;
  int port = 0;
};

// "host:port" or "[v6]:port".
Result<ListenAddress> ParseListen(const std::string& listen) {
  const auto invalid = [&] {
    return Status::InvalidArgument(
        fmt::format("listen address '{}': expected host:port, e.g. 127.0.0.1:8080 (port 0 = any free port)", listen));
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return invalid();
  ListenAddress address;
  address.host = listen.substr(0, colon);
  if (address.host.front() == '[') {
    if (address.host.size() < 3 || address.host.back() != ']') return invalid();
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const std::string_view port = std::string_view(listen).substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (ec != std::errc() || end != port.data() + port.size() || address.port < 0 || address.port > 65535) {
    return invalid();
  }
  return address;
}

// Per client address: a bucket of `rate` tokens a second, holding at most
// one second's worth (at least one).
class RateLimiter {
 public:
  explicit RateLimiter(double rate) : rate_(rate), burst_(std::max(1.0, rate)) {}

  bool Admit(const std::string& client) {
    if (rate_ <= 0) return true;
    const auto now = SteadyClock::now();
    std::lock_guard lock(mutex_);
    // Forget idle clients now and then, so the map stays small.
    if (buckets_.size() > kMaxClients) {
      std::erase_if(buckets_, [&](const auto& entry) { return now - entry.second.last > std::chrono::seconds(60); });
    }
    auto [it, inserted] = buckets_.try_emplace(client, Bucket{burst_, now});
    Bucket& b = it->second;
    b.tokens = std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.last).count());
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

 private:
  static constexpr size_t kMaxClients = 10000;
  struct Bucket {
    double tokens;
    SteadyClock::time_point last;
  };
  const double rate_;
  const double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Parses n: an integer in [1, kMaxListLength].
std::optional<uint32_t> ParseListLength(const std::string& text) {
  uint32_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > kMaxListLength) return std::nullopt;
  return n;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  ServingBackend& backend;
  ListStream& stream;
  ListenAddress address;
  RateLimiter limiter;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> accept_loop_ended{false};
  std::shared_ptr<spdlog::logger> log = Logger(kLogServing);

  Impl(const HttpServerOptions& o, ServingBackend& b, ListStream& s)
      : options(o), backend(b), stream(s), limiter(o.rate_limit) {}

  std::string Url() const {
    std::string host = address.host;
    // A wildcard address is not one to browse to.
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return fmt::format("http://{}:{}", host, address.port);
  }

  // Runs a handler; anything it throws becomes a JSON 500, never a stack
  // trace or an escaped exception (cpp-httplib would report e.what()).
  template <typename F>
  void Guarded(const httplib::Request& req, httplib::Response& res, F&& handler) {
    try {
      handler(req, res);
    } catch (const std::exception& e) {
      log->error("{} {}: {}", req.method, req.path, e.what());
      res = httplib::Response();
      SetError(res, 500, "internal error");
    } catch (...) {
      log->error("{} {}: unknown exception", req.method, req.path);
      res = httplib::Response();
      SetError(res, 500, "internal error");
    }
  }

  // An internal failure is logged, not shown: its text may describe internals.
  void SetStatusError(const httplib::Request& req, httplib::Response& res, const Status& status) {
    const int code = HttpStatusOf(status.code());
    if (code == 500) log->error("{} {}: {}", req.method, req.path, status.ToString());
    SetError(res, code, code == 500 ? "internal error" : status.message());
  }

  void Route(const std::string& pattern, void (Impl::*handler)(const httplib::Request&, httplib::Response&)) {
    server.Get(pattern, [this, handler](const httplib::Request& req, httplib::Response& res) {
      Guarded(req, res, [&](const httplib::Request& r, httplib::Response& s) { (this->*handler)(r, s); });
    });
  }

  bool Authorized(const httplib::Request& req) const {
    if (options.token.empty()) return true;
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (header.size() > kScheme.size() &&
        std::equal(kScheme.begin(), kScheme.end(), header.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      return ConstantTimeEquals(std::string_view(header).substr(kScheme.size()), options.token);
    }
    return req.has_param("access_token") && ConstantTimeEquals(req.get_param_value("access_token"), options.token);
  }

  // Method, size, auth and rate checks before any route runs.
  httplib::Server::HandlerResponse Admit(const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET, HEAD");
      SetError(res, 405, fmt::format("method {} not allowed: the API is read-only", req.method));
      return httplib::Server::HandlerResponse::Handled;
    }
    // Only other methods' bodies would be read (and they are refused above),
    // so a body's size is judged by its header.
    if (req.has_header("Content-Length")) {
      int64_t length = 0;
      const std::string text = req.get_header_value("Content-Length");
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
      if (ec != std::errc() || end != text.data() + text.size() || length > options.max_body_bytes) {
        SetError(res, 413, fmt::format("request body larger than {} bytes", options.max_body_bytes));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    if (!Authorized(req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      SetError(res, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!limiter.Admit(req.remote_addr)) {
      res.set_header("Retry-After", "1");
      SetError(res, 429, fmt::format("rate limit of {} requests/s exceeded", options.rate_limit));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // Fills in a JSON body for errors no handler wrote: an unknown route, or
  // what the library refuses itself (a malformed request, a URI too long).
  void FillError(const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      SetError(res, 404, fmt::format("no route for {} {}", req.method, req.path));
    } else {
      SetError(res, res.status, res.status < 500 ? "bad request" : "internal error");
    }
  }

  // The rest of the path after the route's prefix, checked as an id; false
  // (with a 400) if invalid.
  static bool IdFromPath(const httplib::Request& req, std::string_view field, std::string& id, httplib::Response& res) {
    id = req.matches[1];
    if (auto rejection = schemas::CheckId(field, id)) {
      SetError(res, 400, rejection->ToString());
      return false;
    }
    return true;
  }

  void Recommendations(const httplib::Request& req, httplib::Response& res) {
    std::string user_id;
    if (!IdFromPath(req, "user_id", user_id, res)) return;
    uint32_t n = 10;
    if (req.has_param("n")) {
      auto parsed = ParseListLength(req.get_param_value("n"));
      if (!parsed) {
        SetError(res, 400, fmt::format("n must be an integer in [1, {}]", kMaxListLength));
        return;
      }
      n = *parsed;
    }
    bool fallback = false;
    if (req.has_param("fallback")) {
      if (req.get_param_value("fallback") != "popular") {
        SetError(res, 400, "fallback must be 'popular'");
        return;
      }
      fallback = true;
    }
    auto list = backend.Recommend(user_id, n, fallback);
    if (!list.ok()) return SetStatusError(req, res, list.status());
    SetJson(res, 200, schemas::SerializeRecommendationList(*list));
  }

  void User(const httplib::Request& req, httplib::Response& res) {
    std::string id;
    if (!IdFromPath(req, "user_id", id, res)) return;
    auto json = backend.DescribeUser(id);
    if (!json.ok()) return SetStatusError(req, res, json.status());
    SetJson(res, 200, *json);
  }

  void Item(const httplib::Request& req, httplib::Response& res) {
    std::string id;
    if (!IdFromPath(req, "item_id", id, res)) return;
    auto json = backend.DescribeItem(id);
    if (!json.ok()) return SetStatusError(req, res, json.status());
    SetJson(res, 200, *json);
  }

  void Health(const httplib::Request&, httplib::Response& res) { SetJson(res, 200, R"({"status":"ok"})"); }

  void Ready(const httplib::Request&, httplib::Response& res) {
    const Readiness r = backend.Ready();
    if (r.ready) {
      SetJson(res, 200, Dump(Json{{"ready", true}, {"partitions", r.partitions}, {"lag", r.lag}}));
    } else {
      SetJson(
          res, 503,
          Dump(Json{{"error", "not ready: " + r.reason}, {"code", 503}, {"partitions", r.partitions}, {"lag", r.lag}}));
    }
  }

  void Metrics(const httplib::Request&, httplib::Response& res) {
    res.set_content(backend.MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  }

  void Dashboard(const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(DashboardHtml()), "text/html; charset=utf-8");
  }

  void Stream(const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<Subscription> subscription = stream.Subscribe(static_cast<size_t>(options.max_streams));
    if (!subscription) {
      SetError(res, 503, fmt::format("too many open streams (at most {})", options.max_streams));
      return;
    }
    // cpp-httplib 0.11 compresses any text/* response the client accepts
    // compressed, and its compressor holds chunks back until it has enough:
    // events would arrive late and in bursts. It decides from the request's
    // Accept-Encoding when writing, so the stream drops that header (the
    // Request object is not const; only the handler's view of it is).
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    res.set_header("Cache-Control", "no-store");
    // The provider runs outside routing, on this connection's thread, until
    // the client leaves or the server stops; it must not throw.
    res.set_chunked_content_provider("text/event-stream",
                                     [this, subscription](size_t /*offset*/, httplib::DataSink& sink) {
                                       try {
                                         auto events = subscription->Wait(kStreamTick);
                                         if (!events || stopping.load()) {
                                           sink.done();
                                           return true;
                                         }
                                         std::string out;
                                         if (const uint64_t dropped = subscription->TakeDropped()) {
                                           out += fmt::format(": {} events dropped (client too slow)\n\n", dropped);
                                         }
                                         for (const StreamEvent& e : *events)
                                           out += fmt::format("event: {}\ndata: {}\n\n", e.name, *e.data);
                                         // A comment keeps proxies from timing out and finds gone clients.
                                         if (out.empty()) out = ": keep-alive\n\n";
                                         return sink.write(out.data(), out.size());
                                       } catch (const std::exception& e) {
                                         log->error("/v1/stream: {}", e.what());
                                         return false;
                                       }
                                     });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, ServingBackend& backend,
                                                      ListStream& stream) {
  auto address = ParseListen(options.listen);
  if (!address.ok()) return address.status();
  // Every open stream holds a thread, so streams alone must not take all.
  if (options.max_streams < 0 || options.max_streams >= options.threads || options.max_body_bytes < 0) {
    return Status::InvalidArgument(
        fmt::format("HTTP server: max_streams ({}) must be in [0, threads ({})), max_body_bytes >= 0",
                    options.max_streams, options.threads));
  }
  auto impl = std::make_unique<Impl>(options, backend, stream);
  impl->address = *address;
  Impl& m = *impl;
  httplib::Server& server = m.server;
  const auto threads = static_cast<size_t>(options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // The library's default adds SO_REUSEPORT, which lets a second process
  // bind the same port and silently take half the connections. REUSEADDR
  // alone still allows a restart while old connections linger in TIME_WAIT.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Idle keep-alive connections hold a thread; a short timeout returns it
  // soon and keeps Stop quick.
  server.set_keep_alive_timeout(2);
  server.set_read_timeout(5);
  server.set_write_timeout(5);
  server.set_pre_routing_handler([&m](const httplib::Request& req, httplib::Response& res) {
    auto verdict = httplib::Server::HandlerResponse::Handled;
    m.Guarded(req, res, [&](const httplib::Request& r, httplib::Response& s) { verdict = m.Admit(r, s); });
    return verdict;
  });
  server.set_error_handler([&m](const httplib::Request& req, httplib::Response& res) {
    m.Guarded(req, res, [&](const httplib::Request& r, httplib::Response& s) { m.FillError(r, s); });
  });
  // Ids may hold any character (a '/' arrives percent-encoded and is decoded
  // before matching), so the id is the whole rest of the path.
  m.Route(R"(/v1/recommendations/(.*))", &Impl::Recommendations);
  m.Route(R"(/v1/users/(.*))", &Impl::User);
  m.Route(R"(/v1/items/(.*))", &Impl::Item);
  m.Route("/healthz", &Impl::Health);
  m.Route("/readyz", &Impl::Ready);
  m.Route("/metrics", &Impl::Metrics);
  m.Route("/v1/stream", &Impl::Stream);
  m.Route("/dashboard", &Impl::Dashboard);

  if (address->port == 0) {
    const int port = server.bind_to_any_port(address->host);
    if (port < 0) {
      return Status::IoError(fmt::format("cannot bind {}: {}", options.listen, std::strerror(errno)));
    }
    m.address.port = port;
  } else if (!server.bind_to_port(address->host, address->port)) {
    return Status::IoError(fmt::format("cannot bind {}: {}", options.listen, std::strerror(errno)));
  }
  m.thread = std::thread([&m] {
    SetThreadName("sr-http");
    if (!m.server.listen_after_bind()) m.log->error("HTTP server on {} stopped accepting", m.options.listen);
    m.accept_loop_ended.store(true);
  });
  // stop() is a no-op until the accept loop runs, so Stop must not race it.
  while (!server.is_running() && !m.accept_loop_ended.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  m.log->info("HTTP server listening on {}", m.Url());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->address.port; }

std::string HttpServer::url() const { return impl_->Url(); }

void HttpServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping.store(true);
  impl_->stream.Close();
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace streamrec::serving
