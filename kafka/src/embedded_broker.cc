#include "streamrec/kafka/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <string_view>

#include "rdkafka_util.h"
#include "tcp_forwarder.h"

namespace streamrec::kafka {
namespace {

// "127.0.0.1:1234,127.0.0.1:5678" -> endpoints.
std::vector<internal::Endpoint> ParseBootstraps(const std::string& list) {
  std::vector<internal::Endpoint> out;
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(start, end - start);
    const size_t colon = item.rfind(':');
    if (colon != std::string::npos) {
      std::string host = item.substr(0, colon);
      // The mock listens on 127.0.0.1; the forwarder only takes numbers.
      if (host == "localhost") host = "127.0.0.1";
      out.push_back({host, static_cast<uint16_t>(std::stoi(item.substr(colon + 1)))});
    }
    start = end + 1;
  }
  return out;
}

// The mock's handle never connects anywhere, so librdkafka's warning that it
// has no bootstrap.servers is noise; the mock's own logs pass through.
void LogFromMockHandle(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  if (std::string_view(facility) == "CONFWARN") return;
  internal::LogFromLibrdkafka(rk, level, facility, message);
}

}  // namespace

struct EmbeddedBroker::Impl {
  rd_kafka_t* rk = nullptr;  // the handle the mock cluster hangs on
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::unique_ptr<internal::TcpForwarder> forwarder;
  std::string bootstrap;
  std::string mock_bootstrap;
  int brokers = 0;

  ~Impl() {
    // Close client paths first, then the cluster, then its handle.
    forwarder.reset();
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

Result<EmbeddedBroker> EmbeddedBroker::Start(const BrokerOptions& options) {
  if (options.brokers < 1) return Status::InvalidArgument("broker: brokers must be at least 1");
  if (options.partitions < 1) {
    return Status::InvalidArgument("broker: partitions must be at least 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->brokers = options.brokers;

  internal::ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &LogFromMockHandle);
  STREAMREC_RETURN_IF_ERROR(
      internal::SetProperty(conf.get(), "client.id", "streamrec-embedded-broker"));
  char errstr[512];
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) {
    return Status::Internal(std::string("broker: cannot create the mock's handle: ") + errstr);
  }
  conf.release();  // rd_kafka_new took ownership
  impl->cluster = rd_kafka_mock_cluster_new(impl->rk, options.brokers);
  if (impl->cluster == nullptr) {
    return Status::Internal("broker: librdkafka could not start the mock cluster");
  }
  impl->mock_bootstrap = rd_kafka_mock_cluster_bootstraps(impl->cluster);
  impl->bootstrap = impl->mock_bootstrap;

  EmbeddedBroker broker(std::move(impl));
  for (const std::string& topic : options.topics) {
    STREAMREC_RETURN_IF_ERROR(broker.CreateTopic(topic, options.partitions));
  }
  if (options.port.has_value()) {
    auto forwarder =
        internal::TcpForwarder::Start(*options.port, ParseBootstraps(broker.impl_->mock_bootstrap));
    if (!forwarder.ok()) return forwarder.status().WithContext("broker bootstrap port");
    broker.impl_->forwarder = std::move(forwarder.value());
    broker.impl_->bootstrap = "127.0.0.1:" + std::to_string(broker.impl_->forwarder->port());
  }
  return broker;
}

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedBroker::EmbeddedBroker(EmbeddedBroker&&) noexcept = default;
EmbeddedBroker& EmbeddedBroker::operator=(EmbeddedBroker&&) noexcept = default;
EmbeddedBroker::~EmbeddedBroker() = default;

const std::string& EmbeddedBroker::bootstrap_servers() const { return impl_->bootstrap; }
const std::string& EmbeddedBroker::mock_bootstrap_servers() const { return impl_->mock_bootstrap; }
int EmbeddedBroker::broker_count() const { return impl_->brokers; }

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  if (partitions < 1) {
    return Status::InvalidArgument("broker topic \"" + topic + "\": partitions must be at least 1");
  }
  return internal::ErrorStatus(rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions,
                                                          std::min(impl_->brokers, 3)),
                               "broker: creating topic \"" + topic + "\"");
}

Status EmbeddedBroker::SetBrokerDown(int32_t broker_id) {
  return internal::ErrorStatus(rd_kafka_mock_broker_set_down(impl_->cluster, broker_id),
                               "broker " + std::to_string(broker_id) + " down");
}

Status EmbeddedBroker::SetBrokerUp(int32_t broker_id) {
  return internal::ErrorStatus(rd_kafka_mock_broker_set_up(impl_->cluster, broker_id),
                               "broker " + std::to_string(broker_id) + " up");
}

Status EmbeddedBroker::SetBrokerRtt(int32_t broker_id, std::chrono::milliseconds rtt) {
  return internal::ErrorStatus(
      rd_kafka_mock_broker_set_rtt(impl_->cluster, broker_id, static_cast<int>(rtt.count())),
      "broker " + std::to_string(broker_id) + " rtt");
}

Status EmbeddedBroker::SetPartitionLeader(const std::string& topic, PartitionId partition,
                                          int32_t broker_id) {
  return internal::ErrorStatus(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition.value(),
                                         broker_id),
      "broker: leader of " + topic + "/" + std::to_string(partition.value()));
}

void EmbeddedBroker::PushRequestErrors(KafkaApi api, const std::vector<int>& error_codes) {
  std::vector<rd_kafka_resp_err_t> errors;
  errors.reserve(error_codes.size());
  for (int code : error_codes) errors.push_back(static_cast<rd_kafka_resp_err_t>(code));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, static_cast<int16_t>(api), errors.size(),
                                          errors.data());
}

void EmbeddedBroker::ClearRequestErrors(KafkaApi api) {
  rd_kafka_mock_clear_request_errors(impl_->cluster, static_cast<int16_t>(api));
}

}  // namespace streamrec::kafka
