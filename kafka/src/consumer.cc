#include "streamrec/kafka/consumer.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <cstdlib>
#include <map>
#include <string_view>
#include <utility>

#include "rdkafka_util.h"
#include "streamrec/base/logging.h"

namespace streamrec::kafka {
namespace {

using Clock = std::chrono::steady_clock;

Message ToMessage(const rd_kafka_message_t* m) {
  Message out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = PartitionId(m->partition);
  out.offset = KafkaOffset(m->offset);
  if (m->key != nullptr) out.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) out.value.emplace(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const size_t count = rd_kafka_header_cnt(headers);
    out.headers.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_header_get_all(headers, i, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        continue;
      }
      out.headers.push_back({name, value == nullptr
                                       ? std::string()
                                       : std::string(static_cast<const char*>(value), size)});
    }
  }
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const int64_t ts = rd_kafka_message_timestamp(m, &type);
  if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) out.timestamp_ms = ts;
  return out;
}

// Consumer errors the caller has to act on. Everything else (broker down,
// leader moved, request timed out...) librdkafka retries by itself, so it is
// only logged.
bool CallerMustHandle(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct Consumer::Impl {
  rd_kafka_t* rk = nullptr;
  StartOffsetFn start_offset;
  RebalanceFn on_rebalance;
  // The current assignment; true once the partition was read to its end.
  std::map<TopicPartition, bool> at_end;
  // An error met by Poll after it had records to return; reported next.
  Status deferred_error;
  // An error met inside the rebalance callback, where it cannot be returned.
  Status rebalance_error;
  bool closed = false;
  bool ever_assigned = false;
  std::chrono::milliseconds session_timeout{0};

  ~Impl() {
    if (rk == nullptr) return;
    if (!closed) CloseNow().PermitUncheckedError();  // logged by CloseNow
    rd_kafka_destroy(rk);
  }

  Status CloseNow() {
    closed = true;
    AwaitFirstCooperativeAssignment();
    const Status status =
        internal::ErrorStatus(rd_kafka_consumer_close(rk), "kafka consumer close");
    at_end.clear();
    if (!status.ok()) Logger(kLogKafka)->warn("{}", status.ToString());
    return status;
  }

  // librdkafka before 2.3.0 aborts the process when a cooperative-sticky
  // member that has joined its group is destroyed before its first
  // assignment (confluentinc/librdkafka#4312, fixed by #4381). So closing in
  // that window first lets the group hand the assignment out, for at most
  // what a rebalance can take. Records polled meanwhile are dropped
  // uncommitted: the partitions' next owner reads them.
  void AwaitFirstCooperativeAssignment() {
    if (rd_kafka_version() >= 0x020300ff || ever_assigned ||
        std::string_view(rd_kafka_rebalance_protocol(rk)) != "COOPERATIVE") {
      return;
    }
    const auto deadline = Clock::now() + session_timeout + std::chrono::seconds(2);
    while (!ever_assigned && Clock::now() < deadline) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) rd_kafka_message_destroy(m);
    }
  }

  // Fills in where each partition of a new assignment starts.
  void SetStartOffsets(rd_kafka_topic_partition_list_t* list) const {
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_t& p = list->elems[i];
      std::optional<KafkaOffset> start;
      if (start_offset) start = start_offset({p.topic, PartitionId(p.partition)});
      // INVALID: the committed offset, else auto.offset.reset.
      p.offset = start ? start->value() : RD_KAFKA_OFFSET_INVALID;
    }
  }

  void Added(const std::vector<TopicPartition>& partitions) {
    for (const TopicPartition& tp : partitions) at_end[tp] = false;
    if (on_rebalance) on_rebalance(RebalanceKind::kAssigned, partitions);
  }

  void Remember(Status status) {
    Logger(kLogKafka)->error("{}", status.ToString());
    if (rebalance_error.ok()) rebalance_error = std::move(status);
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* list, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    std::vector<TopicPartition> partitions = internal::FromPartitionList(list);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->ever_assigned = true;
      self->SetStartOffsets(list);
      Status status =
          cooperative ? internal::TakeError(rd_kafka_incremental_assign(rk, list), "kafka assign")
                      : internal::ErrorStatus(rd_kafka_assign(rk, list), "kafka assign");
      if (!status.ok()) {
        self->Remember(std::move(status));
        return;
      }
      self->Added(partitions);
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      if (self->on_rebalance) {
        self->on_rebalance(
            rd_kafka_assignment_lost(rk) ? RebalanceKind::kLost : RebalanceKind::kRevoked,
            partitions);
      }
      for (const TopicPartition& tp : partitions) self->at_end.erase(tp);
    } else {
      self->Remember(internal::ErrorStatus(err, "kafka rebalance"));
      self->at_end.clear();
    }
    Status status =
        cooperative && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
            ? internal::TakeError(rd_kafka_incremental_unassign(rk, list), "kafka unassign")
            : internal::ErrorStatus(rd_kafka_assign(rk, nullptr), "kafka unassign");
    if (!status.ok()) self->Remember(std::move(status));
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
    internal::LogClientError(rk, err, reason);
  }
};

Result<Consumer> Consumer::Create(ConsumerOptions options) {
  static constexpr std::array<internal::Property, 3> kManaged = {{
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
  }};
  // Without a group id nothing could be committed, which defeats the point.
  const std::optional<std::string> group = options.config.Get("group.id");
  if (!group.has_value() || group->empty()) {
    return Status::InvalidArgument("kafka config key \"group.id\" is required by the consumer");
  }
  auto conf = internal::BuildClientConf({}, options.config, kManaged);
  if (!conf.ok()) return conf.status();

  auto impl = std::make_unique<Impl>();
  impl->start_offset = std::move(options.start_offset);
  impl->on_rebalance = std::move(options.on_rebalance);
  rd_kafka_conf_set_opaque(conf->get(), impl.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Impl::OnRebalance);
  rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);

  char timeout[32];
  size_t timeout_size = sizeof(timeout);
  if (rd_kafka_conf_get(conf->get(), "session.timeout.ms", timeout, &timeout_size) ==
      RD_KAFKA_CONF_OK) {
    impl->session_timeout = std::chrono::milliseconds(std::atoll(timeout));
  }

  char errstr[512];
  impl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) {
    return Status::InvalidArgument(std::string("kafka consumer config: ") + errstr);
  }
  conf->release();  // rd_kafka_new took ownership
  // One queue for everything, so errors, logs and rebalances are all served
  // by Poll on the caller's thread.
  rd_kafka_poll_set_consumer(impl->rk);
  return Consumer(std::move(impl));
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;
Consumer::~Consumer() = default;

Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  if (impl_->closed) return Status::FailedPrecondition("kafka consumer is closed");
  internal::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& topic : topics) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  return internal::ErrorStatus(rd_kafka_subscribe(impl_->rk, list.get()), "kafka subscribe");
}

Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  if (impl_->closed) return Status::FailedPrecondition("kafka consumer is closed");
  internal::PartitionListPtr list = internal::ToPartitionList(partitions);
  impl_->SetStartOffsets(list.get());
  STREAMREC_RETURN_IF_ERROR(
      internal::ErrorStatus(rd_kafka_assign(impl_->rk, list.get()), "kafka assign"));
  impl_->at_end.clear();
  impl_->Added(internal::FromPartitionList(list.get()));
  return Status::Ok();
}

Result<std::vector<Message>> Consumer::Poll(size_t max_messages, std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds linger) {
  if (impl_->closed) return Status::FailedPrecondition("kafka consumer is closed");
  if (!impl_->deferred_error.ok()) return std::exchange(impl_->deferred_error, Status::Ok());

  std::vector<Message> out;
  auto deadline = Clock::now() + timeout;
  while (out.size() < max_messages) {
    // Rounded up: librdkafka waits in whole milliseconds, and a wait rounded
    // down to 0 would spin through the deadline's last millisecond.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    rd_kafka_message_t* m =
        rd_kafka_consumer_poll(impl_->rk, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    const bool got_record = m != nullptr && m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (got_record) {
      // From the first record on, wait only `linger` more: by default a
      // batch takes what is already fetched and never waits to fill (the
      // first record's latency would grow); under load it fills anyway from
      // what librdkafka fetched while the previous batch was processed.
      if (out.empty()) deadline = Clock::now() + linger;
      out.push_back(ToMessage(m));
      rd_kafka_message_destroy(m);
      m = nullptr;
      if (auto it = impl_->at_end.find({out.back().topic, out.back().partition});
          it != impl_->at_end.end()) {
        it->second = false;
      }
    }
    if (!impl_->rebalance_error.ok()) {
      if (m != nullptr) rd_kafka_message_destroy(m);
      if (out.empty()) return std::exchange(impl_->rebalance_error, Status::Ok());
      impl_->deferred_error = std::exchange(impl_->rebalance_error, Status::Ok());
      break;
    }
    if (m == nullptr) {
      // A record was just taken (look for the next at once), or the wait
      // timed out.
      if (got_record) continue;
      if (Clock::now() >= deadline) break;
      continue;
    }
    const rd_kafka_resp_err_t err = m->err;
    std::string where = "kafka consumer";
    if (m->rkt != nullptr) {
      where += " at " + std::string(rd_kafka_topic_name(m->rkt)) + "/" +
               std::to_string(m->partition) + " offset " + std::to_string(m->offset);
    }
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (auto it = impl_->at_end.find({rd_kafka_topic_name(m->rkt), PartitionId(m->partition)});
          it != impl_->at_end.end()) {
        it->second = true;
      }
      rd_kafka_message_destroy(m);
      // Nothing more to read right now: do not sit out the timeout.
      if (!out.empty() && AtEndOfAllPartitions()) break;
      continue;
    }
    Status status = internal::ErrorStatus(err, where, rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
    if (!CallerMustHandle(err)) {
      Logger(kLogKafka)->warn("{}", status.ToString());
      continue;
    }
    if (out.empty()) return status;
    impl_->deferred_error = std::move(status);
    break;
  }
  return out;
}

namespace {

internal::PartitionListPtr OffsetList(const OffsetMap& next_offsets) {
  internal::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [tp, offset] : next_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value())->offset =
        offset.value();
  }
  return list;
}

}  // namespace

Status Consumer::CommitOffsetsAsync(const OffsetMap& next_offsets) {
  if (next_offsets.empty()) return Status::Ok();
  internal::PartitionListPtr list = OffsetList(next_offsets);
  return internal::ErrorStatus(rd_kafka_commit(impl_->rk, list.get(), /*async=*/1), "kafka commit");
}

Status Consumer::CommitOffsets(const OffsetMap& next_offsets) {
  if (next_offsets.empty()) return Status::Ok();
  internal::PartitionListPtr list = OffsetList(next_offsets);
  STREAMREC_RETURN_IF_ERROR(
      internal::ErrorStatus(rd_kafka_commit(impl_->rk, list.get(), /*async=*/0), "kafka commit"));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    STREAMREC_RETURN_IF_ERROR(internal::ErrorStatus(
        p.err, "kafka commit of " + std::string(p.topic) + "/" + std::to_string(p.partition)));
  }
  return Status::Ok();
}

Result<OffsetMap> Consumer::Committed(const std::vector<TopicPartition>& partitions,
                                      std::chrono::milliseconds timeout) {
  internal::PartitionListPtr list = internal::ToPartitionList(partitions);
  STREAMREC_RETURN_IF_ERROR(internal::ErrorStatus(
      rd_kafka_committed(impl_->rk, list.get(), static_cast<int>(timeout.count())),
      "kafka committed offsets"));
  OffsetMap out;
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    STREAMREC_RETURN_IF_ERROR(internal::ErrorStatus(
        p.err,
        "kafka committed offset of " + std::string(p.topic) + "/" + std::to_string(p.partition)));
    if (p.offset >= 0) out[{p.topic, PartitionId(p.partition)}] = KafkaOffset(p.offset);
  }
  return out;
}

std::vector<TopicPartition> Consumer::Assignment() const {
  std::vector<TopicPartition> out;
  out.reserve(impl_->at_end.size());
  for (const auto& [tp, at_end] : impl_->at_end) out.push_back(tp);
  return out;
}

bool Consumer::AtEndOfAllPartitions() const {
  if (impl_->at_end.empty()) return false;
  for (const auto& [tp, at_end] : impl_->at_end) {
    if (!at_end) return false;
  }
  return true;
}

std::vector<PartitionLag> Consumer::Lag() const {
  const std::vector<TopicPartition> assigned = Assignment();
  internal::PartitionListPtr list = internal::ToPartitionList(assigned);
  // Local only: the position list is filled from client state.
  const bool have_positions =
      rd_kafka_position(impl_->rk, list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR;
  std::vector<PartitionLag> out;
  out.reserve(assigned.size());
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    PartitionLag lag;
    lag.partition = assigned[static_cast<size_t>(i)];
    if (have_positions && p.err == RD_KAFKA_RESP_ERR_NO_ERROR && p.offset >= 0) {
      lag.position = KafkaOffset(p.offset);
    }
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(impl_->rk, p.topic, p.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      lag.high_watermark = KafkaOffset(high);
    }
    if (lag.position && lag.high_watermark) {
      lag.lag = std::max<int64_t>(0, lag.high_watermark->value() - lag.position->value());
    }
    out.push_back(std::move(lag));
  }
  return out;
}

Result<Watermarks> Consumer::QueryWatermarks(const TopicPartition& partition,
                                             std::chrono::milliseconds timeout) {
  int64_t low = -1;
  int64_t high = -1;
  STREAMREC_RETURN_IF_ERROR(internal::ErrorStatus(
      rd_kafka_query_watermark_offsets(impl_->rk, partition.topic.c_str(),
                                       partition.partition.value(), &low, &high,
                                       static_cast<int>(timeout.count())),
      "kafka watermarks of " + partition.topic + "/" +
          std::to_string(partition.partition.value())));
  return Watermarks{KafkaOffset(low), KafkaOffset(high)};
}

Status Consumer::Close() {
  if (impl_->closed) return Status::Ok();
  return impl_->CloseNow();
}

}  // namespace streamrec::kafka
