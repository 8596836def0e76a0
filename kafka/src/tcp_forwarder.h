#pragma once

// A small TCP forwarder: listens on 127.0.0.1:PORT and, for each connection,
// connects to the first reachable target and copies bytes both ways. It
// gives the embedded broker a fixed bootstrap port, which librdkafka 2.0.2's
// mock cluster cannot bind itself.
//
// One thread accepts; one thread per connection pumps with poll(). Kafka
// clients hold few connections to a bootstrap address, so threads are
// cheaper than an event loop here. Destruction wakes every thread through an
// eventfd, shuts the sockets down, joins the threads and closes the sockets.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "streamrec/base/status.h"

namespace streamrec::kafka::internal {

struct Endpoint {
  std::string host;  // numeric IPv4
  uint16_t port = 0;
};

class TcpForwarder {
 public:
  // Listens on 127.0.0.1:`port` (0: a free port) and forwards to `targets`,
  // trying them in order for each new connection (so one broker set down
  // does not break the bootstrap). Unavailable when the port cannot be bound.
  static Result<std::unique_ptr<TcpForwarder>> Start(uint16_t port, std::vector<Endpoint> targets);

  ~TcpForwarder();
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;

  uint16_t port() const { return port_; }

 private:
  struct Connection {
    int client_fd = -1;
    int upstream_fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  TcpForwarder(int listen_fd, int wake_fd, uint16_t port, std::vector<Endpoint> targets);
  void AcceptLoop();
  int ConnectUpstream() const;
  void Pump(const Connection& connection) const;
  // Joins finished connection threads and closes their sockets; needs mu_.
  void ReapFinishedLocked();

  const int listen_fd_;
  const int wake_fd_;  // eventfd, readable once shutdown starts
  const uint16_t port_;
  const std::vector<Endpoint> targets_;
  std::thread accept_thread_;
  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mu_
};

}  // namespace streamrec::kafka::internal
