// Property test: for many generated messages (seeded, so failures replay),
// Parse(Serialize(x)) == x bit for bit, the text is canonical (serialising
// the parsed message gives the same bytes) and an independent JSON reader
// (nlohmann's DOM) reads the same strings and numbers back.

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "schemas_test_helpers.h"
#include "streamrec/schemas/codec.h"

namespace streamrec::schemas {
namespace {

using testing::ValueOf;

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  // Valid ids: up to `max_bytes`, mixing ASCII (quotes, backslashes, slashes)
  // with 2-, 3- and 4-byte characters and U+2028, never a control character.
  std::string Id(size_t max_bytes = kMaxIdBytes) {
    static const std::vector<std::string> kPieces = {
        "a",
        "Z",
        "0",
        "-",
        "_",
        " ",
        "\"",
        "\\",
        "/",
        "'",
        "{",
        "}",
        ":",
        ",",
        "\xC3\xA9",
        "\xC2\xA0",
        "\xE4\xB8\xAD",
        "\xE2\x80\xA8",
        "\xEF\xBF\xBD",
        "\xF0\x9F\x8E\xA7",
    };
    // Half the ids are short (as in real data), a few fill the limit exactly.
    const size_t target = Chance(0.1) ? max_bytes : Uniform(1, Chance(0.5) ? 12 : max_bytes);
    std::string id;
    while (true) {
      const std::string& piece = kPieces[Uniform(0, kPieces.size() - 1)];
      if (id.size() + piece.size() > target) break;
      id += piece;
    }
    return id.empty() ? "x" : id;
  }

  // Free text (titles, tags): any valid UTF-8, control characters included.
  std::string Text() {
    if (Chance(0.05)) return "";
    std::string text;
    for (size_t i = Uniform(1, 6); i > 0; --i) {
      text += Id(16);
      text += Chance(0.2) ? '\x7f' : static_cast<char>(Uniform(0, 0x1F));
    }
    return text;
  }

  double Double() {
    static const std::vector<double> kSpecial = {0.0,
                                                 -0.0,
                                                 4.5,
                                                 1.0,
                                                 -1.0,
                                                 0.1,
                                                 1e22,
                                                 123456789.0,
                                                 std::numeric_limits<double>::max(),
                                                 std::numeric_limits<double>::lowest(),
                                                 std::numeric_limits<double>::min(),
                                                 std::numeric_limits<double>::denorm_min(),
                                                 9007199254740993.0};
    if (Chance(0.3)) return kSpecial[Uniform(0, kSpecial.size() - 1)];
    if (Chance(0.3)) return static_cast<double>(Uniform(0, 10)) / 2;  // ratings
    while (true) {
      const double value = std::bit_cast<double>(static_cast<uint64_t>(rng_()));
      if (std::isfinite(value)) return value;
    }
  }

  float Float() {
    static const std::vector<float> kSpecial = {0.0f,
                                                -0.0f,
                                                0.83f,
                                                1.0f,
                                                0.1f,
                                                std::numeric_limits<float>::max(),
                                                std::numeric_limits<float>::lowest(),
                                                std::numeric_limits<float>::min(),
                                                std::numeric_limits<float>::denorm_min(),
                                                16777217.0f,
                                                3e-7f};
    if (Chance(0.3)) return kSpecial[Uniform(0, kSpecial.size() - 1)];
    if (Chance(0.3)) return std::uniform_real_distribution<float>(-1, 1)(rng_);
    while (true) {
      const float value = std::bit_cast<float>(static_cast<uint32_t>(rng_()));
      if (std::isfinite(value)) return value;
    }
  }

  Event MakeEvent() {
    Event event;
    event.type = static_cast<EventType>(Uniform(0, kEventTypeCount - 1));
    event.user_id = Id();
    if (event.type != EventType::kForget) event.item_id = Id();
    event.ts_ms = Chance(0.2) ? std::numeric_limits<int64_t>::max()
                              : static_cast<int64_t>(Uniform(kMinTimestampMs, 4102444800000));
    if (Chance(0.5)) event.event_id = Id();
    if (event.type == EventType::kRating || Chance(0.2)) event.value = Double();
    return event;
  }

  Item MakeItem() {
    Item item;
    item.item_id = Id();
    item.available = Chance(0.7);
    if (Chance(0.6)) item.title = Text();
    for (size_t i = Uniform(0, 5); i > 0; --i) item.tags.push_back(Text());
    const size_t dim = Chance(0.05) ? 2000 : Uniform(0, 64);
    for (size_t i = 0; i < dim; ++i) item.embedding.push_back(Float());
    return item;
  }

  RecommendationList MakeList() {
    RecommendationList list;
    list.user_id = Id();
    for (size_t i = Uniform(0, 50); i > 0; --i) list.items.push_back({Id(40), Float()});
    list.generated_at_ms = static_cast<int64_t>(Uniform(0, std::numeric_limits<int64_t>::max()));
    list.source_event_ts_ms = static_cast<int64_t>(Uniform(0, std::numeric_limits<int64_t>::max()));
    list.model = Chance(0.5) ? "isgd" : Id(16);
    list.seq = Chance(0.1) ? std::numeric_limits<uint64_t>::max() : rng_();
    return list;
  }

 private:
  uint64_t Uniform(uint64_t low, uint64_t high) {
    return std::uniform_int_distribution<uint64_t>(low, high)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  std::mt19937_64 rng_;
};

// operator== treats 0.0 and -0.0 as equal; the round trip keeps the bits.
bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}
bool SameBits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

TEST_CASE("round trip: events", "[schemas]") {
  Generator generator(20241123);
  for (int i = 0; i < 3000; ++i) {
    const Event event = generator.MakeEvent();
    const std::string json = SerializeEvent(event);
    INFO("message " << i << ": " << json);
    const auto parsed = ParseEvent(json);
    const Event& back = ValueOf(parsed);
    REQUIRE(back == event);
    if (event.value) REQUIRE(SameBits(*back.value, *event.value));
    REQUIRE(SerializeEvent(back) == json);

    const auto dom = nlohmann::json::parse(json);
    REQUIRE(dom.at("user_id").get<std::string>() == event.user_id);
    REQUIRE(dom.at("ts").get<int64_t>() == event.ts_ms);
    if (event.value) REQUIRE(dom.at("value").get<double>() == *event.value);
  }
}

TEST_CASE("round trip: items", "[schemas]") {
  Generator generator(7);
  for (int i = 0; i < 1000; ++i) {
    const Item item = generator.MakeItem();
    const std::string json = SerializeItem(item);
    INFO("message " << i << ": " << json.substr(0, 300));
    const auto parsed = ParseItem(json);
    const Item& back = ValueOf(parsed);
    REQUIRE(back == item);
    for (size_t k = 0; k < item.embedding.size(); ++k) {
      REQUIRE(SameBits(back.embedding[k], item.embedding[k]));
    }
    REQUIRE(SerializeItem(back) == json);

    const auto dom = nlohmann::json::parse(json);
    if (item.title) REQUIRE(dom.at("title").get<std::string>() == *item.title);
    if (!item.tags.empty()) REQUIRE(dom.at("tags").get<std::vector<std::string>>() == item.tags);
  }
}

TEST_CASE("round trip: recommendation lists", "[schemas]") {
  Generator generator(118);
  for (int i = 0; i < 1000; ++i) {
    const RecommendationList list = generator.MakeList();
    const std::string json = SerializeRecommendationList(list);
    INFO("message " << i << ": " << json.substr(0, 300));
    const auto parsed = ParseRecommendationList(json);
    const RecommendationList& back = ValueOf(parsed);
    REQUIRE(back == list);
    for (size_t k = 0; k < list.items.size(); ++k) {
      REQUIRE(SameBits(back.items[k].score, list.items[k].score));
    }
    REQUIRE(SerializeRecommendationList(back) == json);
    REQUIRE(nlohmann::json::parse(json).at("seq").get<uint64_t>() == list.seq);
  }
}

TEST_CASE("round trip: every float through shortest text, read as float", "[schemas]") {
  // A float score written in its shortest form must come back as the same
  // float. Sample the whole bit space with a stride, plus the neighbourhood of
  // powers of two where rounding is most delicate.
  std::vector<float> samples;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 65521) {
    samples.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  }
  for (int exponent = -126; exponent < 128; ++exponent) {
    const float power = std::ldexp(1.0f, exponent);
    samples.push_back(std::nextafter(power, 0.0f));
    samples.push_back(power);
    samples.push_back(std::nextafter(power, std::numeric_limits<float>::infinity()));
  }
  RecommendationList list{"u", {}, 0, 0, "m", 0};
  for (const float value : samples) {
    if (!std::isfinite(value)) continue;
    list.items.push_back({"i", value});
    if (list.items.size() == 500) {
      const auto parsed = ParseRecommendationList(SerializeRecommendationList(list));
      const auto& back = ValueOf(parsed);
      for (size_t k = 0; k < list.items.size(); ++k) {
        INFO(list.items[k].score);
        REQUIRE(SameBits(back.items[k].score, list.items[k].score));
      }
      list.items.clear();
    }
  }
}

}  // namespace
}  // namespace streamrec::schemas
