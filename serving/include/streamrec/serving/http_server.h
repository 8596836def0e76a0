#pragma once

// HttpServer: the HTTP surface of a running pipeline (DESIGN.md "Serving"):
//
//   GET /v1/recommendations/{user_id}?n=10[&fallback=popular]
//   GET /v1/users/{id}      GET /v1/items/{id}      (state introspection)
//   GET /healthz (alive)    GET /readyz (partitions assigned, lag bounded)
//   GET /metrics            (Prometheus text)
//   GET /v1/stream          (Server-Sent Events: `list` and `stats` events)
//   GET /dashboard          (self-contained live page fed by /v1/stream)
//
// Every error is JSON {"error": "...", "code": N}. With a token configured,
// every route but /healthz needs `Authorization: Bearer <token>` (or
// `?access_token=<token>`, since a browser's EventSource cannot set
// headers). Each client address gets a token bucket of requests.
//
// The server knows nothing of the pipeline: it asks a ServingBackend, which
// the pipeline implements, and streams what a ListStream fans out.
//
// Lifecycle: Start binds and serves on its own threads; Stop (or the
// destructor) closes the socket, ends the SSE streams and joins. The backend
// and the stream must outlive the server.
// Thread-safety: Start/Stop from one thread; the backend is called from
// many HTTP threads at once.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "streamrec/base/status.h"
#include "streamrec/schemas/event.h"
#include "streamrec/serving/list_stream.h"

namespace streamrec::serving {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready; empty when ready
  size_t partitions = 0;
  int64_t lag = 0;  // records behind, over the assigned partitions
};

// What the server asks of the pipeline. Errors map to HTTP statuses:
// NotFound 404, InvalidArgument 400, Unavailable 503, anything else 500.
class ServingBackend {
 public:
  virtual ~ServingBackend() = default;
  // The user's current top `n` from the live model. An unknown user is
  // NotFound unless `fallback_popular`, which serves popular items.
  [[nodiscard]] virtual Result<schemas::RecommendationList> Recommend(const std::string& user_id, uint32_t n,
                                                                      bool fallback_popular) = 0;
  // A JSON object describing the user's or item's state; NotFound if unknown.
  [[nodiscard]] virtual Result<std::string> DescribeUser(const std::string& user_id) = 0;
  [[nodiscard]] virtual Result<std::string> DescribeItem(const std::string& item_id) = 0;
  // Prometheus text exposition of every metric.
  virtual std::string MetricsText() = 0;
  virtual Readiness Ready() = 0;
};

struct HttpServerOptions {
  // host:port to bind; port 0 picks a free port (see HttpServer::port()).
  // Loopback only unless changed. Default: 127.0.0.1:8080.
  std::string listen = "127.0.0.1:8080";
  // When non-empty, required as a bearer token on every route but /healthz.
  // Default: empty (no authentication).
  std::string token;
  // Requests with a larger body are refused with 413. Default: 64 KiB.
  int64_t max_body_bytes = 64 * 1024;
  // Requests per second each client address may make (token bucket with a
  // burst of one second's worth); 0 = unlimited. Over it: 429.
  // Default: 100.
  int rate_limit = 100;
  // Threads serving connections; each open /v1/stream holds one.
  // Default: 16.
  int threads = 16;
  // Concurrent /v1/stream subscribers; more get 503, so streams cannot take
  // every thread. Must be below `threads`. Default: 8.
  int max_streams = 8;
};

// The page served at /dashboard (HTML with inline CSS and JS).
std::string_view DashboardHtml();

class HttpServer {
 public:
  // Binds options.listen and starts serving. Fails (naming `listen`) when
  // the address is malformed or cannot be bound.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                                 ServingBackend& backend, ListStream& stream);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port bound (the real one when options.listen asked for port 0).
  int port() const;
  // http://host:port, for printing.
  std::string url() const;
  // Stops accepting, ends the streams, waits for in-flight requests.
  // Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::serving
