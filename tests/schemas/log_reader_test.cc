#include "streamrec/schemas/log_reader.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <string>

#include "support/test_support.h"

namespace streamrec::schemas {
namespace {

Event Rating(std::string user, std::string item, double value, int64_t seconds) {
  return {std::move(user), std::move(item), EventType::kRating,
          seconds * 1000,  std::nullopt,    value};
}

TEST_CASE("log format names", "[schemas]") {
  for (const LogFormat format :
       {LogFormat::kMovieLensCsv, LogFormat::kMovieLensTsv, LogFormat::kJsonl}) {
    const auto parsed = LogFormatFromName(LogFormatName(format));
    REQUIRE_RESULT_OK(parsed);
    CHECK(*parsed == format);
  }
  const auto unknown = LogFormatFromName("csv");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::kInvalidArgument);
  CHECK(unknown.status().message().find("movielens-csv") != std::string::npos);
}

TEST_CASE("movielens-csv: header, CRLF, bad lines with their numbers", "[schemas]") {
  const EventLog log = ParseEventLog(
      "userId,movieId,rating,timestamp\r\n"  // 1
      "1,31,2.5,1260759144\r\n"              // 2
      "1,1029,3.0,1260759179\r\n"            // 3
      "\r\n"                                 // 4: blank, skipped
      "2,10\r\n"                             // 5: too few fields
      "x,10,4.0,835355493\r\n"               // 6: user not a number
      "2,10,four,835355493\r\n"              // 7: rating not a number
      "2,10,nan,835355493\r\n"               // 8: rating not finite
      "2,10,4.0,835355493.5\r\n"             // 9: timestamp not an integer
      "2,10,4.0,600000000\r\n"               // 10: before 1990
      "2,10,4.0,835355493,extra\r\n"         // 11: too many fields
      "007,10,4.0,835355493",                // 12: no final newline; id kept as written
      LogFormat::kMovieLensCsv);
  CHECK(log.events == std::vector<Event>{Rating("1", "31", 2.5, 1260759144),
                                         Rating("1", "1029", 3.0, 1260759179),
                                         Rating("007", "10", 4.0, 835355493)});
  CHECK(log.bad_line_count == 7);
  REQUIRE(log.bad_lines.size() == 7);
  std::vector<uint64_t> numbers;
  for (const BadLine& bad : log.bad_lines) numbers.push_back(bad.line_number);
  CHECK(numbers == std::vector<uint64_t>{5, 6, 7, 8, 9, 10, 11});
  CHECK(log.bad_lines[0].reason == "expected 4 fields separated by commas, got 2");
  CHECK(log.bad_lines[1].reason == "user 'x' is not a decimal integer");
  CHECK(log.bad_lines[2].reason == "rating 'four' is not a finite number");
  CHECK(log.bad_lines[5].reason.find("1990") != std::string::npos);
}

TEST_CASE("movielens-csv: the header is optional, a BOM is skipped", "[schemas]") {
  const EventLog headerless = ParseEventLog("5,6,1.5,964982703\n", LogFormat::kMovieLensCsv);
  CHECK(headerless.events == std::vector<Event>{Rating("5", "6", 1.5, 964982703)});
  const EventLog bom = ParseEventLog(
      "\xEF\xBB\xBFuserId,movieId,rating,timestamp\n5,6,1.5,964982703\n", LogFormat::kMovieLensCsv);
  CHECK(bom.events.size() == 1);
  CHECK(bom.bad_line_count == 0);
  // A header anywhere but line 1 is a bad line.
  const EventLog late = ParseEventLog("5,6,1.5,964982703\nuserId,movieId,rating,timestamp\n",
                                      LogFormat::kMovieLensCsv);
  CHECK(late.bad_line_count == 1);
  CHECK(late.bad_lines.at(0).line_number == 2);
}

TEST_CASE("movielens-tsv: u.data", "[schemas]") {
  const EventLog log = ParseEventLog(
      "196\t242\t3\t881250949\n"
      "186\t302\t3\t891717742\r\n"
      "22,377,1,878887116\n"
      "244\t51\t2\t880606923\n",
      LogFormat::kMovieLensTsv);
  CHECK(log.events == std::vector<Event>{Rating("196", "242", 3, 881250949),
                                         Rating("186", "302", 3, 891717742),
                                         Rating("244", "51", 2, 880606923)});
  REQUIRE(log.bad_lines.size() == 1);
  CHECK(log.bad_lines[0].line_number == 3);
  CHECK(log.bad_lines[0].reason == "expected 4 fields separated by tabs, got 1");
}

TEST_CASE("jsonl: DESIGN.md events, empty lines skipped, rejections as bad lines", "[schemas]") {
  const EventLog log =
      ParseEventLog(R"({"user_id":"u1","item_id":"i1","type":"click","ts":1732350000123})"
                    "\n"
                    "\n"
                    R"({"user_id":"u1","type":"rating","item_id":"i2","ts":1732350000124})"
                    "\r\n"
                    R"({"user_id":"u2","type":"forget","ts":1732350000125})"
                    "\n"
                    "{not json\n"
                    R"({"user_id":"u3","item_id":"i1","type":"view","ts":9999999999999})",
                    LogFormat::kJsonl);
  REQUIRE(log.events.size() == 3);
  CHECK(log.events[0].type == EventType::kClick);
  CHECK(log.events[1].type == EventType::kForget);
  // No reference timestamp in a log file: only the absolute range applies.
  CHECK(log.events[2].ts_ms == 9999999999999);
  CHECK(log.bad_line_count == 2);
  REQUIRE(log.bad_lines.size() == 2);
  CHECK(log.bad_lines[0].line_number == 3);
  CHECK(log.bad_lines[0].reason ==
        "missing_value: a rating event has no numeric value: field 'value' in a rating event");
  CHECK(log.bad_lines[1].line_number == 5);
  CHECK(log.bad_lines[1].reason.starts_with("invalid_json: "));
}

TEST_CASE("bad lines: all counted, the first kMaxBadLinesKept kept", "[schemas]") {
  std::string contents;
  for (int i = 0; i < 250; ++i) contents += "garbage\n";
  contents += "1,2,3.5,964982703\n";
  const EventLog log = ParseEventLog(contents, LogFormat::kMovieLensCsv);
  CHECK(log.events.size() == 1);
  CHECK(log.bad_line_count == 250);
  REQUIRE(log.bad_lines.size() == kMaxBadLinesKept);
  CHECK(log.bad_lines.front().line_number == 1);
  CHECK(log.bad_lines.back().line_number == kMaxBadLinesKept);
}

TEST_CASE("ReadEventLog reads files and reports the ones it cannot open", "[schemas]") {
  streamrec::testing::TempDir dir;
  const std::string path = dir.Sub("ratings.csv");
  std::ofstream(path, std::ios::binary)
      << "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n";
  const auto log = ReadEventLog(path, LogFormat::kMovieLensCsv);
  REQUIRE_RESULT_OK(log);
  CHECK(log->events == std::vector<Event>{Rating("1", "1", 4.0, 964982703)});

  const auto missing = ReadEventLog(dir.Sub("absent.csv"), LogFormat::kMovieLensCsv);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("absent.csv") != std::string::npos);
}

TEST_CASE("SortByTime is stable", "[schemas]") {
  std::vector<Event> events = {Rating("a", "1", 1, 964982703), Rating("b", "1", 1, 964982701),
                               Rating("c", "1", 1, 964982703), Rating("d", "1", 1, 964982701)};
  SortByTime(events);
  std::string order;
  for (const Event& event : events) order += event.user_id;
  CHECK(order == "bdac");
}

TEST_CASE("ml-latest-small ratings.csv reads whole", "[schemas]") {
  const auto dataset = streamrec::testing::SharedDataset("ml-latest-small");
  if (!dataset) {
    WARN("skipped: ../shared/datasets/ml-latest-small is absent");
    SUCCEED();
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto log = ReadEventLog((*dataset / "ratings.csv").string(), LogFormat::kMovieLensCsv);
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  REQUIRE_RESULT_OK(log);
  CHECK(log->events.size() == 100836);
  CHECK(log->bad_line_count == 0);
  std::set<std::string> users;
  for (const Event& event : log->events) users.insert(event.user_id);
  CHECK(users.size() == 610);
  CHECK(log->events.front() == Rating("1", "1", 4.0, 964982703));
  CHECK(log->events.back() == Rating("610", "170875", 3.0, 1493846415));
  INFO("read in " << elapsed.count() << " s");
  SUCCEED();
}

}  // namespace
}  // namespace streamrec::schemas
