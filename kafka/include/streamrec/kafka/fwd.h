#pragma once

// Forward declarations of the kafka component's public types, for headers
// that only pass them around.

namespace streamrec::kafka {

class KafkaConfig;
class Producer;
class Consumer;
class EmbeddedBroker;

struct Header;
struct Message;
struct TopicPartition;
struct ProducerRecord;
struct DeliveryReport;
struct ProducerOptions;
struct ConsumerOptions;
struct PartitionLag;
struct Watermarks;
struct BrokerOptions;

}  // namespace streamrec::kafka
