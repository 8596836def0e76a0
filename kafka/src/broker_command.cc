#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include <csignal>
#include <cstring>
#include <ostream>

#include "streamrec/kafka/embedded_broker.h"

namespace streamrec::kafka {
namespace {

// Runs with SIGINT/SIGTERM blocked (see RunBrokerCommand).
Status ServeUntilSignal(const BrokerOptions& options, const sigset_t& stop_signals,
                        std::ostream& out, std::ostream& err) {
  auto broker = EmbeddedBroker::Start(options);
  if (!broker.ok()) return broker.status();

  err << "streamrec broker: librdkafka " << rd_kafka_version_str() << " mock cluster, "
      << broker->broker_count() << " broker(s) on 127.0.0.1 (" << broker->mock_bootstrap_servers()
      << ")\n";
  if (options.port.has_value()) {
    err << "  bootstrap " << broker->bootstrap_servers()
        << " is forwarded; clients then connect to the brokers' own ports\n";
  }
  err << "  topics:";
  for (const std::string& topic : options.topics) err << ' ' << topic;
  err << " (" << options.partitions << " partition(s) each)\n"
      << "  memory only: each partition keeps about 5 MiB or 100k batches and silently drops\n"
      << "  the oldest; for development, tests and demos (production: Apache Kafka)\n"
      << "  stop with Ctrl-C or SIGTERM" << std::endl;
  // The machine-readable line, last, once clients can connect.
  out << "bootstrap=" << broker->bootstrap_servers() << std::endl;

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  err << "streamrec broker: " << strsignal(signal) << ", stopping" << std::endl;
  return Status::Ok();
}

}  // namespace

Status RunBrokerCommand(const BrokerOptions& options, std::ostream& out, std::ostream& err) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t previous;
  // Before the broker starts, so its threads inherit the mask and the
  // signals wait for sigwait() instead of killing the process.
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  Status status = ServeUntilSignal(options, stop_signals, out, err);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return status;
}

}  // namespace streamrec::kafka
