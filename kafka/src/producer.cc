#include "streamrec/kafka/producer.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <utility>

#include "rdkafka_util.h"
#include "streamrec/base/logging.h"

namespace streamrec::kafka {

// The tag travels as librdkafka's per-message opaque pointer.
static_assert(sizeof(void*) >= sizeof(uint64_t), "tags need 64-bit pointers");

struct Producer::Impl {
  rd_kafka_t* rk = nullptr;
  DeliveryCallback on_delivery;
  std::chrono::milliseconds queue_full_timeout{0};
  mutable std::mutex mu;
  Status fatal;  // guarded by mu

  ~Impl() {
    if (rk == nullptr) return;
    // Purging first keeps destruction prompt when a broker is unreachable;
    // the purged records' reports are never served, as documented.
    if (const int pending = rd_kafka_outq_len(rk); pending > 0) {
      Logger(kLogKafka)->warn(
          "producer destroyed with {} records not acknowledged; call Flush first", pending);
      rd_kafka_purge(
          rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
    }
    rd_kafka_destroy(rk);
  }

  static void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (!self->on_delivery) return;
    DeliveryReport report;
    report.tag = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
    report.topic = rd_kafka_topic_name(m->rkt);
    report.partition = PartitionId(m->partition);
    report.offset = KafkaOffset(m->offset);
    if (m->key != nullptr) report.key.emplace(static_cast<const char*>(m->key), m->key_len);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      report.status = internal::ErrorStatus(
          m->err, "delivering to " + report.topic + "/" + std::to_string(m->partition));
    }
    self->on_delivery(report);
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    internal::LogClientError(rk, err, reason);
    if (err != RD_KAFKA_RESP_ERR__FATAL) return;
    char fatal[512];
    const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    auto* self = static_cast<Impl*>(opaque);
    // Whatever the cause, the caller's move is the same: a new producer.
    const Status status = internal::ErrorStatus(cause, "kafka producer stopped", fatal);
    std::lock_guard lock(self->mu);
    self->fatal = Status::FailedPrecondition(status.ok() ? "kafka producer stopped by a fatal error"
                                                         : status.message());
  }
};

Result<Producer> Producer::Create(ProducerOptions options) {
  static constexpr std::array<internal::Property, 1> kDefaults = {{
      {"enable.idempotence", "true"},
  }};
  auto conf = internal::BuildClientConf(kDefaults, options.config, {});
  if (!conf.ok()) return conf.status();

  auto impl = std::make_unique<Impl>();
  impl->on_delivery = std::move(options.on_delivery);
  impl->queue_full_timeout = options.queue_full_timeout;
  rd_kafka_conf_set_opaque(conf->get(), impl.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
  rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);

  char errstr[512];
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) {
    // Cross-property checks (e.g. idempotence needs acks=all) only run here.
    return Status::InvalidArgument(std::string("kafka producer config: ") + errstr);
  }
  conf->release();  // rd_kafka_new took ownership
  return Producer(std::move(impl));
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Producer::Producer(Producer&&) noexcept = default;
Producer& Producer::operator=(Producer&&) noexcept = default;
Producer::~Producer() = default;

Status Producer::Produce(const ProducerRecord& record) {
  STREAMREC_RETURN_IF_ERROR(FatalError());
  const std::string topic(record.topic);

  std::array<rd_kafka_vu_t, 8> vus{};
  size_t n = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[n++].u.cstr = topic.c_str();
  vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[n++].u.i32 = record.partition ? record.partition->value() : RD_KAFKA_PARTITION_UA;
  vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
  // librdkafka copies (F_COPY) and never writes through these pointers.
  vus[n].vtype = RD_KAFKA_VTYPE_KEY;
  vus[n].u.mem.ptr = record.key ? const_cast<char*>(record.key->data()) : nullptr;
  vus[n++].u.mem.size = record.key ? record.key->size() : 0;
  vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[n].u.mem.ptr = record.value ? const_cast<char*>(record.value->data()) : nullptr;
  vus[n++].u.mem.size = record.value ? record.value->size() : 0;
  vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  vus[n++].u.i64 = record.timestamp_ms.value_or(0);  // 0: librdkafka stamps now
  vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[n++].u.ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(record.tag));
  const size_t headers_slot = n++;

  const auto deadline = std::chrono::steady_clock::now() + impl_->queue_full_timeout;
  while (true) {
    size_t count = headers_slot;
    rd_kafka_headers_t* headers = nullptr;
    if (!record.headers.empty()) {
      headers = rd_kafka_headers_new(record.headers.size());
      for (const Header& h : record.headers) {
        rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
      vus[headers_slot].vtype = RD_KAFKA_VTYPE_HEADERS;
      vus[headers_slot].u.headers = headers;
      count = headers_slot + 1;
    }
    rd_kafka_error_t* error = rd_kafka_produceva(impl_->rk, vus.data(), count);
    if (error == nullptr) return Status::Ok();  // headers now belong to the message
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
        std::chrono::steady_clock::now() < deadline) {
      rd_kafka_error_destroy(error);
      // Serving reports is what frees queue space.
      rd_kafka_poll(impl_->rk, 10);
      continue;
    }
    return internal::TakeError(error, "producing to " + topic);
  }
}

int Producer::Poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(impl_->rk, static_cast<int>(timeout.count()));
}

Status Producer::Flush(std::chrono::milliseconds timeout) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk, static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return Status::Unavailable("kafka flush: " + std::to_string(rd_kafka_outq_len(impl_->rk)) +
                               " records still unacknowledged after " +
                               std::to_string(timeout.count()) + " ms");
  }
  return internal::ErrorStatus(err, "kafka flush");
}

size_t Producer::InFlight() const { return static_cast<size_t>(rd_kafka_outq_len(impl_->rk)); }

Result<int> Producer::PartitionCount(const std::string& topic, std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(impl_->rk, topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return internal::ErrorStatus(rd_kafka_last_error(), "kafka topic \"" + topic + "\"");
  }
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(impl_->rk, 0, rkt, &metadata, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::ErrorStatus(err, "kafka metadata for \"" + topic + "\"");
  }
  Result<int> result = Status::NotFound("kafka metadata: no topic \"" + topic + "\"");
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = internal::ErrorStatus(t.err, "kafka metadata for \"" + topic + "\"");
    } else {
      result = t.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return result;
}

Status Producer::FatalError() const {
  std::lock_guard lock(impl_->mu);
  return impl_->fatal;
}

}  // namespace streamrec::kafka
