#include "e2e/common.h"

#include <set>

#include <fmt/format.h>

#include "streamrec/schemas/codec.h"

namespace streamrec::bench {
namespace {

// Producer-only librdkafka properties, as apps/src/pipeline.cc lists them:
// the pipeline's consumer never receives them.
const std::set<std::string, std::less<>> kProducerOnly = {
    "linger.ms", "queue.buffering.max.ms", "batch.num.messages", "batch.size", "compression.type",
    "compression.codec", "acks", "request.required.acks", "enable.idempotence", "message.timeout.ms",
    "delivery.timeout.ms", "queue.buffering.max.messages", "queue.buffering.max.kbytes", "retries"};

}  // namespace

Result<apps::Settings> MakeSettings(const std::vector<std::string>& sets, const std::string& bootstrap,
                                    const std::string& state_dir, const std::string& group) {
  std::vector<std::string> assignments = {"log.level=warn"};
  assignments.insert(assignments.end(), sets.begin(), sets.end());
  assignments.push_back("kafka.bootstrap.servers=" + bootstrap);
  assignments.push_back("state.dir=" + state_dir);
  assignments.push_back("kafka.group.id=" + group);
  return apps::LoadSettings(std::nullopt, assignments);
}

Result<kafka::KafkaConfig> PipelineConsumerConfig(const apps::Settings& settings, const std::string& group) {
  kafka::KafkaConfig config;
  for (const auto& [key, value] : apps::KafkaProperties(settings)) {
    if (kProducerOnly.contains(key)) continue;
    STREAMREC_RETURN_IF_ERROR(config.Set(key, value));
  }
  STREAMREC_RETURN_IF_ERROR(config.Set("group.id", group));
  // As the pipeline on a new store: start at the beginning.
  if (!config.Get("auto.offset.reset")) STREAMREC_RETURN_IF_ERROR(config.Set("auto.offset.reset", "earliest"));
  return config;
}

Json DescribeSettings(const apps::Settings& settings) {
  const apps::Settings defaults;
  Json out = Json::object();
  for (const auto& key : apps::ConfigTable()) {
    if (key.name == "kafka.bootstrap.servers" || key.name == "state.dir" || key.name == "kafka.group.id") continue;
    const std::string value = apps::FormatConfigValue(key, settings);
    if (value != apps::FormatConfigValue(key, defaults)) out[key.name] = value;
  }
  for (const auto& [key, value] : settings.kafka.passthrough) out["kafka." + key] = value;
  return out;
}

Result<kafka::EmbeddedBroker> StartBroker(const std::map<std::string, int>& topics) {
  kafka::BrokerOptions options;
  options.topics.clear();
  auto broker = kafka::EmbeddedBroker::Start(options);
  if (!broker.ok()) return broker.status();
  for (const auto& [topic, partitions] : topics) STREAMREC_RETURN_IF_ERROR(broker->CreateTopic(topic, partitions));
  return broker;
}

Result<LoadResult> BulkLoad(const std::string& bootstrap, const std::string& topic, const SyntheticStream& stream,
                            uint64_t first, uint64_t count, const std::function<int64_t(uint64_t)>& ts_of) {
  kafka::ProducerOptions options;
  STREAMREC_RETURN_IF_ERROR(options.config.Set("bootstrap.servers", bootstrap));
  // Few, large, compressed batches: the mock keeps ~5 MiB per partition.
  STREAMREC_RETURN_IF_ERROR(options.config.Set("compression.type", "lz4"));
  STREAMREC_RETURN_IF_ERROR(options.config.Set("linger.ms", "50"));
  STREAMREC_RETURN_IF_ERROR(options.config.Set("batch.num.messages", "100000"));
  STREAMREC_RETURN_IF_ERROR(options.config.Set("batch.size", "1000000"));
  STREAMREC_RETURN_IF_ERROR(options.config.Set("queue.buffering.max.messages", "1000000"));
  uint64_t failed = 0;
  Status first_failure;
  options.on_delivery = [&](const kafka::DeliveryReport& report) {
    if (!report.status.ok()) {
      if (failed++ == 0) first_failure = report.status;
    }
  };
  auto producer = kafka::Producer::Create(std::move(options));
  if (!producer.ok()) return producer.status();
  LoadResult result;
  const auto start = SteadyClock::now();
  for (uint64_t k = first; k < first + count; ++k) {
    const schemas::Event event = stream.EventAt(k, ts_of(k));
    const std::string value = schemas::SerializeEvent(event);
    kafka::ProducerRecord record;
    record.topic = topic;
    record.key = event.user_id;
    record.value = value;
    STREAMREC_RETURN_IF_ERROR(producer->Produce(record));
    result.bytes += value.size();
    if ((k & 1023) == 0) producer->Poll(std::chrono::milliseconds(0));
  }
  STREAMREC_RETURN_IF_ERROR(producer->Flush(std::chrono::milliseconds(120000)));
  result.seconds = SecondsSince(start);
  if (failed > 0) {
    return Status::Unavailable(fmt::format("{} of {} records were not delivered; first: {}", failed, count,
                                           first_failure.ToString()));
  }
  result.records = count;
  return result;
}

Status VerifyNothingDropped(const std::string& bootstrap, const std::string& topic, int partitions,
                            uint64_t expected) {
  kafka::ConsumerOptions options;
  STREAMREC_RETURN_IF_ERROR(options.config.Set("bootstrap.servers", bootstrap));
  STREAMREC_RETURN_IF_ERROR(options.config.Set("group.id", "bench-watermarks"));
  auto consumer = kafka::Consumer::Create(std::move(options));
  if (!consumer.ok()) return consumer.status();
  uint64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    auto marks = consumer->QueryWatermarks({topic, PartitionId(p)}, std::chrono::milliseconds(10000));
    if (!marks.ok()) return marks.status();
    if (marks->low.value() != 0) {
      return Status::FailedPrecondition(fmt::format(
          "the embedded broker dropped the oldest records of {}/{} (low watermark {}): use more partitions "
          "(--partitions) or fewer events",
          topic, p, marks->low.value()));
    }
    total += static_cast<uint64_t>(marks->high.value());
  }
  if (total != expected) {
    return Status::FailedPrecondition(
        fmt::format("{} holds {} records, {} were produced", topic, total, expected));
  }
  return consumer->Close();
}

}  // namespace streamrec::bench
