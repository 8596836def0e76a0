#include "streamrec/ingest/ingestor.h"

#include <variant>

#include "streamrec/base/logging.h"
#include "streamrec/kafka/producer.h"

namespace streamrec::ingest {
namespace {

constexpr std::chrono::milliseconds kDlqFlushTimeout{30000};

}  // namespace

DeadLetter MakeDeadLetter(const kafka::Message& message, const schemas::Rejection& rejection,
                          size_t max_value_bytes) {
  DeadLetter out;
  out.key = message.key;
  const std::string& value = message.value ? *message.value : std::string();
  out.value = value.substr(0, std::min(value.size(), max_value_bytes));
  out.headers = {
      {"error.code", std::string(schemas::RejectCode(rejection.reason))},
      {"error.reason", rejection.ToString()},
      {"source.topic", message.topic},
      {"source.partition", std::to_string(message.partition.value())},
      {"source.offset", std::to_string(message.offset.value())},
  };
  if (value.size() > max_value_bytes) out.headers.push_back({"original.size", std::to_string(value.size())});
  return out;
}

struct Ingestor::Impl {
  IngestOptions options;
  OffsetSource* offsets = nullptr;
  std::optional<kafka::Consumer> consumer;
  std::optional<kafka::Producer> dlq;
  IngestCounters counters;
  Status delivery_error;  // first DLQ delivery failure, reported by Next
  std::shared_ptr<spdlog::logger> log = Logger(kLogIngest);

  Status DeadLetterRecord(const kafka::Message& message, const schemas::Rejection& rejection) {
    DeadLetter letter = MakeDeadLetter(message, rejection, options.dlq_max_value_bytes);
    kafka::ProducerRecord record;
    record.topic = options.dlq_topic;
    if (letter.key) record.key = *letter.key;
    record.value = letter.value;
    record.headers = letter.headers;
    record.timestamp_ms = message.timestamp_ms;
    ++counters.dead_lettered;
    ++counters.dead_lettered_by_reason[static_cast<size_t>(rejection.reason)];
    log->debug("dead-lettered {}/{}@{}: {}", message.topic, message.partition.value(), message.offset.value(),
               rejection.ToString());
    return dlq->Produce(record);
  }

  // Where an assigned partition starts: the stored offset; else, for a
  // partition another group member consumed before (a rebalance moved it
  // here), the group's committed offset, so no event is applied twice
  // across the group; else the beginning or the end per `start`.
  KafkaOffset StartOffset(const kafka::TopicPartition& tp) {
    if (auto stored = offsets->NextOffset(tp.topic, tp.partition)) return *stored;
    auto committed = consumer->Committed({tp}, std::chrono::milliseconds(5000));
    if (committed.ok()) {
      if (auto it = committed->find(tp); it != committed->end()) {
        log->info("{}/{} is not in the store: resuming at the group's committed offset {}; the state of its "
                  "earlier events stays with the instance that consumed them",
                  tp.topic, tp.partition.value(), it->second.value());
        return it->second;
      }
    } else {
      log->warn("reading the group's committed offset of {}/{}: {}", tp.topic, tp.partition.value(),
                committed.status().ToString());
    }
    return options.start == StartPosition::kEarliest ? kafka::kOffsetBeginning : kafka::kOffsetEnd;
  }

  // Commits the stored offsets of partitions about to move to another
  // member. Commits after each batch fail while a rebalance is pending (the
  // member keeps consuming meanwhile), so without this the next owner would
  // resume at a stale offset and apply those events a second time.
  void CommitStored(const std::vector<kafka::TopicPartition>& revoked) {
    kafka::OffsetMap stored;
    for (const auto& tp : revoked) {
      if (auto next = offsets->NextOffset(tp.topic, tp.partition)) stored[tp] = *next;
    }
    if (stored.empty()) return;
    if (Status s = consumer->CommitOffsets(stored); !s.ok()) {
      log->warn("committing the offsets of released partitions: {}", s.ToString());
    }
  }

  // Adds the record to the batch, or dead-letters it. Fails only when the
  // DLQ producer refuses the record.
  Status Classify(const kafka::Message& message, Batch& batch) {
    ++counters.records;
    batch.next_offsets[kafka::TopicPartition{message.topic, message.partition}] =
        KafkaOffset(message.offset.value() + 1);
    auto reject = [&](const schemas::Rejection& rejection) {
      ++batch.dead_lettered;
      return DeadLetterRecord(message, rejection);
    };
    if (!message.value) return reject({schemas::RejectReason::kInvalidJson, "null value (tombstone)"});
    if (message.topic == options.items_topic) {
      auto parsed = schemas::ParseItem(*message.value);
      auto* item = std::get_if<schemas::Item>(&parsed);
      if (!item) return reject(std::get<schemas::Rejection>(parsed));
      ++counters.items;
      batch.items.push_back(std::move(*item));
      return Status::Ok();
    }
    schemas::ParseOptions parse = options.parse;
    parse.reference_ts_ms = message.timestamp_ms;
    auto parsed = schemas::ParseEvent(*message.value, parse);
    auto* event = std::get_if<schemas::Event>(&parsed);
    if (!event) return reject(std::get<schemas::Rejection>(parsed));
    ++counters.events;
    batch.events.push_back({std::move(*event), message.partition, message.offset});
    return Status::Ok();
  }
};

Ingestor::Ingestor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ingestor::~Ingestor() = default;

Result<std::unique_ptr<Ingestor>> Ingestor::Create(const IngestOptions& options, OffsetSource& offsets) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->offsets = &offsets;
  Impl* raw = impl.get();

  kafka::ConsumerOptions consumer_options;
  consumer_options.config = options.consumer_config;
  // Every partition starts at an explicit offset (see StartOffset), so the
  // reset policy only fires when the broker no longer holds that offset:
  // that must stop the pipeline, never skip data silently.
  if (!consumer_options.config.Get("auto.offset.reset")) {
    STREAMREC_RETURN_IF_ERROR(consumer_options.config.Set("auto.offset.reset", "error"));
  }
  consumer_options.start_offset = [raw](const kafka::TopicPartition& tp) { return raw->StartOffset(tp); };
  consumer_options.on_rebalance = [raw](kafka::RebalanceKind kind, const std::vector<kafka::TopicPartition>& tps) {
    raw->log->info("{} {} partition(s)", kind == kafka::RebalanceKind::kAssigned ? "assigned" : "released", tps.size());
    if (kind == kafka::RebalanceKind::kRevoked) raw->CommitStored(tps);
  };
  auto consumer = kafka::Consumer::Create(std::move(consumer_options));
  if (!consumer.ok()) return consumer.status().WithContext("creating the events consumer");
  impl->consumer.emplace(std::move(*consumer));
  STREAMREC_RETURN_IF_ERROR(impl->consumer->Subscribe({options.events_topic, options.items_topic}));

  kafka::ProducerOptions producer_options;
  producer_options.config = options.producer_config;
  producer_options.on_delivery = [raw](const kafka::DeliveryReport& report) {
    if (!report.status.ok() && raw->delivery_error.ok()) raw->delivery_error = report.status;
  };
  auto producer = kafka::Producer::Create(std::move(producer_options));
  if (!producer.ok()) return producer.status().WithContext("creating the dead-letter producer");
  impl->dlq.emplace(std::move(*producer));
  return std::unique_ptr<Ingestor>(new Ingestor(std::move(impl)));
}

Result<Batch> Ingestor::Next(std::optional<std::chrono::milliseconds> max_wait) {
  Impl& m = *impl_;
  auto messages = m.consumer->Poll(m.options.batch_max_events, max_wait.value_or(m.options.batch_max_wait),
                                   m.options.batch_linger);
  if (!messages.ok()) return messages.status();
  Batch batch;
  for (const kafka::Message& message : *messages) {
    STREAMREC_RETURN_IF_ERROR(m.Classify(message, batch).WithContext("producing to " + m.options.dlq_topic));
  }
  if (batch.dead_lettered > 0) {
    // The batch's offsets may be stored only once its rejects are safe.
    STREAMREC_RETURN_IF_ERROR(m.dlq->Flush(kDlqFlushTimeout).WithContext("flushing " + m.options.dlq_topic));
    if (!m.delivery_error.ok()) return m.delivery_error.WithContext("delivering to " + m.options.dlq_topic);
  }
  return batch;
}

Status Ingestor::Commit(const kafka::OffsetMap& next_offsets) {
  return impl_->consumer->CommitOffsetsAsync(next_offsets);
}
bool Ingestor::AtEnd() const { return impl_->consumer->AtEndOfAllPartitions(); }
std::vector<kafka::TopicPartition> Ingestor::Assignment() const { return impl_->consumer->Assignment(); }
std::vector<kafka::PartitionLag> Ingestor::Lag() const { return impl_->consumer->Lag(); }
Result<kafka::Watermarks> Ingestor::QueryWatermarks(const kafka::TopicPartition& partition) {
  return impl_->consumer->QueryWatermarks(partition, std::chrono::milliseconds(5000));
}
const IngestCounters& Ingestor::counters() const { return impl_->counters; }

Status Ingestor::Close() {
  Status flushed = impl_->dlq->Flush(kDlqFlushTimeout);
  Status closed = impl_->consumer->Close();
  return flushed.ok() ? closed : flushed;
}

}  // namespace streamrec::ingest
