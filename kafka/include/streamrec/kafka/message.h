#pragma once

// The data types shared by the producer and the consumer: topic partitions,
// headers and consumed messages. All are plain owning value types.

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/base/ids.h"

namespace streamrec::kafka {

// One partition of one topic. Ordered (topic, then partition) so it can key
// a std::map.
struct TopicPartition {
  std::string topic;
  PartitionId partition;
  auto operator<=>(const TopicPartition&) const = default;
};

// Logical start offsets a StartOffsetFn may return (librdkafka's values).
inline constexpr KafkaOffset kOffsetBeginning{-2};  // the oldest offset the broker holds
inline constexpr KafkaOffset kOffsetEnd{-1};        // only records produced from now on

// Per partition, the next offset to read (Kafka's committed-offset meaning:
// last processed offset + 1).
using OffsetMap = std::map<TopicPartition, KafkaOffset>;

// A Kafka record header. Kafka allows a null header value; it reads here as
// an empty string.
struct Header {
  std::string name;
  std::string value;
  bool operator==(const Header&) const = default;
};

// A consumed record, owning its bytes (the librdkafka message is released as
// soon as it is copied, so holding a Message pins no client memory).
struct Message {
  std::string topic;
  PartitionId partition;
  KafkaOffset offset;
  std::optional<std::string> key;    // nullopt: null key
  std::optional<std::string> value;  // nullopt: null value (a tombstone)
  std::vector<Header> headers;       // in record order; names may repeat
  // The record's timestamp in ms since the epoch (create or log-append
  // time, per the topic), if the broker returned one.
  std::optional<int64_t> timestamp_ms;
};

}  // namespace streamrec::kafka
