// Hostile records through the real pipeline (docs/reliability.md): every
// kind lands in events.dlq with its stable error.code and its source
// position, records near the broker's message size limit included; the
// valid events between them are all applied, once; the DLQ copy of a big
// record is a bounded prefix plus its original size.

#include <map>

#include <catch2/catch.hpp>

#include "reliability_support.h"
#include "streamrec/ingest/ingestor.h"

namespace streamrec {
namespace {

using testing::EventStream;
using testing::ReliabilityFixture;

// librdkafka's producer refuses records above message.max.bytes (default
// 1,000,000 bytes, the same as Kafka's broker default).
constexpr size_t kProducerMaxBytes = 1000000;

std::string View(const std::string& user, const std::string& extra = "", const std::string& ts = "1732349000000") {
  std::string json = R"({"user_id":")" + user + R"(","item_id":"i1","type":"view","ts":)" + ts;
  if (!extra.empty()) json += "," + extra;
  return json + "}";
}

std::string Padded(size_t total) {
  const std::string head = View("u1", R"("pad":")");
  return head.substr(0, head.size() - 1) + std::string(total - head.size() - 1, 'x') + "\"}";
}

TEST_CASE("hostile records are dead-lettered with stable codes, valid ones between them applied once",
          "[integration]") {
  ReliabilityFixture f;
  struct Hostile {
    std::string code;
    std::string value;
  };
  std::string deep;
  for (int k = 0; k < 9000; ++k) deep += R"({"a":)";
  deep += "1" + std::string(9000, '}');
  const std::vector<Hostile> hostile = {
      {"invalid_json", View("u\xff\xfe")},
      {"invalid_json", View("u1", "\"note\":\"\xc0\xaf\"")},
      {"too_deep", View("u1", "\"context\":" + deep)},
      {"message_too_large", std::string(100000, '[') + std::string(100000, ']')},
      {"timestamp_out_of_range", View("u1", "", "1e308")},
      {"timestamp_out_of_range", View("u1", "", "-1")},
      {"timestamp_out_of_range", View("u1", "", "1832350000000")},  // years after the record's own time
      {"invalid_id", View("u\\u0001")},
      {"invalid_id", View("u\\u009f")},
      {"empty_id", View("")},
      {"duplicate_key", View("u1", R"("user_id":"u2")")},
      {"message_too_large", Padded(schemas::kMaxMessageBytes + 1)},
      {"message_too_large", Padded(kProducerMaxBytes - 2000)},  // just under what Kafka delivers
  };
  const auto valid = EventStream(260);
  std::map<std::string, int> want_codes;
  for (size_t k = 0; k < valid.size(); ++k) {
    f.ProduceEvent(valid[k]);
    if (k % 20 == 0 && k / 20 < hostile.size()) {
      const Hostile& h = hostile[k / 20];
      f.Produce("events", "hostile", h.value);
      ++want_codes[h.code];
    }
  }
  // At the limit of our parser: accepted and learned.
  f.Produce("events", "u1", Padded(schemas::kMaxMessageBytes));
  f.Flush();

  // Over the producer's limit: refused before it reaches Kafka.
  {
    auto producer = kafka::Producer::Create({.config = [&] {
      kafka::KafkaConfig c;
      REQUIRE_OK(c.Set("bootstrap.servers", f.bootstrap()));
      return c;
    }()});
    REQUIRE_RESULT_OK(producer);
    const std::string too_big = Padded(kProducerMaxBytes + 1000);
    kafka::ProducerRecord record;
    record.topic = "events";
    record.value = too_big;
    CHECK_FALSE(producer->Produce(record).ok());
  }

  const std::string dir = f.dir().Sub("state");
  REQUIRE(f.Run(dir) == 0);

  std::map<std::string, int> codes;
  for (const auto& m : f.ReadTopic("events.dlq")) {
    std::map<std::string, std::string> headers;
    for (const auto& h : m.headers) headers[h.name] = h.value;
    ++codes[headers["error.code"]];
    CHECK(headers["source.topic"] == "events");
    CHECK_FALSE(headers["source.offset"].empty());
    // Big records keep a bounded prefix and say how big they were.
    CHECK(m.value->size() <= schemas::kMaxMessageBytes);
    if (headers.contains("original.size")) CHECK(std::stoul(headers["original.size"]) > schemas::kMaxMessageBytes);
  }
  CHECK(codes == want_codes);

  // Every valid event applied once (u1's padded event included).
  auto expected = testing::ExpectedCounts(valid);
  ++expected["u1"];
  CHECK(testing::EventCounts(dir) == expected);
  CHECK(testing::DigestOf(dir).counts.pending == 0);
}

TEST_CASE("a multi-megabyte record's dead letter is a prefix plus its original size", "[integration]") {
  kafka::Message message;
  message.topic = "events";
  message.partition = PartitionId(2);
  message.offset = KafkaOffset(77);
  message.key = "k";
  message.value = std::string(5 << 20, 'x');
  const auto letter =
      ingest::MakeDeadLetter(message, {schemas::RejectReason::kMessageTooLarge, "5242880 bytes"}, 65536);
  CHECK(letter.value == std::string(65536, 'x'));
  std::map<std::string, std::string> headers;
  for (const auto& h : letter.headers) headers[h.name] = h.value;
  CHECK(headers["original.size"] == "5242880");
  CHECK(headers["error.code"] == "message_too_large");
  CHECK(headers["source.partition"] == "2");
  CHECK(headers["source.offset"] == "77");
}

}  // namespace
}  // namespace streamrec
