#include "streamrec/serving/publisher.h"

#include <unordered_map>

#include "streamrec/kafka/producer.h"
#include "streamrec/schemas/codec.h"

namespace streamrec::serving {

struct Publisher::Impl {
  PublisherOptions options;
  std::optional<kafka::Producer> producer;
  // What each in-flight record was, by its producer tag.
  std::unordered_map<uint64_t, Acknowledged> in_flight;
  uint64_t next_tag = 0;
  std::vector<Acknowledged> acknowledged;
  Status delivery_error;
  PublisherCounters counters;

  Status Send(Acknowledged what, std::optional<std::string_view> value) {
    const uint64_t tag = next_tag++;
    // The record's key views the in-flight entry's id, which stays put.
    const Acknowledged& entry = in_flight.emplace(tag, std::move(what)).first->second;
    kafka::ProducerRecord record;
    record.topic = options.topic;
    record.key = entry.user_id;
    record.value = value;
    record.tag = tag;
    Status s = producer->Produce(record);
    if (!s.ok()) in_flight.erase(tag);
    return s;
  }

  void OnDelivery(const kafka::DeliveryReport& report) {
    auto it = in_flight.find(report.tag);
    if (it == in_flight.end()) return;
    if (report.status.ok()) {
      ++counters.acknowledged;
      acknowledged.push_back(std::move(it->second));
    } else {
      ++counters.failed;
      if (delivery_error.ok()) delivery_error = report.status;
    }
    in_flight.erase(it);
  }
};

Publisher::Publisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Publisher::~Publisher() = default;

Result<std::unique_ptr<Publisher>> Publisher::Create(const PublisherOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  Impl* raw = impl.get();
  kafka::ProducerOptions producer_options;
  producer_options.config = options.producer_config;
  producer_options.on_delivery = [raw](const kafka::DeliveryReport& report) { raw->OnDelivery(report); };
  auto producer = kafka::Producer::Create(std::move(producer_options));
  if (!producer.ok()) return producer.status().WithContext("creating the recommendations producer");
  impl->producer.emplace(std::move(*producer));
  return std::unique_ptr<Publisher>(new Publisher(std::move(impl)));
}

Status Publisher::Publish(const schemas::RecommendationList& list) {
  const std::string json = schemas::SerializeRecommendationList(list);
  STREAMREC_RETURN_IF_ERROR(impl_->Send({list.user_id, list.seq, list.source_event_ts_ms, false}, json));
  ++impl_->counters.lists;
  return Status::Ok();
}

Status Publisher::PublishTombstone(const std::string& user_id, uint64_t batch_seq) {
  STREAMREC_RETURN_IF_ERROR(impl_->Send({user_id, batch_seq, 0, true}, std::nullopt));
  ++impl_->counters.tombstones;
  return Status::Ok();
}

void Publisher::Poll(std::chrono::milliseconds timeout) { impl_->producer->Poll(timeout); }
Status Publisher::Flush(std::chrono::milliseconds timeout) { return impl_->producer->Flush(timeout); }
std::vector<Acknowledged> Publisher::TakeAcknowledged() { return std::exchange(impl_->acknowledged, {}); }
Status Publisher::TakeDeliveryError() { return std::exchange(impl_->delivery_error, Status::Ok()); }
size_t Publisher::InFlight() const { return impl_->in_flight.size(); }
const PublisherCounters& Publisher::counters() const { return impl_->counters; }

}  // namespace streamrec::serving
