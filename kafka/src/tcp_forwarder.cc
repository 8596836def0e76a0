#include "tcp_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "streamrec/base/logging.h"

namespace streamrec::kafka::internal {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

bool ToAddress(const std::string& host, uint16_t port, sockaddr_in* addr) {
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_port = htons(port);
  return inet_pton(AF_INET, host.c_str(), &addr->sin_addr) == 1;
}

// Kafka requests are small and latency-bound; Nagle would add delays.
void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TcpForwarder>> TcpForwarder::Start(uint16_t port,
                                                          std::vector<Endpoint> targets) {
  if (targets.empty()) return Status::InvalidArgument("tcp forwarder: no target");
  const std::string where = "listening on 127.0.0.1:" + std::to_string(port);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(where + ": " + ErrnoText(errno));
  // A restarted broker can rebind its port while old connections linger in
  // TIME_WAIT.
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr;
  ToAddress("127.0.0.1", port, &addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Unavailable(where + ": " + ErrnoText(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int wake = ::eventfd(0, EFD_CLOEXEC);
  if (wake < 0) {
    const int err = errno;
    ::close(fd);
    return Status::IoError("tcp forwarder eventfd: " + ErrnoText(err));
  }
  std::unique_ptr<TcpForwarder> forwarder(
      new TcpForwarder(fd, wake, ntohs(addr.sin_port), std::move(targets)));
  forwarder->accept_thread_ = std::thread(&TcpForwarder::AcceptLoop, forwarder.get());
  return forwarder;
}

TcpForwarder::TcpForwarder(int listen_fd, int wake_fd, uint16_t port, std::vector<Endpoint> targets)
    : listen_fd_(listen_fd), wake_fd_(wake_fd), port_(port), targets_(std::move(targets)) {}

TcpForwarder::~TcpForwarder() {
  // The eventfd stays readable, so one write wakes every poll() for good.
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof(one)) < 0) {
    Logger(kLogKafka)->error("tcp forwarder: cannot signal shutdown: {}", ErrnoText(errno));
  }
  accept_thread_.join();
  std::lock_guard lock(mu_);
  // Unblocks a pump stuck in send() to a peer that stopped reading.
  for (const auto& c : connections_) {
    ::shutdown(c->client_fd, SHUT_RDWR);
    ::shutdown(c->upstream_fd, SHUT_RDWR);
  }
  for (const auto& c : connections_) {
    c->thread.join();
    ::close(c->client_fd);
    ::close(c->upstream_fd);
  }
  connections_.clear();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void TcpForwarder::AcceptLoop() {
  std::array<pollfd, 2> fds = {{{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}}};
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      Logger(kLogKafka)->error("tcp forwarder: poll: {}", ErrnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;  // the peer gave up already, or EINTR
    const int upstream = ConnectUpstream();
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    SetNoDelay(client);
    SetNoDelay(upstream);
    std::lock_guard lock(mu_);
    ReapFinishedLocked();
    auto connection = std::make_unique<Connection>();
    connection->client_fd = client;
    connection->upstream_fd = upstream;
    Connection* c = connection.get();
    c->thread = std::thread([this, c] {
      Pump(*c);
      c->done = true;
    });
    connections_.push_back(std::move(connection));
  }
}

int TcpForwarder::ConnectUpstream() const {
  for (const Endpoint& target : targets_) {
    sockaddr_in addr;
    if (!ToAddress(target.host, target.port, &addr)) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    Logger(kLogKafka)->debug("tcp forwarder: {}:{}: {}", target.host, target.port,
                             ErrnoText(errno));
    ::close(fd);
  }
  Logger(kLogKafka)->warn("tcp forwarder on port {}: no target reachable; dropping a connection",
                          port_);
  return -1;
}

void TcpForwarder::Pump(const Connection& connection) const {
  std::array<pollfd, 3> fds = {{{connection.client_fd, POLLIN, 0},
                                {connection.upstream_fd, POLLIN, 0},
                                {wake_fd_, POLLIN, 0}}};
  std::array<char, 64 * 1024> buffer;
  bool open = true;
  while (open) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;
    for (int i = 0; i < 2 && open; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      // Kafka never half-closes, so EOF or an error on either side ends both.
      open = n > 0 && WriteAll(fds[1 - i].fd, buffer.data(), static_cast<size_t>(n));
    }
  }
  // Shut down (not close) so each peer sees the end now, while the
  // descriptors stay reserved until joined: no fd number can be reused
  // under a concurrent shutdown() from the destructor.
  ::shutdown(connection.client_fd, SHUT_RDWR);
  ::shutdown(connection.upstream_fd, SHUT_RDWR);
}

void TcpForwarder::ReapFinishedLocked() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!(*it)->done) {
      ++it;
      continue;
    }
    (*it)->thread.join();
    ::close((*it)->client_fd);
    ::close((*it)->upstream_fd);
    it = connections_.erase(it);
  }
}

}  // namespace streamrec::kafka::internal
