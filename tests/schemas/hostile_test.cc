// Hostile input at the parser (docs/reliability.md): what an attacker or a
// broken producer can put in a Kafka record. Every such record must be
// rejected with a stable code — never crash, hang, recurse without bound or
// allocate in proportion to a forged length — and the valid ones next to it
// must still parse. The pipeline-level counterpart (records through the
// real broker into events.dlq) is tests/integration/hostile_input_test.cc.

#include <catch2/catch.hpp>
#include <string>

#include "schemas_test_helpers.h"
#include "streamrec/schemas/codec.h"

namespace streamrec::schemas {
namespace {

using testing::CodeOf;
using testing::ValueOf;

constexpr int64_t kTs = 1732350000123;

std::string Event(std::string_view user, std::string_view item, std::string_view extra = "",
                  std::string_view ts = "1732350000123") {
  std::string json = R"({"user_id":")" + std::string(user) + R"(","item_id":")" + std::string(item) +
                     R"(","type":"view","ts":)" + std::string(ts);
  if (!extra.empty()) json += "," + std::string(extra);
  return json + "}";
}

ParseOptions AtReference() {
  ParseOptions options;
  options.reference_ts_ms = kTs;
  return options;
}

TEST_CASE("invalid UTF-8 anywhere is rejected, valid multi-byte text is not", "[schemas][hostile]") {
  for (std::string bad : {std::string("u\xff"), std::string("u\xc0\xaf"), std::string("u\xed\xa0\x80"),
                          std::string("u\xe2\x82"), std::string("\xf8\x88\x80\x80\x80")}) {
    INFO(bad.size());
    CHECK(CodeOf(ParseEvent(Event(bad, "i1"))) == "invalid_json");
    CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("note":")" + bad + "\""))) == "invalid_json");
  }
  CHECK(ValueOf(ParseEvent(Event("utilisateur-é-日本-🙂", "i1"))).user_id == "utilisateur-é-日本-🙂");
}

TEST_CASE("100,000-deep nesting is rejected without recursing", "[schemas][hostile]") {
  auto arrays = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  auto objects = [](int depth) {
    std::string json;
    for (int k = 0; k < depth; ++k) json += R"({"a":)";
    return json + "1" + std::string(depth, '}');
  };
  // 100,000 levels do not fit in 64 KiB: refused by size before parsing.
  CHECK(CodeOf(ParseEvent(arrays(100000))) == "message_too_large");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("context":)" + arrays(100000)))) == "message_too_large");
  // As deep as fits (30,000 levels, alone, as an ignored field, unterminated):
  // the SAX parser stops at level 65 with too_deep, so the depth costs no stack.
  CHECK(CodeOf(ParseEvent(arrays(30000))) == "not_an_object");  // judged at its first byte
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("context":)" + arrays(30000)))) == "too_deep");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("context":)" + objects(9000)))) == "too_deep");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("x":)" + std::string(60000, '[')))) == "too_deep");
  CHECK(CodeOf(ParseItem(R"({"item_id":"i","available":true,"extra":)" + arrays(30000) + "}")) == "too_deep");
  CHECK(CodeOf(ParseItem(R"({"item_id":"i","available":true,"tags":)" + arrays(30000) + "}")) == "wrong_type");
  // Just within the limit is fine.
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("context":)" + arrays(63)))) == "accepted");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("context":)" + arrays(64)))) == "too_deep");
}

TEST_CASE("huge and non-finite numbers are rejected where they matter", "[schemas][hostile]") {
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "1e308"))) == "timestamp_out_of_range");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "-1e308"))) == "timestamp_out_of_range");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "1e400"))) == "non_finite_number");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "9223372036854775808"))) == "timestamp_out_of_range");
  const std::string rating = R"({"user_id":"u","item_id":"i","type":"rating","ts":1732350000123,"value":)";
  CHECK(CodeOf(ParseEvent(rating + "1e400}")) == "non_finite_number");
  // 1e308 is a finite double: accepted at the parser; the learner bounds
  // every step's weighted error, so it cannot blow the model up
  // (tests/online_learner/isgd_model_test.cc).
  CHECK(ValueOf(ParseEvent(rating + "1e308}")).value == 1e308);
  // In an ignored field, an out-of-range number still makes the record bad.
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("x":1e999)"))) == "non_finite_number");
}

TEST_CASE("negative, pre-1990 and far-future timestamps are rejected", "[schemas][hostile]") {
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "-1"))) == "timestamp_out_of_range");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "-9223372036854775808"))) == "timestamp_out_of_range");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "631151999999"))) == "timestamp_out_of_range");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "631152000000"))) == "accepted");
  // Judged against the Kafka record's timestamp, never the wall clock.
  const ParseOptions at = AtReference();
  const int64_t day = 24LL * 3600 * 1000;
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", std::to_string(kTs + day)), at)) == "accepted");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", std::to_string(kTs + day + 1)), at)) == "timestamp_out_of_range");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "4102444800000"), at)) == "timestamp_out_of_range");  // 2100
  // Old events are legitimate (replays of historical logs).
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", "", "946684800000"), at)) == "accepted");
}

TEST_CASE("control characters and empty ids are rejected", "[schemas][hostile]") {
  for (const char* escaped : {"\\u0000", "\\u0001", "\\n", "\\t", "\\u001f", "\\u007f", "\\u0085", "\\u009f"}) {
    INFO(escaped);
    CHECK(CodeOf(ParseEvent(Event(std::string("u") + escaped, "i1"))) == "invalid_id");
    CHECK(CodeOf(ParseEvent(Event("u1", std::string("i") + escaped))) == "invalid_id");
  }
  CHECK(CodeOf(ParseEvent(Event(std::string("u\x01", 2), "i1"))) == "invalid_json");  // raw, unescaped
  CHECK(CodeOf(ParseEvent(Event("", "i1"))) == "empty_id");
  CHECK(CodeOf(ParseEvent(Event("u1", ""))) == "empty_id");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("event_id":"")"))) == "empty_id");
  // A control character in text that is not an id is fine.
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("note":"line\nbreak")"))) == "accepted");
}

TEST_CASE("duplicate keys are rejected, whichever spelling", "[schemas][hostile]") {
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("user_id":"u2")"))) == "duplicate_key");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("\u0075ser_id":"u2")"))) == "duplicate_key");
  CHECK(CodeOf(ParseEvent(Event("u1", "i1", R"("x":1,"x":2)"))) == "duplicate_key");
}

TEST_CASE("multi-megabyte inputs are refused by size before parsing", "[schemas][hostile]") {
  // A valid event padded to exactly the limit is accepted; one byte more is not.
  const std::string base = Event("u1", "i1", R"("pad":"")");
  std::string at_limit = Event("u1", "i1", R"("pad":")" + std::string(kMaxMessageBytes - base.size(), 'x') + "\"");
  REQUIRE(at_limit.size() == kMaxMessageBytes);
  CHECK(CodeOf(ParseEvent(at_limit)) == "accepted");
  std::string over = Event("u1", "i1", R"("pad":")" + std::string(kMaxMessageBytes - base.size() + 1, 'x') + "\"");
  CHECK(CodeOf(ParseEvent(over)) == "message_too_large");
  // Megabytes of anything: rejected by size, whatever the bytes (so neither
  // the nesting nor the invalid UTF-8 inside is ever looked at).
  for (const std::string& big : {std::string(8 << 20, '['), std::string(5 << 20, '\xff'),
                                 Event("u1", "i1", R"("pad":")" + std::string(3 << 20, 'x') + "\"")}) {
    CHECK(CodeOf(ParseEvent(big)) == "message_too_large");
    CHECK(CodeOf(ParseItem(big)) == "message_too_large");
  }
}

TEST_CASE("valid events between hostile ones still parse", "[schemas][hostile]") {
  const std::string hostile[] = {std::string(100000, '['), "\xff\xfe", Event("", "i"), Event("u", "i", "", "-1"),
                                 Event("u", "i", R"("u":1,"u":2)")};
  int accepted = 0;
  for (int k = 0; k < 50; ++k) {
    CHECK(CodeOf(ParseEvent(hostile[k % 5])) != "accepted");
    const auto& e = ValueOf(ParseEvent(Event("u" + std::to_string(k), "i1")));
    accepted += e.ts_ms == kTs;
  }
  CHECK(accepted == 50);
}

}  // namespace
}  // namespace streamrec::schemas
