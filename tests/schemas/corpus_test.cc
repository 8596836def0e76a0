// The parser against the message corpus under tests/schemas/corpus/: every
// file in valid/ is accepted; every file in invalid/ and invalid_parser_only/
// is rejected with the code its name starts with ("missing_field-user_id.json"
// -> missing_field). check_json_schema.py holds the JSON Schemas to the same
// files, so the two agree.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "schemas_test_helpers.h"
#include "streamrec/schemas/codec.h"
#include "support/test_support.h"

namespace streamrec::schemas {
namespace {

namespace fs = std::filesystem;
using testing::CodeOf;

// The Kafka timestamp the event corpus is judged against (2024-11-23T08:20Z).
constexpr int64_t kCorpusReferenceTsMs = 1732350000000;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> CorpusFiles(const std::string& kind, const std::string& folder) {
  const fs::path dir =
      streamrec::testing::SourceDir() / "tests" / "schemas" / "corpus" / kind / folder;
  std::vector<fs::path> files;
  if (fs::is_directory(dir)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Checks one kind's corpus with `parse` (returns the code or "accepted") and
// adds the codes seen to `codes`. Returns how many invalid files there were.
size_t CheckCorpus(const std::string& kind,
                   const std::function<std::string(const std::string&)>& parse,
                   std::set<std::string>& codes) {
  const auto valid = CorpusFiles(kind, "valid");
  CHECK_FALSE(valid.empty());
  for (const auto& path : valid) {
    INFO(path.string());
    CHECK(parse(ReadFile(path)) == "accepted");
  }
  size_t invalid_count = 0;
  for (const std::string folder : {"invalid", "invalid_parser_only"}) {
    const auto invalid = CorpusFiles(kind, folder);
    CHECK_FALSE(invalid.empty());
    for (const auto& path : invalid) {
      const std::string name = path.stem().string();
      const std::string expected = name.substr(0, name.find('-'));
      INFO(path.string());
      CHECK(parse(ReadFile(path)) == expected);
      codes.insert(expected);
      ++invalid_count;
    }
  }
  return invalid_count;
}

TEST_CASE("the corpus: valid messages pass, invalid ones fail with the code in their name",
          "[schemas]") {
  std::set<std::string> codes;
  ParseOptions options;
  options.reference_ts_ms = kCorpusReferenceTsMs;
  const size_t invalid_events = CheckCorpus(
      "events", [&](const std::string& json) { return CodeOf(ParseEvent(json, options)); }, codes);
  CHECK(invalid_events >= 25);
  // Without a reference timestamp (log files) only the far-future files pass.
  for (const auto& path : CorpusFiles("events", "invalid_parser_only")) {
    if (path.stem().string().starts_with("timestamp_out_of_range-far_future")) {
      CHECK(CodeOf(ParseEvent(ReadFile(path))) == "accepted");
    }
  }
  CheckCorpus(
      "items", [](const std::string& json) { return CodeOf(ParseItem(json)); }, codes);
  CheckCorpus(
      "recommendations",
      [](const std::string& json) { return CodeOf(ParseRecommendationList(json)); }, codes);

  // Every reason of the table is exercised by at least one corpus message.
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const std::string code(RejectCode(static_cast<RejectReason>(i)));
    INFO("no corpus file named " << code << "-*.json");
    CHECK(codes.count(code) == 1);
  }
}

TEST_CASE("valid corpus messages survive a serialise-parse round trip", "[schemas]") {
  ParseOptions options;
  options.reference_ts_ms = kCorpusReferenceTsMs;
  for (const auto& path : CorpusFiles("events", "valid")) {
    INFO(path.string());
    const auto parsed = ParseEvent(ReadFile(path), options);
    const Event& event = testing::ValueOf(parsed);
    CHECK(testing::ValueOf(ParseEvent(SerializeEvent(event), options)) == event);
  }
  for (const auto& path : CorpusFiles("items", "valid")) {
    INFO(path.string());
    const auto parsed = ParseItem(ReadFile(path));
    const Item& item = testing::ValueOf(parsed);
    CHECK(testing::ValueOf(ParseItem(SerializeItem(item))) == item);
  }
  for (const auto& path : CorpusFiles("recommendations", "valid")) {
    INFO(path.string());
    const auto parsed = ParseRecommendationList(ReadFile(path));
    const RecommendationList& list = testing::ValueOf(parsed);
    CHECK(testing::ValueOf(ParseRecommendationList(SerializeRecommendationList(list))) == list);
  }
}

// A cheap in-test fuzzer (run it under the asan-ubsan preset): corpus
// messages with bytes flipped, inserted, removed or cut off never crash the
// parser, and whatever it accepts is a valid event that round-trips.
TEST_CASE("mutated corpus messages are parsed safely", "[schemas]") {
  std::vector<std::string> seeds;
  for (const std::string folder : {"valid", "invalid", "invalid_parser_only"}) {
    for (const auto& path : CorpusFiles("events", folder)) seeds.push_back(ReadFile(path));
  }
  REQUIRE_FALSE(seeds.empty());
  static constexpr char kInteresting[] = "{}[]\",:0-.eE\\u\x01\x7f\xc3\xff";
  std::mt19937_64 rng(42);
  const auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string message = seeds[pick(seeds.size())];
    for (size_t edits = 1 + pick(4); edits > 0 && !message.empty(); --edits) {
      const size_t at = pick(message.size());
      switch (pick(4)) {
        case 0:
          message[at] = kInteresting[pick(sizeof(kInteresting) - 1)];
          break;
        case 1:
          message.insert(at, 1, kInteresting[pick(sizeof(kInteresting) - 1)]);
          break;
        case 2:
          message.erase(at, 1 + pick(8));
          break;
        default:
          message.resize(at);
          break;
      }
    }
    const auto parsed = ParseEvent(message);
    if (const auto* event = std::get_if<Event>(&parsed)) {
      ++accepted;
      INFO(message);
      const auto again = ParseEvent(SerializeEvent(*event));
      REQUIRE(std::holds_alternative<Event>(again));
      REQUIRE(std::get<Event>(again) == *event);
    }
  }
  CHECK(accepted > 0);
}

}  // namespace
}  // namespace streamrec::schemas
