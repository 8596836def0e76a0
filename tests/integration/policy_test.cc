// Policies of docs/reliability.md that are not about crashes: late and
// out-of-order events, and bad configuration (one clear line, non-zero exit,
// within seconds).

#include <filesystem>
#include <fstream>
#include <iostream>

#include <catch2/catch.hpp>

#include "reliability_support.h"

namespace streamrec {
namespace {

using testing::kReferenceTsMs;
using testing::ReliabilityFixture;

schemas::Event View(const std::string& user, const std::string& item, int64_t ts) {
  return {user, item, schemas::EventType::kView, ts, std::nullopt, std::nullopt};
}

TEST_CASE("late and out-of-order events: applied in arrival order, only the implausible dead-lettered",
          "[integration]") {
  ReliabilityFixture f;
  const int64_t hour = 3'600'000;
  const int64_t day = 24 * hour;
  // Record timestamps are kReferenceTsMs (the fixture's producer).
  const std::vector<schemas::Event> applied = {
      View("late", "i1", kReferenceTsMs - 5 * hour),
      View("late", "i2", kReferenceTsMs - 9 * hour),   // earlier than the one before it
      View("late", "i3", kReferenceTsMs - 400 * day),  // more than a year late
      View("late", "i4", 978307200000),                // 2001: a replayed historical log
      View("late", "i5", kReferenceTsMs + day),        // ahead, within ingest.max_future_skew
  };
  const std::vector<schemas::Event> rejected = {
      View("late", "i6", kReferenceTsMs + day + 1),  // beyond the skew allowed
      View("late", "i7", 631151999999),              // before 1990: a unit mistake
  };
  for (const auto& e : applied) f.ProduceEvent(e);
  for (const auto& e : rejected) f.ProduceEvent(e);
  f.Flush();
  const std::string dir = f.dir().Sub("state");
  REQUIRE(f.Run(dir) == 0);

  auto user = testing::OpenReadOnly(dir)->ReadUser("late");
  REQUIRE_RESULT_OK(user);
  CHECK(user->row.event_count == applied.size());
  // A late event never moves the user's clock backwards.
  CHECK(user->row.last_ts_ms == kReferenceTsMs + day);
  int dead = 0;
  for (const auto& m : f.ReadTopic("events.dlq")) {
    for (const auto& h : m.headers) dead += h.name == "error.code" && h.value == "timestamp_out_of_range";
  }
  CHECK(dead == static_cast<int>(rejected.size()));
  // The list reflects the newest event time applied, not the last to arrive.
  std::optional<schemas::RecommendationList> list;
  for (const auto& m : f.ReadTopic("recommendations")) {
    if (m.key == std::optional<std::string>("late") && m.value) {
      list = std::get<schemas::RecommendationList>(schemas::ParseRecommendationList(*m.value));
    }
  }
  REQUIRE(list.has_value());
  CHECK(list->source_event_ts_ms == kReferenceTsMs + day);
}

TEST_CASE("bad configuration: one clear line and a non-zero exit, within seconds", "[integration]") {
  testing::TempDir dir;
  struct Case {
    std::vector<std::string> sets;
    int code;
    std::vector<std::string> says;
  };
  const std::string state = dir.Sub("state");
  std::filesystem::create_directories(dir.Sub("not-a-store"));
  { std::ofstream(dir.Sub("not-a-store/file")) << "x"; }
  const std::vector<Case> cases = {
      {{"learner.dimm=8"}, 2, {"unknown config key 'learner.dimm'", "did you mean 'learner.dim'"}},
      {{"learner.dim=eight"}, 2, {"'learner.dim'", "expected an integer"}},
      {{"batch.max_events=0"}, 2, {"'batch.max_events'", "expected an integer in [1"}},
      {{"kafka.bootstrap.servers="}, 2, {"'kafka.bootstrap.servers'", "non-empty"}},
      {{"kafka.bootstrap.servers=127.0.0.1:1", "state.dir=" + state},
       1,
       {"cannot reach Kafka at 127.0.0.1:1", "check kafka.bootstrap.servers"}},
      {{"state.dir=/proc/streamrec/state"}, 1, {"cannot create store directory /proc/streamrec/state"}},
      {{"state.dir=" + dir.Sub("not-a-store")}, 1, {"is not a streamrec store", "use an empty or new state.dir"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"run", "--stop-when-idle", "1s", "--set", "http.listen="};
    for (const auto& s : c.sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    std::ostringstream out, err;
    const auto start = std::chrono::steady_clock::now();
    const int code = apps::Run(args, out, err);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    INFO(c.sets.front() << ": " << err.str());
    CHECK(code == c.code);
    // One line: the error, naming the key or path and the fix.
    const std::string text = err.str();
    CHECK(text.starts_with("streamrec: error: "));
    CHECK(text.find('\n') == text.size() - 1);
    for (const auto& s : c.says) CHECK_THAT(text, Catch::Contains(s));
    std::cout << "bad configuration " << c.sets.front() << ": exit " << code << " after " << took.count() << " ms\n";
  }
}

}  // namespace
}  // namespace streamrec
