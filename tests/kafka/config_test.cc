#include "streamrec/kafka/config.h"

#include "support/kafka_fixture.h"
#include "streamrec/kafka/consumer.h"
#include "streamrec/kafka/producer.h"

namespace streamrec::kafka {
namespace {

using Catch::Matchers::Contains;

TEST_CASE("KafkaConfig keeps entries in order and replaces in place", "[kafka]") {
  KafkaConfig config;
  REQUIRE_OK(config.Set("bootstrap.servers", "127.0.0.1:9092"));
  REQUIRE_OK(config.SetFromString(" compression.type =lz4"));
  REQUIRE_OK(config.Set("bootstrap.servers", "127.0.0.1:9093"));
  REQUIRE(config.entries() ==
          std::vector<KafkaConfig::Entry>{{"bootstrap.servers", "127.0.0.1:9093"},
                                          {"compression.type", "lz4"}});
  REQUIRE(config.Get("compression.type") == "lz4");
  REQUIRE_FALSE(config.Get("group.id").has_value());
  // Topic-level properties are accepted on the client config too.
  REQUIRE_OK(config.Set("auto.offset.reset", "error"));
  // SASL/SSL pass through with no code of ours.
  REQUIRE_OK(config.Set("security.protocol", "SASL_SSL"));
  REQUIRE_OK(config.Set("sasl.mechanism", "PLAIN"));
}

TEST_CASE("KafkaConfig refuses unknown keys and bad values, naming the key", "[kafka]") {
  KafkaConfig config;
  const Status unknown = config.Set("bootstrap.servres", "127.0.0.1:9092");
  REQUIRE(unknown.code() == StatusCode::kInvalidArgument);
  REQUIRE_THAT(unknown.message(), Contains("\"bootstrap.servres\""));
  REQUIRE_THAT(unknown.message(), Contains("No such configuration property"));

  const Status bad_value = config.Set("session.timeout.ms", "soon");
  REQUIRE(bad_value.code() == StatusCode::kInvalidArgument);
  REQUIRE_THAT(bad_value.message(), Contains("\"session.timeout.ms\""));
  REQUIRE_THAT(bad_value.message(), Contains("Invalid value"));

  const Status bad_enum = config.Set("compression.type", "brotli");
  REQUIRE(bad_enum.code() == StatusCode::kInvalidArgument);
  REQUIRE_THAT(bad_enum.message(), Contains("\"compression.type\""));

  REQUIRE(config.SetFromString("no-equals-sign").code() == StatusCode::kInvalidArgument);
  REQUIRE(config.SetFromString("=x").code() == StatusCode::kInvalidArgument);
  REQUIRE(config.entries().empty());
}

TEST_CASE("clients refuse configurations they cannot honour", "[kafka]") {
  KafkaConfig base;
  REQUIRE_OK(base.Set("bootstrap.servers", "127.0.0.1:1"));

  SECTION("bootstrap.servers is required") {
    ProducerOptions options;
    auto producer = Producer::Create(options);
    REQUIRE(producer.status().code() == StatusCode::kInvalidArgument);
    REQUIRE_THAT(producer.status().message(), Contains("bootstrap.servers"));
  }
  SECTION("idempotence (our default) conflicts with acks=1") {
    ProducerOptions options{.config = base};
    REQUIRE_OK(options.config.Set("acks", "1"));
    auto producer = Producer::Create(options);
    REQUIRE(producer.status().code() == StatusCode::kInvalidArgument);
    REQUIRE_THAT(producer.status().message(), Contains("acks"));
    // ... and turning idempotence off is allowed.
    REQUIRE_OK(options.config.Set("enable.idempotence", "false"));
    REQUIRE_RESULT_OK(Producer::Create(options));
  }
  SECTION("the consumer needs a group.id") {
    auto consumer = Consumer::Create({.config = base});
    REQUIRE(consumer.status().code() == StatusCode::kInvalidArgument);
    REQUIRE_THAT(consumer.status().message(), Contains("group.id"));
  }
  SECTION("the consumer's offset settings are managed") {
    ConsumerOptions options{.config = base};
    REQUIRE_OK(options.config.Set("group.id", "g"));
    REQUIRE_OK(options.config.Set("enable.auto.commit", "true"));
    auto consumer = Consumer::Create(options);
    REQUIRE(consumer.status().code() == StatusCode::kInvalidArgument);
    REQUIRE_THAT(consumer.status().message(), Contains("enable.auto.commit"));
    // Restating the managed value, in any spelling librdkafka accepts, is fine.
    REQUIRE_OK(options.config.Set("enable.auto.commit", "False"));
    REQUIRE_RESULT_OK(Consumer::Create(options));
  }
}

}  // namespace
}  // namespace streamrec::kafka
