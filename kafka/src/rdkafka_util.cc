#include "rdkafka_util.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "streamrec/base/logging.h"

namespace streamrec::kafka::internal {
namespace {

// The code tells the caller what it can do: retry later (Unavailable), fix a
// setting or an input (InvalidArgument, NotFound), or stop (the rest).
StatusCode CodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return StatusCode::kOk;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return StatusCode::kUnavailable;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
      return StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__NOENT:
      return StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:  // a record failed its CRC
      return StatusCode::kCorruption;
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
      return StatusCode::kFailedPrecondition;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace

void LogFromLibrdkafka(const rd_kafka_t* /*rk*/, int level, const char* facility,
                       const char* message) {
  static const auto logger = Logger(kLogKafka);
  // Syslog levels. librdkafka logs connection failures at LOG_ERR although
  // it recovers from them by itself, so those are warnings here. It emits
  // LOG_DEBUG only for the contexts named in its `debug` property, so those
  // show at info: setting `debug` is enough to see them.
  spdlog::level::level_enum spd_level = spdlog::level::info;
  if (level <= 2) {
    spd_level = spdlog::level::err;
  } else if (level <= 4) {
    spd_level = spdlog::level::warn;
  }
  logger->log(spd_level, "librdkafka {}: {}", facility, message);
}

Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail) {
  const StatusCode code = CodeFor(err);
  if (code == StatusCode::kOk) return Status::Ok();
  std::string message(context);
  message += ": ";
  if (detail.empty()) {
    message += rd_kafka_err2str(err);
  } else {
    message += detail;
  }
  message += " (";
  message += rd_kafka_err2name(err);
  message += ")";
  return {code, std::move(message)};
}

Status TakeError(rd_kafka_error_t* error, std::string_view context) {
  if (error == nullptr) return Status::Ok();
  Status status = ErrorStatus(rd_kafka_error_code(error), context, rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
  return status;
}

Status SetProperty(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument("kafka config key \"" + key + "\": " + errstr);
  }
  return Status::Ok();
}

Result<ConfPtr> BuildClientConf(std::span<const Property> defaults, const KafkaConfig& config,
                                std::span<const Property> managed) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &LogFromLibrdkafka);
  for (const Property& p : defaults) {
    STREAMREC_RETURN_IF_ERROR(SetProperty(conf.get(), std::string(p.key), std::string(p.value)));
  }
  for (const KafkaConfig::Entry& e : config.entries()) {
    STREAMREC_RETURN_IF_ERROR(SetProperty(conf.get(), e.key, e.value));
  }
  for (const Property& p : managed) {
    const std::string key(p.key);
    // Compare librdkafka's normalised value, so "False" or "0" for false pass.
    char current[64];
    size_t size = sizeof(current);
    if (config.Get(key).has_value() &&
        rd_kafka_conf_get(conf.get(), key.c_str(), current, &size) == RD_KAFKA_CONF_OK &&
        std::string_view(current) != p.value) {
      return Status::InvalidArgument("kafka config key \"" + key + "\": must be " +
                                     std::string(p.value) +
                                     " here (streamrec manages this setting)");
    }
    STREAMREC_RETURN_IF_ERROR(SetProperty(conf.get(), key, std::string(p.value)));
  }
  char servers[8];
  size_t servers_size = sizeof(servers);
  // A client with no bootstrap servers would wait forever without a word.
  // (RD_KAFKA_CONF_INVALID only means the buffer was too small: it is set.)
  const rd_kafka_conf_res_t got =
      rd_kafka_conf_get(conf.get(), "bootstrap.servers", servers, &servers_size);
  if ((got != RD_KAFKA_CONF_OK && got != RD_KAFKA_CONF_INVALID) || servers_size <= 1) {
    return Status::InvalidArgument("kafka config key \"bootstrap.servers\" is required");
  }
  return conf;
}

PartitionListPtr ToPartitionList(std::span<const TopicPartition> partitions) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
  }
  return list;
}

std::vector<TopicPartition> FromPartitionList(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, PartitionId(list->elems[i].partition)});
  }
  return out;
}

void LogClientError(rd_kafka_t* rk, int err, const char* reason) {
  static const auto logger = Logger(kLogKafka);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    logger->error("{}: fatal error: {} ({})", rd_kafka_name(rk), fatal, rd_kafka_err2name(cause));
    return;
  }
  // A transport error was already logged by librdkafka as it happened.
  logger->log(code == RD_KAFKA_RESP_ERR__TRANSPORT ? spdlog::level::debug : spdlog::level::warn,
              "{}: {} ({})", rd_kafka_name(rk), reason, rd_kafka_err2name(code));
}

}  // namespace streamrec::kafka::internal
