// The embedded broker seen from outside: a fixed bootstrap port through the
// forwarder, third-party clients (kcat, Python confluent_kafka), and the
// `streamrec broker` command.

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <thread>

#include "support/kafka_fixture.h"

namespace streamrec::kafka {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using testing::ConsumeToEnd;
using testing::KafkaFixture;
using testing::RunCommand;

// A port that was free a moment ago (the kernel hands out ephemeral ports
// round-robin, so it is not handed out again at once).
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool HaveKcat() { return std::system("command -v kcat >/dev/null 2>&1") == 0; }

bool HavePythonKafka() {
  return std::system("/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1") == 0;
}

TEST_CASE("clients bootstrap through the fixed port", "[kafka]") {
  const uint16_t port = FreePort();
  KafkaFixture kafka({.partitions = 2, .port = port});
  REQUIRE(kafka.bootstrap() == "127.0.0.1:" + std::to_string(port));
  REQUIRE(kafka.bootstrap() != kafka.broker().mock_bootstrap_servers());

  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  REQUIRE(*producer->PartitionCount("events", 5s) == 2);
  REQUIRE_OK(producer->Produce({.topic = "events", .partition = PartitionId(1), .value = "hi"}));
  REQUIRE_OK(producer->Flush(5s));

  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}, {"events", PartitionId(1)}}));
  const std::vector<Message> got = ConsumeToEnd(*consumer);
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].value == "hi");

  // A second broker cannot take a port in use.
  auto clash = EmbeddedBroker::Start({.port = port});
  REQUIRE(clash.status().code() == StatusCode::kUnavailable);
  REQUIRE_THAT(clash.status().message(), Contains(std::to_string(port)));
}

TEST_CASE("kcat lists, produces and consumes through the fixed port", "[kafka]") {
  if (!HaveKcat()) {
    WARN("kcat not installed; skipped");
    return;
  }
  KafkaFixture kafka({.port = 0});
  const std::string kcat = "timeout 20 kcat -q -b " + kafka.bootstrap();

  const auto metadata = RunCommand(kcat + " -L 2>&1");
  INFO(metadata.output);
  REQUIRE(metadata.exit_code == 0);
  REQUIRE_THAT(metadata.output, Contains("topic \"events\" with 1 partitions"));
  REQUIRE_THAT(metadata.output, Contains("topic \"events.dlq\""));
  REQUIRE_THAT(metadata.output, Contains(kafka.broker().mock_bootstrap_servers()));

  // kcat -> us: keyed records with a header.
  const auto produced = RunCommand("printf 'u1:{\"a\":1}\\nu2:{\"a\":2}\\n' | " + kcat +
                                   " -P -t events -K: -H origin=kcat 2>&1");
  INFO(produced.output);
  REQUIRE(produced.exit_code == 0);
  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  const std::vector<Message> got = ConsumeToEnd(*consumer);
  REQUIRE(got.size() == 2);
  REQUIRE(got[0].key == "u1");
  REQUIRE(got[0].value == R"({"a":1})");
  REQUIRE(got[1].key == "u2");
  REQUIRE(got[0].headers == std::vector<Header>{{"origin", "kcat"}});

  // us -> kcat, including a tombstone (kcat prints NULL for it).
  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  REQUIRE_OK(producer->Produce({.topic = "recommendations", .key = "u1", .value = "[1,2]"}));
  REQUIRE_OK(producer->Produce({.topic = "recommendations", .key = "u2", .value = std::nullopt}));
  REQUIRE_OK(producer->Flush(5s));
  const auto consumed =
      RunCommand(kcat + " -C -t recommendations -o beginning -e -Z -f '%k=%s\\n' 2>&1");
  INFO(consumed.output);
  REQUIRE(consumed.exit_code == 0);
  REQUIRE(consumed.output == "u1=[1,2]\nu2=NULL\n");
}

TEST_CASE("Python confluent_kafka produces records we consume", "[kafka]") {
  if (!HavePythonKafka()) {
    WARN("/usr/bin/python3 cannot import confluent_kafka; skipped");
    return;
  }
  KafkaFixture kafka({.port = 0});
  testing::TempDir dir;
  const std::string script = dir.Sub("produce.py");
  std::ofstream(script) << R"(import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True})
for i in range(20):
    p.produce("events", key="u%d" % (i % 4), value='{"i":%d}' % i,
              headers=[("origin", b"python")], timestamp=1700000000000 + i)
p.produce("events", key="gone", value=None)
if p.flush(10) != 0:
    sys.exit(1)
)";
  const auto run =
      RunCommand("timeout 30 /usr/bin/python3 " + script + " " + kafka.bootstrap() + " 2>&1");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);

  auto consumer = Consumer::Create({.config = kafka.ConsumerConfig()});
  REQUIRE_RESULT_OK(consumer);
  REQUIRE_OK(consumer->Assign({{"events", PartitionId(0)}}));
  const std::vector<Message> got = ConsumeToEnd(*consumer);
  REQUIRE(got.size() == 21);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(got[i].key == "u" + std::to_string(i % 4));
    REQUIRE(got[i].value == "{\"i\":" + std::to_string(i) + "}");
    REQUIRE(got[i].timestamp_ms == 1700000000000 + i);
    REQUIRE(got[i].headers == std::vector<Header>{{"origin", "python"}});
  }
  REQUIRE(got[20].key == "gone");
  REQUIRE_FALSE(got[20].value.has_value());
}

TEST_CASE("fault-injection passthroughs reach the mock", "[kafka]") {
  KafkaFixture kafka({.brokers = 2, .partitions = 2});
  REQUIRE(kafka.broker().broker_count() == 2);
  REQUIRE_OK(kafka.broker().SetBrokerRtt(2, 5ms));
  REQUIRE_OK(kafka.broker().SetPartitionLeader("events", PartitionId(1), 2));
  REQUIRE_OK(kafka.broker().CreateTopic("extra", 3));
  REQUIRE(kafka.broker().CreateTopic("bad", 0).code() == StatusCode::kInvalidArgument);
  REQUIRE_FALSE(kafka.broker().SetBrokerDown(7).ok());  // no such broker
  kafka.broker().PushRequestErrors(KafkaApi::kMetadata, {7});
  kafka.broker().ClearRequestErrors(KafkaApi::kMetadata);

  auto producer = Producer::Create({.config = kafka.ProducerConfig()});
  REQUIRE_RESULT_OK(producer);
  REQUIRE(*producer->PartitionCount("extra", 5s) == 3);
}

// A streambuf that lets a test wait for text written by another thread.
class WatchedBuffer : public std::streambuf {
 public:
  bool WaitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return text_.find(needle) != std::string::npos; });
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char ch = static_cast<char>(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    {
      std::lock_guard lock(mu_);
      text_.append(s, static_cast<size_t>(n));
    }
    cv_.notify_all();
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
};

TEST_CASE("the broker command prints the bootstrap and stops on SIGTERM", "[kafka]") {
  const uint16_t port = FreePort();
  WatchedBuffer out_buffer;
  WatchedBuffer err_buffer;
  std::ostream out(&out_buffer);
  std::ostream err(&err_buffer);
  Status result = Status::Internal("did not return");
  std::thread command(
      [&] { result = RunBrokerCommand({.partitions = 2, .port = port}, out, err); });
  const std::string line = "bootstrap=127.0.0.1:" + std::to_string(port) + "\n";
  const bool started = out_buffer.WaitFor(line, 10s);
  if (started) {
    REQUIRE(out_buffer.text() == line);  // stdout holds only that line
    REQUIRE_THAT(err_buffer.text(), Contains("events items recommendations events.dlq"));
    REQUIRE_THAT(err_buffer.text(), Contains("2 partition(s)"));

    KafkaConfig config;
    REQUIRE_OK(config.Set("bootstrap.servers", "127.0.0.1:" + std::to_string(port)));
    auto producer = Producer::Create({.config = config});
    REQUIRE_RESULT_OK(producer);
    REQUIRE(*producer->PartitionCount("events", 5s) == 2);
  }
  // The command's thread blocks SIGTERM and takes it with sigwait.
  if (started) ::pthread_kill(command.native_handle(), SIGTERM);
  command.join();
  REQUIRE(started);
  REQUIRE_OK(result);
  REQUIRE_THAT(err_buffer.text(), Contains("stopping"));
}

}  // namespace
}  // namespace streamrec::kafka
