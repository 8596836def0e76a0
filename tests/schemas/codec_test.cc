#include "streamrec/schemas/codec.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "schemas_test_helpers.h"
#include "streamrec/schemas/event.h"
#include "streamrec/schemas/reject_reason.h"

namespace streamrec::schemas {
namespace {

using testing::CodeOf;
using testing::RejectionOf;
using testing::ValueOf;

constexpr std::string_view kView =
    R"({"user_id":"u42","item_id":"sku-981","type":"view","ts":1732350000123})";

// An event with `fields` spliced in after the required ones.
std::string EventWith(std::string_view fields) {
  std::string json(kView);
  json.pop_back();
  json += ',';
  json += fields;
  json += '}';
  return json;
}

TEST_CASE("event type names are the wire names of DESIGN.md", "[schemas]") {
  const std::set<std::string_view> expected = {"impression", "view",   "click",   "add_to_cart",
                                               "purchase",   "rating", "dislike", "forget"};
  std::set<std::string_view> names;
  for (int i = 0; i < kEventTypeCount; ++i) {
    const auto type = static_cast<EventType>(i);
    names.insert(EventTypeName(type));
    CHECK(EventTypeFromName(EventTypeName(type)) == type);
  }
  CHECK(names == expected);
  CHECK(EventTypeName(EventType::kAddToCart) == "add_to_cart");
  CHECK_FALSE(EventTypeFromName("View"));
  CHECK_FALSE(EventTypeFromName(""));
}

TEST_CASE("reject reasons have unique snake_case codes and messages", "[schemas]") {
  std::set<std::string_view> codes;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const auto reason = static_cast<RejectReason>(i);
    const std::string_view code = RejectCode(reason);
    INFO(code);
    CHECK(codes.insert(code).second);
    CHECK(code.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    CHECK_FALSE(RejectMessage(reason).empty());
  }
  CHECK(RejectCode(RejectReason::kMissingField) == "missing_field");
  CHECK(Rejection{RejectReason::kMissingField, "field 'user_id'"}.ToString() ==
        "a required field is missing: field 'user_id'");
  CHECK(Rejection{RejectReason::kTooDeep, ""}.ToString() == "JSON nesting is deeper than allowed");
}

TEST_CASE("a DESIGN.md event parses into every field", "[schemas]") {
  const Event event = ValueOf(
      ParseEvent(R"({"user_id":"u42","item_id":"sku-981","type":"purchase","ts":1732350000123,)"
                 R"("event_id":"e-1","value":4.5,"context":{"page":"home"}})"));
  CHECK(event.user_id == "u42");
  CHECK(event.item_id == "sku-981");
  CHECK(event.type == EventType::kPurchase);
  CHECK(event.ts_ms == 1732350000123);
  CHECK(event.event_id == "e-1");
  CHECK(event.value == 4.5);

  const Event forget =
      ValueOf(ParseEvent(R"({"user_id":"u42","type":"forget","ts":1732350000123})"));
  CHECK(forget.type == EventType::kForget);
  CHECK(forget.item_id.empty());
  CHECK_FALSE(forget.event_id);
  CHECK_FALSE(forget.value);
}

TEST_CASE("every reject reason, with the detail it carries", "[schemas]") {
  const auto rejection = [](std::string_view json) { return RejectionOf(ParseEvent(json)); };

  SECTION("invalid_json") {
    const Rejection r = rejection(R"({"user_id":"u42",)");
    CHECK(r.reason == RejectReason::kInvalidJson);
    CHECK(r.detail.find("parse error") != std::string::npos);
    CHECK(rejection("").reason == RejectReason::kInvalidJson);
    CHECK(rejection(std::string(kView) + "x").reason == RejectReason::kInvalidJson);
    CHECK(rejection(EventWith(R"("value":NaN)")).reason == RejectReason::kInvalidJson);
    // Raw bytes of the input never reach the detail unescaped.
    const Rejection bad_utf8 = rejection("{\"user_id\":\"\xff\x01\"}");
    CHECK(bad_utf8.reason == RejectReason::kInvalidJson);
    for (const char c : bad_utf8.detail) {
      CHECK((c >= 0x20 && c < 0x7F));
    }
  }
  SECTION("not_an_object") {
    CHECK(rejection("[]").reason == RejectReason::kNotAnObject);
    CHECK(rejection(R"("u42")") ==
          Rejection{RejectReason::kNotAnObject, "the message is a string"});
    CHECK(rejection("17").reason == RejectReason::kNotAnObject);
  }
  SECTION("missing_field") {
    CHECK(rejection(R"({"item_id":"i","type":"view","ts":1732350000123})") ==
          Rejection{RejectReason::kMissingField, "field 'user_id'"});
    CHECK(rejection(R"({"user_id":"u","item_id":"i","ts":1732350000123})") ==
          Rejection{RejectReason::kMissingField, "field 'type'"});
    CHECK(rejection(R"({"user_id":"u","item_id":"i","type":"view"})") ==
          Rejection{RejectReason::kMissingField, "field 'ts'"});
    CHECK(rejection(R"({"user_id":"u","type":"click","ts":1732350000123})") ==
          Rejection{RejectReason::kMissingField, "field 'item_id'"});
  }
  SECTION("wrong_type") {
    CHECK(rejection(R"({"user_id":42})") ==
          Rejection{RejectReason::kWrongType, "field 'user_id': expected string, got number 42"});
    CHECK(rejection(R"({"user_id":{"id":"u"}})") ==
          Rejection{RejectReason::kWrongType, "field 'user_id': expected string, got object"});
    CHECK(rejection(R"({"ts":"1732350000123"})").reason == RejectReason::kWrongType);
    CHECK(
        rejection(R"({"ts":1732350000123.5})") ==
        Rejection{
            RejectReason::kWrongType,
            "field 'ts': expected integer (ms since the Unix epoch), got number 1732350000123.5"});
    CHECK(rejection(EventWith(R"("value":"4.5")")).reason == RejectReason::kWrongType);
    CHECK(rejection(EventWith(R"("value":null)")).reason == RejectReason::kWrongType);
    CHECK(rejection(EventWith(R"("event_id":[1])")).reason == RejectReason::kWrongType);
    CHECK(rejection(R"({"type":true})").reason == RejectReason::kWrongType);
  }
  SECTION("id_too_long") {
    CHECK(rejection(R"({"user_id":")" + std::string(300, 'u') + R"("})") ==
          Rejection{RejectReason::kIdTooLong, "field 'user_id': 300 bytes > 256"});
    // Bytes, not characters: 129 two-byte characters are 258 bytes.
    std::string two_byte;
    for (int i = 0; i < 129; ++i) two_byte += "\xC3\xA9";
    CHECK(rejection(R"({"item_id":")" + two_byte + R"("})").reason == RejectReason::kIdTooLong);
  }
  SECTION("empty_id") {
    CHECK(rejection(R"({"user_id":""})") == Rejection{RejectReason::kEmptyId, "field 'user_id'"});
    CHECK(rejection(EventWith(R"("event_id":"")")).reason == RejectReason::kEmptyId);
  }
  SECTION("invalid_id") {
    CHECK(
        rejection(R"({"user_id":"u\u0001"})") ==
        Rejection{RejectReason::kInvalidId, "field 'user_id': control character U+0001 at byte 1"});
    CHECK(rejection(R"({"item_id":"a\nb"})").reason == RejectReason::kInvalidId);
    CHECK(rejection(R"({"item_id":"\u007f"})").reason == RejectReason::kInvalidId);
    CHECK(
        rejection(R"({"item_id":"x\u0085"})") ==
        Rejection{RejectReason::kInvalidId, "field 'item_id': control character U+0085 at byte 1"});
  }
  SECTION("message_too_large") {
    std::string big = EventWith(R"("pad":")");
    big.pop_back();
    big += std::string(kMaxMessageBytes + 1 - big.size() - 2, 'x') + "\"}";
    REQUIRE(big.size() == kMaxMessageBytes + 1);
    CHECK(rejection(big) == Rejection{RejectReason::kMessageTooLarge, "65537 bytes > 65536"});
    big.erase(big.size() - 3, 1);
    CHECK(CodeOf(ParseEvent(big)) == "accepted");
  }
  SECTION("non_finite_number") {
    const Rejection r = rejection(EventWith(R"("value":1e400)"));
    CHECK(r.reason == RejectReason::kNonFiniteNumber);
    CHECK(r.detail == "number overflow parsing '1e400' in field \"value\"");
    CHECK(rejection(EventWith(R"("value":-1e400)")).reason == RejectReason::kNonFiniteNumber);
    // Even in a field the parser otherwise ignores: no number may become inf.
    CHECK(rejection(EventWith(R"("context":{"x":[1e999]})")).reason ==
          RejectReason::kNonFiniteNumber);
  }
  SECTION("unknown_event_type") {
    const Rejection r =
        rejection(R"({"user_id":"u","item_id":"i","type":"clik","ts":1732350000123})");
    CHECK(r.reason == RejectReason::kUnknownEventType);
    CHECK(r.detail ==
          "field 'type': \"clik\" is not one of impression, view, click, add_to_cart, purchase, "
          "rating, dislike, forget");
  }
  SECTION("timestamp_out_of_range") {
    CHECK(rejection(R"({"ts":631151999999})") ==
          Rejection{RejectReason::kTimestampOutOfRange,
                    "field 'ts': 631151999999 < 631152000000 (1990-01-01)"});
    CHECK(rejection(R"({"ts":-5})").reason == RejectReason::kTimestampOutOfRange);
    CHECK(rejection(R"({"ts":9223372036854775808})").reason == RejectReason::kTimestampOutOfRange);
    CHECK(rejection(R"({"ts":-9223372036854775809})").reason == RejectReason::kTimestampOutOfRange);
    CHECK(rejection(R"({"ts":1e30})").reason == RejectReason::kTimestampOutOfRange);
  }
  SECTION("missing_value") {
    CHECK(rejection(R"({"user_id":"u","item_id":"i","type":"rating","ts":1732350000123})") ==
          Rejection{RejectReason::kMissingValue, "field 'value' in a rating event"});
  }
  SECTION("unexpected_item") {
    CHECK(rejection(R"({"user_id":"u","item_id":"i","type":"forget","ts":1732350000123})").reason ==
          RejectReason::kUnexpectedItem);
    // The type may come after the item: the rule is checked once all is read.
    CHECK(rejection(R"({"item_id":"i","user_id":"u","ts":1732350000123,"type":"forget"})").reason ==
          RejectReason::kUnexpectedItem);
  }
  SECTION("duplicate_key") {
    CHECK(rejection(EventWith(R"("user_id":"u43")")) ==
          Rejection{RejectReason::kDuplicateKey, "key \"user_id\" appears twice"});
    // Escapes are decoded before keys are compared.
    CHECK(rejection(EventWith(R"("t\u0073":1)")).reason == RejectReason::kDuplicateKey);
    CHECK(rejection(EventWith(R"("x":1,"x":2)")).reason == RejectReason::kDuplicateKey);
  }
  SECTION("too_deep") {
    CHECK(rejection(EventWith(R"("context":)" + std::string(64, '[') + std::string(64, ']'))) ==
          Rejection{RejectReason::kTooDeep, "more than 64 nested objects or arrays"});
    CHECK(CodeOf(ParseEvent(EventWith(R"("context":)" + std::string(63, '[') +
                                      std::string(63, ']')))) == "accepted");
  }
  SECTION("too_many_entries") {
    std::string embedding = "0";
    for (size_t i = 1; i <= kMaxEmbeddingEntries; ++i) embedding += ",0";
    const Rejection r =
        RejectionOf(ParseItem(R"({"item_id":"i","embedding":[)" + embedding + "]}"));
    CHECK(r ==
          Rejection{RejectReason::kTooManyEntries, "field 'embedding': more than 4096 entries"});
  }
}

TEST_CASE("hostile nesting is rejected without recursion", "[schemas]") {
  // 100,000 levels: far beyond any stack a recursive parser could afford.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(CodeOf(ParseEvent(deep)) == "message_too_large");
  // The deepest nesting that fits the size limit, in a field that is ignored,
  // and unterminated as well.
  const std::string prefix = EventWith(R"("context":)");
  std::string nested = prefix.substr(0, prefix.size() - 1);
  nested += std::string(kMaxMessageBytes - nested.size(), '[');
  CHECK(CodeOf(ParseEvent(nested)) == "too_deep");
  CHECK(CodeOf(ParseItem(R"({"item_id":"i","x":)" + std::string(60000, '['))) == "too_deep");
  CHECK(CodeOf(ParseRecommendationList(std::string(60000, '['))) == "not_an_object");
}

TEST_CASE("unknown fields are ignored whatever they hold", "[schemas]") {
  // Keys inside context that look like top-level fields must not count.
  const Event event = ValueOf(ParseEvent(
      R"({"context":{"user_id":"evil","type":"forget","ts":"x","user_id":1},"user_id":"u1",)"
      R"("list":[{"item_id":null},[[]],"s",1e300,-12345678901234567890123],"n":null,"b":false,)"
      R"("item_id":"i1","type":"view","ts":1732350000123})"));
  CHECK(event.user_id == "u1");
  CHECK(event.item_id == "i1");
  CHECK(event.type == EventType::kView);
}

TEST_CASE("ts: integers, integral floats and the reference timestamp", "[schemas]") {
  const auto ts = [](std::string_view text, const ParseOptions& options = {}) {
    return ParseEvent(
        R"({"user_id":"u","item_id":"i","type":"view","ts":)" + std::string(text) + "}", options);
  };
  CHECK(ValueOf(ts("1.7e12")).ts_ms == 1700000000000);
  CHECK(ValueOf(ts("1732350000123.0")).ts_ms == 1732350000123);
  CHECK(ValueOf(ts("631152000000")).ts_ms == kMinTimestampMs);
  CHECK(ValueOf(ts("9223372036854775807")).ts_ms == std::numeric_limits<int64_t>::max());
  // Old timestamps are legitimate (replays); nothing is judged by the wall clock.
  CHECK(ValueOf(ts("828124615000")).ts_ms == 828124615000);

  ParseOptions options;
  options.reference_ts_ms = 1732350000000;
  CHECK(options.max_future_skew_ms == 86400000);
  CHECK(CodeOf(ts("1732436400000", options)) == "accepted");  // exactly one day ahead
  CHECK(RejectionOf(ts("1732436400001", options)) ==
        Rejection{RejectReason::kTimestampOutOfRange,
                  "field 'ts': 1732436400001 is more than 86400000 ms ahead of the message "
                  "timestamp 1732350000000"});
  CHECK(CodeOf(ts("631152000000", options)) == "accepted");  // far in the past is fine

  options.reference_ts_ms = std::numeric_limits<int64_t>::max() - 5;  // the sum would overflow
  CHECK(CodeOf(ts("9223372036854775807", options)) == "accepted");
  options.reference_ts_ms = 1732350000000;
  options.max_future_skew_ms = 0;
  CHECK(CodeOf(ts("1732350000001", options)) == "timestamp_out_of_range");
}

TEST_CASE("value: any finite number", "[schemas]") {
  const auto value = [](std::string_view text) {
    const auto parsed =
        ParseEvent(R"({"user_id":"u","item_id":"i","type":"rating","ts":1732350000123,"value":)" +
                   std::string(text) + "}");
    return *ValueOf(parsed).value;
  };
  CHECK(value("4") == 4.0);
  CHECK(value("-0.5") == -0.5);
  CHECK(value("18446744073709551615") == 18446744073709551615.0);
  CHECK(value("1.7976931348623157e308") == std::numeric_limits<double>::max());
  CHECK(value("1e-400") == 0.0);  // underflow is finite: it reads as 0
}

TEST_CASE("CheckId for ids that arrive outside JSON", "[schemas]") {
  CHECK_FALSE(CheckId("user", "u42"));
  CHECK_FALSE(CheckId("user", "\xE7\x94\xA8\xE6\x88\xB7 \xF0\x9F\x8E\xA7"));  // "用户 🎧"
  CHECK_FALSE(CheckId("user", std::string(kMaxIdBytes, 'x')));
  CHECK(CheckId("user", std::string(kMaxIdBytes + 1, 'x'))->reason == RejectReason::kIdTooLong);
  CHECK(CheckId("user", "")->reason == RejectReason::kEmptyId);
  CHECK(*CheckId("user", "ab\xFF") ==
        Rejection{RejectReason::kInvalidId, "field 'user': invalid UTF-8 at byte 2"});
  CHECK(CheckId("user", "\xC0\xAF")->reason == RejectReason::kInvalidId);          // overlong
  CHECK(CheckId("user", "\xED\xA0\x80")->reason == RejectReason::kInvalidId);      // surrogate
  CHECK(CheckId("user", "\xF4\x90\x80\x80")->reason == RejectReason::kInvalidId);  // > U+10FFFF
  CHECK(CheckId("user", "\xE2\x82")->reason == RejectReason::kInvalidId);          // truncated
  CHECK(CheckId("user", std::string("a\0b", 3))->reason == RejectReason::kInvalidId);
  CHECK(CheckId("user", "\xC2\x9F")->reason == RejectReason::kInvalidId);  // C1 control
  CHECK_FALSE(CheckId("user", "\xC2\xA0"));  // U+00A0 is not a control character
}

TEST_CASE("items: defaults, fields and precise paths in details", "[schemas]") {
  const Item minimal = ValueOf(ParseItem(R"({"item_id":"sku-7"})"));
  CHECK(minimal == Item{"sku-7", true, std::nullopt, {}, {}});

  const Item full = ValueOf(
      ParseItem(R"({"item_id":"sku-7","available":false,"title":"T\n\"x\"","tags":["a","b"],)"
                R"("embedding":[0.25,-1,3e-7,1e-50],"price":{"eur":1}})"));
  CHECK_FALSE(full.available);
  CHECK(full.title == "T\n\"x\"");
  CHECK(full.tags == std::vector<std::string>{"a", "b"});
  CHECK(full.embedding == std::vector<float>{0.25f, -1.0f, 3e-7f, 0.0f});

  CHECK(RejectionOf(ParseItem(R"({"available":true})")) ==
        Rejection{RejectReason::kMissingField, "field 'item_id'"});
  CHECK(RejectionOf(ParseItem(R"({"item_id":"i","tags":["a",7]})")) ==
        Rejection{RejectReason::kWrongType, "field 'tags[1]': expected string, got number 7"});
  CHECK(RejectionOf(ParseItem(R"({"item_id":"i","tags":"a"})")) ==
        Rejection{RejectReason::kWrongType, "field 'tags': expected array of strings, got string"});
  CHECK(RejectionOf(ParseItem(R"({"item_id":"i","embedding":[1,[2]]})")) ==
        Rejection{RejectReason::kWrongType, "field 'embedding[1]': expected number, got array"});
  CHECK(RejectionOf(ParseItem(R"({"item_id":"i","embedding":[1,3.5e38]})")) ==
        Rejection{RejectReason::kNonFiniteNumber,
                  "field 'embedding[1]': 3.5e38 is beyond float's range"});
  CHECK(CodeOf(ParseItem(R"({"item_id":"i","available":1})")) == "wrong_type");
  CHECK(CodeOf(ParseItem(R"({"item_id":"i","item_id":"j"})")) == "duplicate_key");
  CHECK(CodeOf(ParseItem("[]")) == "not_an_object");
}

TEST_CASE("recommendation lists: DESIGN.md shape and entry paths", "[schemas]") {
  const RecommendationList list = ValueOf(ParseRecommendationList(
      R"({"user_id":"u42","items":[{"item_id":"sku-7","score":0.83},{"item_id":"sku-9","score":1}],)"
      R"("generated_at":1732350000456,"source_event_ts":1732350000123,"model":"isgd","seq":118})"));
  CHECK(list.user_id == "u42");
  CHECK(list.items == std::vector<ScoredItem>{{"sku-7", 0.83f}, {"sku-9", 1.0f}});
  CHECK(list.generated_at_ms == 1732350000456);
  CHECK(list.source_event_ts_ms == 1732350000123);
  CHECK(list.model == "isgd");
  CHECK(list.seq == 118);

  const auto with_items = [](std::string_view items) {
    return ParseRecommendationList(R"({"user_id":"u","items":)" + std::string(items) +
                                   R"(,"generated_at":1,"source_event_ts":1,"model":"m","seq":1})");
  };
  CHECK(RejectionOf(with_items(R"([{"item_id":"a","score":1},{"item_id":"b"}])")) ==
        Rejection{RejectReason::kMissingField, "field 'items[1].score'"});
  CHECK(RejectionOf(with_items(R"([{"item_id":"a","score":1},"b"])")) ==
        Rejection{RejectReason::kWrongType, "field 'items[1]': expected object, got string"});
  CHECK(RejectionOf(with_items(R"([{"item_id":"a","score":{}}])")) ==
        Rejection{RejectReason::kWrongType, "field 'items[0].score': expected number, got object"});
  CHECK(RejectionOf(with_items(R"([{"item_id":"a","item_id":"b","score":1}])")) ==
        Rejection{RejectReason::kDuplicateKey, "key \"item_id\" appears twice in items[0]"});
  CHECK(CodeOf(with_items(R"([{"item_id":"","score":1}])")) == "empty_id");
  CHECK(CodeOf(with_items(R"([{"item_id":"a","score":1e39}])")) == "non_finite_number");
  CHECK(CodeOf(with_items(R"({})")) == "wrong_type");
  CHECK(CodeOf(with_items(R"([{"item_id":"a","score":1,"why":[{"x":1}]}])")) == "accepted");
  CHECK(CodeOf(ParseRecommendationList(R"({"user_id":"u","items":[]})")) == "missing_field");

  const auto with_seq = [](std::string_view seq) {
    return ParseRecommendationList(
        R"({"user_id":"u","items":[],"generated_at":1,"source_event_ts":1,"model":"m","seq":)" +
        std::string(seq) + "}");
  };
  CHECK(ValueOf(with_seq("18446744073709551615")).seq == std::numeric_limits<uint64_t>::max());
  CHECK(CodeOf(with_seq("-1")) == "wrong_type");
  CHECK(CodeOf(with_seq("18446744073709551616")) == "wrong_type");
  CHECK(CodeOf(with_seq("2.5")) == "wrong_type");
}

TEST_CASE("serialisation: compact, DESIGN.md field order, optional fields left out", "[schemas]") {
  Event event{"u42", "sku-981", EventType::kPurchase, 1732350000123, "e-1", 4.5};
  CHECK(SerializeEvent(event) ==
        R"({"user_id":"u42","item_id":"sku-981","type":"purchase","ts":1732350000123,)"
        R"("event_id":"e-1","value":4.5})");
  event.event_id.reset();
  event.value.reset();
  CHECK(SerializeEvent(event) ==
        R"({"user_id":"u42","item_id":"sku-981","type":"purchase","ts":1732350000123})");
  CHECK(
      SerializeEvent({"u42", "", EventType::kForget, 1732350000123, std::nullopt, std::nullopt}) ==
      R"({"user_id":"u42","type":"forget","ts":1732350000123})");

  CHECK(SerializeItem({"sku-7", true, std::nullopt, {}, {}}) ==
        R"({"item_id":"sku-7","available":true})");
  CHECK(SerializeItem({"sku-7", false, "T", {"a", "b"}, {0.25f, -1.0f, 0.1f}}) ==
        R"({"item_id":"sku-7","available":false,"title":"T","tags":["a","b"],)"
        R"("embedding":[0.25,-1,0.1]})");

  const RecommendationList list{
      "u42", {{"sku-7", 0.83f}, {"sku-9", 0.5f}}, 1732350000456, 1732350000123, "isgd", 118};
  CHECK(
      SerializeRecommendationList(list) ==
      R"({"user_id":"u42","items":[{"item_id":"sku-7","score":0.83},{"item_id":"sku-9","score":0.5}],)"
      R"("generated_at":1732350000456,"source_event_ts":1732350000123,"model":"isgd","seq":118})");
}

TEST_CASE("serialisation always writes valid JSON", "[schemas]") {
  Event event{"q\"b\\s/\x01\x1f\x7f", "\xC3\xA9\xF0\x9F\x8E\xA7",
              EventType::kRating,     1732350000123,
              std::nullopt,           -0.0};
  const std::string json = SerializeEvent(event);
  CHECK(json ==
        "{\"user_id\":\"q\\\"b\\\\s/\\u0001\\u001f\x7f\",\"item_id\":\"\xC3\xA9\xF0\x9F\x8E\xA7\","
        "\"type\":\"rating\",\"ts\":1732350000123,\"value\":-0.0}");
  // Bytes that are not UTF-8 become U+FFFD; non-finite numbers become null,
  // which the reader then rejects instead of choking on broken JSON.
  event.user_id =
      "a\xFF"
      "b";
  event.value = std::nan("");
  const std::string lossy = SerializeEvent(event);
  CHECK(lossy.find("\"a\xEF\xBF\xBD"
                   "b\"") != std::string::npos);
  CHECK(lossy.find("\"value\":null") != std::string::npos);
  CHECK(CodeOf(ParseEvent(lossy)) == "wrong_type");
  CHECK(SerializeItem({"i", true, std::nullopt, {}, {std::numeric_limits<float>::infinity()}})
            .find("[null]") != std::string::npos);
}

}  // namespace
}  // namespace streamrec::schemas
