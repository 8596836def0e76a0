#include "kafka_settings.h"

#include <set>
#include <string>

namespace streamrec::apps {
namespace {

const std::set<std::string, std::less<>> kConsumerOnly = {
    "group.id", "group.instance.id", "session.timeout.ms", "heartbeat.interval.ms", "fetch.wait.max.ms",
    "fetch.min.bytes", "fetch.max.bytes", "queued.min.messages", "queued.max.messages.kbytes",
    "auto.offset.reset", "partition.assignment.strategy", "max.poll.interval.ms", "isolation.level",
    "enable.partition.eof", "fetch.message.max.bytes", "max.partition.fetch.bytes"};
const std::set<std::string, std::less<>> kProducerOnly = {
    "linger.ms", "queue.buffering.max.ms", "batch.num.messages", "batch.size", "compression.type",
    "compression.codec", "acks", "request.required.acks", "enable.idempotence", "message.timeout.ms",
    "delivery.timeout.ms", "queue.buffering.max.messages", "queue.buffering.max.kbytes", "retries"};

}  // namespace

Status AddKafkaProperties(const Settings& settings, KafkaRole role, kafka::KafkaConfig& config) {
  const auto& other_role = role == KafkaRole::kConsumer ? kProducerOnly : kConsumerOnly;
  for (const auto& [key, value] : KafkaProperties(settings)) {
    if (other_role.contains(key)) continue;
    STREAMREC_RETURN_IF_ERROR(config.Set(key, value).WithContext("config key 'kafka." + key + "'"));
  }
  return Status::Ok();
}

}  // namespace streamrec::apps
