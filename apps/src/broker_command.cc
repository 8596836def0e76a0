// `streamrec broker`: the embedded Kafka-protocol broker (librdkafka's mock
// cluster) for development, tests and demos; kafka::RunBrokerCommand does
// the work, this maps flags and the topic names of the config onto it.

#include "command.h"
#include "streamrec/kafka/embedded_broker.h"

namespace streamrec::apps {
namespace {

constexpr int64_t kDefaultPort = 9092;
// The mock keeps every partition in memory; more than this is a typo.
constexpr int64_t kMaxPartitions = 1000;

Status RunBroker(const CommandContext& context) {
  auto port = context.flags.GetInt("port", kDefaultPort, 0, 65535);
  if (!port.ok()) return port.status();
  auto partitions = context.flags.GetInt("partitions", 1, 1, kMaxPartitions);
  if (!partitions.ok()) return partitions.status();

  const PipelineOptions& pipeline = context.settings.pipeline;
  kafka::BrokerOptions options;
  options.partitions = static_cast<int>(*partitions);
  options.topics = {pipeline.events_topic, pipeline.items_topic, pipeline.recommendations_topic,
                    pipeline.dlq_topic};
  options.port = static_cast<uint16_t>(*port);
  // Nothing before this point starts a thread, as RunBrokerCommand requires
  // (it blocks SIGINT/SIGTERM for the broker's threads to inherit).
  return kafka::RunBrokerCommand(options, context.out, context.err);
}

}  // namespace

Command BrokerCommand() {
  return {"broker",
          "An embedded Kafka-protocol broker on 127.0.0.1 for development, tests and demos (memory only)",
          "[--port PORT] [--partitions N] [--config FILE] [--set KEY=VALUE ...]",
          {
              {"port", "PORT", "bootstrap port on 127.0.0.1 (default 9092; 0 picks a free port)"},
              {"partitions", "N",
               "partitions of each topic (default 1); each keeps about 5 MiB or 100k batches and drops the "
               "oldest"},
          },
          RunBroker};
}

}  // namespace streamrec::apps
