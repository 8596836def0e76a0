// Atomicity across kill -9: a child process writes batches in a loop and is
// killed with SIGKILL at a random moment; the store must then hold every
// batch the child saw acknowledged, at most one more, and no partial batch,
// with offsets matching the last complete batch.
//
// The child is this test binary re-executed (fork + exec) to run the hidden
// "[.crash-writer]" case. A plain fork would copy a process that may already
// run RocksDB's background threads (other test cases in the same process
// opened stores): the child would inherit their locks but not the threads.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "streamrec/state/feature_store.h"
#include "support/test_support.h"

namespace streamrec::state {
namespace {

using streamrec::testing::TempDir;

constexpr uint32_t kDim = 4;
constexpr uint32_t kUsersPerBatch = 10;
constexpr const char* kDirEnv = "STREAMREC_CRASH_DIR";
constexpr const char* kFdEnv = "STREAMREC_CRASH_ACK_FD";

std::string UserId(uint64_t batch, uint32_t j) { return "b" + std::to_string(batch) + "-" + std::to_string(j); }

// Batch k: ten new users whose rows carry k, the shared item's count set to k,
// a pending user, and offsets k and 2k on two partitions.
StoreBatch CrashBatch(uint64_t k) {
  StoreBatch batch;
  const auto base = static_cast<uint32_t>((k - 1) * kUsersPerBatch);
  batch.index_limits = IndexLimits{base + kUsersPerBatch, 1};
  for (uint32_t j = 0; j < kUsersPerBatch; ++j) {
    online_learner::UserRow row;
    row.event_count = static_cast<uint32_t>(k);
    row.last_ts_ms = j;
    row.factors.assign(kDim, static_cast<float>(k));
    batch.users.push_back({UserId(k, j), {UserIndex(base + j), row}});
  }
  online_learner::ItemRow item;
  item.count = static_cast<uint32_t>(k);
  item.factors.assign(kDim, 0.5f);
  item.context.assign(kDim, 0.25f);
  batch.items.push_back({"shared", {ItemIndex(0), item}});
  batch.pending_adds.push_back({UserId(k, 0), static_cast<int64_t>(k)});
  batch.offsets.push_back({"events", PartitionId(0), KafkaOffset(static_cast<int64_t>(k))});
  batch.offsets.push_back({"events", PartitionId(1), KafkaOffset(static_cast<int64_t>(2 * k))});
  return batch;
}

StoreOptions CrashOptions(const std::string& dir) {
  StoreOptions options;
  options.dir = dir;
  options.fingerprint.dim = kDim;
  options.sync = false;  // kill -9 must not lose an acknowledged batch even so
  return options;
}

// The child: writes batches until killed, acknowledging each on the pipe.
TEST_CASE("Crash writer child", "[.crash-writer]") {
  const char* dir = std::getenv(kDirEnv);
  const char* fd_text = std::getenv(kFdEnv);
  if (dir == nullptr || fd_text == nullptr) return;
  const int fd = std::atoi(fd_text);
  auto store = FeatureStore::Open(CrashOptions(dir));
  if (!store.ok()) std::_Exit(2);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (uint64_t k = 1; std::chrono::steady_clock::now() < deadline; ++k) {
    if (!(*store)->Write(CrashBatch(k)).ok()) std::_Exit(3);
    if (::write(fd, &k, sizeof k) != sizeof k) std::_Exit(4);
  }
  std::_Exit(5);  // never killed: the parent failed to
}

// Starts the child on `dir`; returns its pid and the read end of its ack pipe.
std::pair<pid_t, int> StartWriter(const std::string& dir) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  // Everything the child needs is built before fork: between fork and exec
  // only async-signal-safe calls are allowed (no malloc).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kDirEnv) + "=" + dir);
  env_strings.push_back(std::string(kFdEnv) + "=" + std::to_string(fds[1]));
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char test_name[] = "Crash writer child";
  char* argv[] = {exe, test_name, nullptr};

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::execve(exe, argv, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads acknowledgements until the pipe closes; returns the last one (0 if none).
uint64_t LastAck(int fd) {
  uint64_t last = 0, k = 0;
  size_t have = 0;
  char* bytes = reinterpret_cast<char*>(&k);
  for (;;) {
    const ssize_t n = ::read(fd, bytes + have, sizeof k - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have == sizeof k) {
      last = k;
      have = 0;
    }
  }
  return last;
}

TEST_CASE("A store killed with SIGKILL mid-write holds whole batches only", "[state]") {
  std::mt19937_64 rng(std::random_device{}());
  for (int trial = 0; trial < 5; ++trial) {
    TempDir tmp;
    const std::string dir = tmp.Sub("store");
    auto [pid, ack_fd] = StartWriter(dir);
    // Wait for the first acknowledged batch so the kill lands mid-stream,
    // then let the child run a random while.
    uint64_t first = 0;
    REQUIRE(::read(ack_fd, &first, sizeof first) == sizeof first);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 150'000));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    const uint64_t acked = std::max(first, LastAck(ack_fd));
    ::close(ack_fd);

    auto store = FeatureStore::Open(CrashOptions(dir));
    REQUIRE_RESULT_OK(store);
    auto offsets = (*store)->ReadOffsets("events");
    REQUIRE_RESULT_OK(offsets);
    REQUIRE(offsets->size() == 2);
    const auto last = static_cast<uint64_t>(offsets->at(PartitionId(0)).value());
    INFO("trial " << trial << ": acknowledged " << acked << ", stored " << last);
    CHECK(offsets->at(PartitionId(1)).value() == static_cast<int64_t>(2 * last));
    // Every acknowledged batch survived; at most the one in flight was added.
    CHECK(last >= acked);
    CHECK(last <= acked + 1);

    for (uint64_t k = 1; k <= last + 2; ++k) {
      uint32_t present = 0;
      for (uint32_t j = 0; j < kUsersPerBatch; ++j) {
        auto user = (*store)->ReadUser(UserId(k, j));
        if (user.ok()) {
          ++present;
          CHECK(user->row.event_count == k);
        } else {
          CHECK(user.status().code() == StatusCode::kNotFound);
        }
      }
      INFO("batch " << k);
      CHECK(present == (k <= last ? kUsersPerBatch : 0));
    }
    auto shared = (*store)->ReadItem("shared");
    REQUIRE_RESULT_OK(shared);
    CHECK(shared->row.count == last);
    auto pending = (*store)->ReadPending();
    REQUIRE_RESULT_OK(pending);
    CHECK(pending->size() == last);

    // The whole store still loads into a model.
    online_learner::IsgdOptions model_options;
    model_options.dim = kDim;
    online_learner::IsgdModel model(model_options);
    online_learner::IdMap users, items;
    REQUIRE_OK((*store)->LoadModel(model, users, items));
    CHECK(users.live_count() == last * kUsersPerBatch);
  }
}

}  // namespace
}  // namespace streamrec::state
