#pragma once

// Private glue between librdkafka's C API and streamrec: the one place where
// librdkafka error codes become Status, configuration assembly, logging, and
// owning handles for librdkafka objects. Never included by a public header.

#include <librdkafka/rdkafka.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "streamrec/base/status.h"
#include "streamrec/kafka/config.h"
#include "streamrec/kafka/message.h"

namespace streamrec::kafka::internal {

// The Status for a librdkafka error: "<context>: <detail or librdkafka's
// text> (<error name>)", with a StatusCode chosen by what the caller can do
// about it. NO_ERROR gives OK.
Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail = {});
// The same for an rd_kafka_error_t, which it destroys. nullptr gives OK.
Status TakeError(rd_kafka_error_t* error, std::string_view context);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// Sets one property; InvalidArgument naming the key and quoting librdkafka.
Status SetProperty(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);

struct Property {
  std::string_view key;
  std::string_view value;
};

// A client configuration: librdkafka logs routed to streamrec's "kafka"
// logger, then `defaults`, then the caller's `config` in order, then
// `managed` — properties the wrapper relies on; a caller value for one of
// them that differs (after librdkafka's normalisation) is refused. Requires
// bootstrap.servers.
Result<ConfPtr> BuildClientConf(std::span<const Property> defaults, const KafkaConfig& config,
                                std::span<const Property> managed);

// Routes one librdkafka log line to streamrec's "kafka" logger (a log_cb).
void LogFromLibrdkafka(const rd_kafka_t* rk, int level, const char* facility, const char* message);

// A partition list holding these partitions (offsets unset).
PartitionListPtr ToPartitionList(std::span<const TopicPartition> partitions);
// The partitions of a list, in list order.
std::vector<TopicPartition> FromPartitionList(const rd_kafka_topic_partition_list_t* list);

// The error callback shared by clients: logs a warning (debug for transport
// errors, which librdkafka logs itself), or an error for a fatal one.
void LogClientError(rd_kafka_t* rk, int err, const char* reason);

}  // namespace streamrec::kafka::internal
