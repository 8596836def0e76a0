// The pipeline end to end over real TCP: librdkafka clients, the embedded
// broker, a real RocksDB store, and `streamrec run` driven through its CLI.

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "streamrec/apps/cli.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/state/feature_store.h"
#include "support/kafka_fixture.h"

namespace streamrec {
namespace {

using namespace std::chrono_literals;
using testing::KafkaFixture;

// Valid events carry times just before this, and every record is produced
// with it as its Kafka timestamp, so the corpus's far-future files are
// judged against the same reference as in the schemas tests.
constexpr int64_t kReferenceTsMs = 1732350000000;

struct ProducedEvent {
  schemas::Event event;
  bool valid = true;
};

class PipelineFixture {
 public:
  PipelineFixture() {
    auto producer = kafka::Producer::Create({.config = kafka_.ProducerConfig()});
    REQUIRE_RESULT_OK(producer);
    producer_.emplace(std::move(*producer));
  }

  void Produce(const std::string& topic, const std::optional<std::string>& key,
               const std::optional<std::string>& value) {
    kafka::ProducerRecord record;
    record.topic = topic;
    if (key) record.key = *key;
    if (value) record.value = *value;
    record.timestamp_ms = kReferenceTsMs;
    REQUIRE_OK(producer_->Produce(record));
  }
  void ProduceEvent(const schemas::Event& e) {
    Produce("events", e.user_id, schemas::SerializeEvent(e));
    events_.push_back(e);
  }
  void Flush() { REQUIRE_OK(producer_->Flush(10s)); }

  // `streamrec run` until idle, in-process through the CLI.
  int Run(const std::vector<std::string>& extra = {}) {
    std::ostringstream out, err;
    const int code = apps::Run(RunArgs("1s", extra), out, err);
    INFO(err.str());
    CHECK(code == 0);
    return code;
  }
  // The arguments of `streamrec run` against this fixture, stopping once
  // idle for `idle`.
  std::vector<std::string> RunArgs(const std::string& idle, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"run",
                                     "--stop-when-idle", idle,
                                     "--set", "kafka.bootstrap.servers=" + kafka_.bootstrap(),
                                     "--set", "state.dir=" + state_dir(),
                                     "--set", "serving.min_refresh_ms=0ms",
                                     "--set", "learner.dim=16",
                                     "--set", "http.listen=",
                                     "--set", "log.level=warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Every record of a topic, from the start.
  std::vector<kafka::Message> ReadTopic(const std::string& topic) {
    auto consumer = kafka::Consumer::Create({.config = kafka_.ConsumerConfig()});
    REQUIRE_RESULT_OK(consumer);
    REQUIRE_OK(consumer->Assign({{topic, PartitionId(0)}}));
    return testing::ConsumeToEnd(*consumer, 15s);
  }

  std::string state_dir() const { return dir_.Sub("state"); }
  kafka::KafkaConfig ConsumerConfig(const std::string& group) const { return kafka_.ConsumerConfig(group); }
  const std::string& bootstrap() const { return kafka_.bootstrap(); }
  const std::vector<schemas::Event>& events() const { return events_; }
  testing::TempDir& dir() { return dir_; }

 private:
  KafkaFixture kafka_;
  testing::TempDir dir_;
  std::optional<kafka::Producer> producer_;
  std::vector<schemas::Event> events_;
};

schemas::Event Click(int user, int item, int64_t ts) {
  return {fmt::format("u{}", user), fmt::format("i{}", item), schemas::EventType::kClick, ts, std::nullopt,
          std::nullopt};
}

// 30 users clicking 8 items each out of 40, in time order.
std::vector<schemas::Event> ClickStream(int64_t first_ts, int rounds = 8) {
  std::vector<schemas::Event> out;
  int64_t ts = first_ts;
  for (int round = 0; round < rounds; ++round) {
    for (int user = 0; user < 30; ++user) out.push_back(Click(user, (user * 7 + round * 3) % 40, ts++));
  }
  return out;
}

std::map<std::string, std::optional<std::string>> LatestByKey(const std::vector<kafka::Message>& messages) {
  std::map<std::string, std::optional<std::string>> latest;
  for (const auto& m : messages) latest[m.key.value_or("")] = m.value;
  return latest;
}

TEST_CASE("lists for every user, malformed records dead-lettered, forget tombstoned", "[integration]") {
  PipelineFixture f;
  // The catalog withdraws one item before any event names it.
  f.Produce("items", "i5", schemas::SerializeItem({"i5", false, std::nullopt, {}, {}}));
  const auto stream = ClickStream(kReferenceTsMs - 3600'000);
  const size_t half = stream.size() / 2;
  for (size_t k = 0; k < half; ++k) f.ProduceEvent(stream[k]);

  // Every malformed kind of the schemas corpus, in the middle of the stream.
  std::map<std::string, int> expected_codes;
  int malformed = 0;
  for (const char* folder : {"invalid", "invalid_parser_only"}) {
    for (const auto& file :
         std::filesystem::directory_iterator(testing::SourceDir() / "tests/schemas/corpus/events" / folder)) {
      std::ifstream in(file.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const std::string stem = file.path().stem().string();
      ++expected_codes[stem.substr(0, stem.find('-'))];
      ++malformed;
      f.Produce("events", "u0", bytes);
    }
  }
  REQUIRE(malformed >= 20);
  REQUIRE(expected_codes.size() >= 12);
  for (size_t k = half; k < stream.size(); ++k) f.ProduceEvent(stream[k]);
  f.ProduceEvent({"u3", "", schemas::EventType::kForget, kReferenceTsMs - 1, std::nullopt, std::nullopt});
  f.Flush();

  REQUIRE(f.Run() == 0);

  // Dead letters: every malformed record, with its stable code and source.
  const auto dlq = f.ReadTopic("events.dlq");
  REQUIRE(dlq.size() == static_cast<size_t>(malformed));
  std::map<std::string, int> codes;
  for (const auto& m : dlq) {
    std::map<std::string, std::string> headers;
    for (const auto& h : m.headers) headers[h.name] = h.value;
    ++codes[headers["error.code"]];
    CHECK_FALSE(headers["error.reason"].empty());
    CHECK(headers["source.topic"] == "events");
    CHECK(headers["source.partition"] == "0");
    CHECK_FALSE(headers["source.offset"].empty());
  }
  CHECK(codes == expected_codes);

  // Lists: the latest per user, none with a seen or unavailable item.
  std::map<std::string, std::set<std::string>> seen;
  for (const auto& e : stream) seen[e.user_id].insert(e.item_id);
  const auto published = f.ReadTopic("recommendations");
  INFO(published.size() << " records on recommendations");
  const auto latest = LatestByKey(published);
  for (const auto& [user, items] : seen) {
    INFO(user);
    REQUIRE(latest.contains(user));
    if (user == "u3") {
      CHECK_FALSE(latest.at(user).has_value());  // the tombstone came last
      continue;
    }
    REQUIRE(latest.at(user).has_value());
    auto parsed = schemas::ParseRecommendationList(*latest.at(user));
    REQUIRE(std::holds_alternative<schemas::RecommendationList>(parsed));
    const auto& list = std::get<schemas::RecommendationList>(parsed);
    CHECK(list.user_id == user);
    CHECK(list.items.size() == 10);
    for (const auto& item : list.items) {
      CHECK_FALSE(items.contains(item.item_id));
      CHECK(item.item_id != "i5");
    }
  }

  // The store: every valid event applied, the forgotten user gone, nothing owed.
  auto store = state::FeatureStore::Open({.dir = f.state_dir(), .read_only = true, .fingerprint = {16, "string-v1"}});
  REQUIRE_RESULT_OK(store);
  CHECK((*store)->ReadUser("u3").status().code() == StatusCode::kNotFound);
  auto u0 = (*store)->ReadUser("u0");
  REQUIRE_RESULT_OK(u0);
  CHECK(u0->row.event_count == 8);
  auto pending = (*store)->ReadPending();
  REQUIRE_RESULT_OK(pending);
  CHECK(pending->empty());
}

// Each user's latest list, parsed (tombstones left out).
std::map<std::string, schemas::RecommendationList> LatestLists(const std::vector<kafka::Message>& messages) {
  std::map<std::string, schemas::RecommendationList> out;
  for (const auto& [user, value] : LatestByKey(messages)) {
    if (!value) continue;
    auto parsed = schemas::ParseRecommendationList(*value);
    if (auto* list = std::get_if<schemas::RecommendationList>(&parsed)) out[user] = std::move(*list);
  }
  return out;
}

TEST_CASE("lists holding an item the catalog withdraws later are published again without it", "[integration]") {
  PipelineFixture f;
  const auto stream = ClickStream(kReferenceTsMs - 3600'000);
  std::map<std::string, int64_t> last_ts;
  for (const auto& e : stream) {
    f.ProduceEvent(e);
    last_ts[e.user_id] = e.ts_ms;
  }
  f.Flush();
  // The run stays up (until idle for 8 s) while its lists are read back and
  // the withdrawal is sent.
  std::ostringstream out, err;
  int code = -1;
  std::thread run([&] { code = apps::Run(f.RunArgs("8s"), out, err); });
  // Wait for every user's list of all its events, so that no later list
  // comes but for the withdrawal.
  std::map<std::string, schemas::RecommendationList> before;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto complete = [&] {
    if (before.size() != last_ts.size()) return false;
    for (const auto& [user, list] : before) {
      if (list.source_event_ts_ms != last_ts.at(user)) return false;
    }
    return true;
  };
  while (!complete() && std::chrono::steady_clock::now() < deadline) {
    before = LatestLists(f.ReadTopic("recommendations"));
    if (!complete()) std::this_thread::sleep_for(100ms);
  }
  const size_t lists_before = f.ReadTopic("recommendations").size();
  // The item in the most lists goes.
  std::map<std::string, int> listed;
  for (const auto& [user, list] : before) {
    for (const auto& item : list.items) ++listed[item.item_id];
  }
  REQUIRE_FALSE(listed.empty());
  const std::string withdrawn =
      std::max_element(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
          ->first;
  f.Produce("items", withdrawn, schemas::SerializeItem({withdrawn, false, std::nullopt, {}, {}}));
  f.Flush();
  run.join();
  INFO(err.str());
  REQUIRE(complete());
  REQUIRE(code == 0);

  const auto published = f.ReadTopic("recommendations");
  const auto after = LatestLists(published);
  // One more list for each user that listed the item, none for the others.
  CHECK(published.size() - lists_before == static_cast<size_t>(listed.at(withdrawn)));
  for (const auto& [user, list] : after) {
    INFO(user);
    CHECK(list.items.size() == 10);
    for (const auto& item : list.items) CHECK(item.item_id != withdrawn);
  }
}

TEST_CASE("users idle longer than learner.user_ttl are tombstoned and leave the store", "[integration]") {
  PipelineFixture f;
  const int64_t t0 = kReferenceTsMs - 4 * 3600'000;
  // Ten users act once; two hours of stream time later only u0 is back.
  for (int user = 0; user < 10; ++user) f.ProduceEvent(Click(user, user, t0 + user));
  for (int k = 0; k < 5; ++k) f.ProduceEvent(Click(0, 10 + k, t0 + 2 * 3600'000 + k));
  f.Flush();

  REQUIRE(f.Run({"--set", "learner.user_ttl=1h"}) == 0);

  const auto latest = LatestByKey(f.ReadTopic("recommendations"));
  auto store = state::FeatureStore::Open({.dir = f.state_dir(), .read_only = true, .fingerprint = {16, "string-v1"}});
  REQUIRE_RESULT_OK(store);
  for (int user = 1; user < 10; ++user) {
    const std::string id = fmt::format("u{}", user);
    INFO(id);
    REQUIRE(latest.contains(id));
    CHECK_FALSE(latest.at(id).has_value());  // a tombstone, owed as for a forget
    CHECK((*store)->ReadUser(id).status().code() == StatusCode::kNotFound);
  }
  REQUIRE(latest.contains("u0"));
  CHECK(latest.at("u0").has_value());
  auto u0 = (*store)->ReadUser("u0");
  REQUIRE_RESULT_OK(u0);
  // u0 too was idle for two hours: expired before its return, it started
  // afresh, and its new list replaced its tombstone.
  CHECK(u0->row.event_count == 5);
  auto pending = (*store)->ReadPending();
  REQUIRE_RESULT_OK(pending);
  CHECK(pending->empty());
  auto stream_time = (*store)->ReadStreamTime();
  REQUIRE_RESULT_OK(stream_time);
  CHECK(*stream_time == t0 + 2 * 3600'000 + 4);
}

TEST_CASE("a restart resumes at the stored offsets and ends equal to evaluate", "[integration]") {
  PipelineFixture f;
  const auto stream = ClickStream(kReferenceTsMs - 3600'000, 12);
  const size_t half = stream.size() / 2;
  for (size_t k = 0; k < half; ++k) f.ProduceEvent(stream[k]);
  f.Flush();
  REQUIRE(f.Run() == 0);
  for (size_t k = half; k < stream.size(); ++k) f.ProduceEvent(stream[k]);
  f.Flush();
  // No commit to Kafka after the run's first batch but the one when it stops.
  REQUIRE(f.Run({"--set", "ingest.commit_interval=1h"}) == 0);

  // One learner, two drivers: evaluate on the same events reaches the same model.
  const std::string log = f.dir().Sub("events.jsonl");
  {
    std::ofstream out(log);
    for (const auto& e : f.events()) out << schemas::SerializeEvent(e) << "\n";
  }
  const std::string evaluated = f.dir().Sub("evaluated");
  std::ostringstream out, err;
  REQUIRE(apps::Run({"evaluate", "--input", log, "--format", "jsonl", "--models", "isgd", "--state", evaluated,
                     "--set", "learner.dim=16"},
                    out, err) == 0);

  auto pipeline_store = state::FeatureStore::Open({.dir = f.state_dir(), .read_only = true, .fingerprint = {16, "string-v1"}});
  auto evaluate_store = state::FeatureStore::Open({.dir = evaluated, .read_only = true, .fingerprint = {16, "string-v1"}});
  REQUIRE_RESULT_OK(pipeline_store);
  REQUIRE_RESULT_OK(evaluate_store);
  auto a = (*pipeline_store)->Digest();
  auto b = (*evaluate_store)->Digest();
  REQUIRE_RESULT_OK(a);
  REQUIRE_RESULT_OK(b);
  CHECK(a->model == b->model);
  CHECK(a->counts.users == 30);
  // Each event applied once across the two runs.
  for (int user = 0; user < 30; ++user) {
    auto row = (*pipeline_store)->ReadUser(fmt::format("u{}", user));
    REQUIRE_RESULT_OK(row);
    CHECK(row->row.event_count == 12);
  }
  auto offsets = (*pipeline_store)->ReadOffsets("events");
  REQUIRE_RESULT_OK(offsets);
  CHECK(offsets->at(PartitionId(0)) == KafkaOffset(static_cast<int64_t>(stream.size())));
  // Kafka's commits are throttled (ingest.commit_interval), but a run that
  // stops commits what it consumed, so lag tools see the group at the end.
  auto group = kafka::Consumer::Create({.config = f.ConsumerConfig("streamrec")});
  REQUIRE_RESULT_OK(group);
  auto committed = group->Committed({{"events", PartitionId(0)}}, 10s);
  REQUIRE_RESULT_OK(committed);
  CHECK(committed->at({"events", PartitionId(0)}) == KafkaOffset(static_cast<int64_t>(stream.size())));
}

TEST_CASE("events from kcat and from Python confluent_kafka get lists, read back with kcat", "[integration]") {
  if (std::system("command -v kcat >/dev/null 2>&1") != 0 ||
      std::system("/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1") != 0) {
    FAIL("kcat and Debian's python3-confluent-kafka are part of the set-up (scripts/deps.sh)");
  }
  PipelineFixture f;
  const auto stream = ClickStream(kReferenceTsMs - 3600'000);
  // Even users through kcat (key<TAB>value), odd users through Python.
  const std::string kcat_input = f.dir().Sub("kcat.txt");
  const std::string python_input = f.dir().Sub("python.txt");
  {
    std::ofstream kcat_file(kcat_input), python_file(python_input);
    for (const auto& e : stream) {
      const bool even = (std::stoi(e.user_id.substr(1)) % 2) == 0;
      (even ? kcat_file : python_file) << e.user_id << "\t" << schemas::SerializeEvent(e) << "\n";
    }
  }
  const auto kcat = testing::RunCommand("timeout 30 kcat -q -b " + f.bootstrap() + " -P -l -t events -K '\t' " +
                                        kcat_input + " 2>&1");
  REQUIRE(kcat.exit_code == 0);
  const std::string script = f.dir().Sub("produce.py");
  {
    std::ofstream py(script);
    py << "import sys\nfrom confluent_kafka import Producer\n"
          "p = Producer({'bootstrap.servers': sys.argv[1]})\n"
          "for line in open(sys.argv[2]):\n"
          "    key, value = line.rstrip('\\n').split('\\t', 1)\n"
          "    p.produce('events', key=key, value=value)\n"
          "assert p.flush(20) == 0\n";
  }
  const auto python = testing::RunCommand("timeout 60 /usr/bin/python3 " + script + " " + f.bootstrap() + " " +
                                          python_input + " 2>&1");
  INFO(python.output);
  REQUIRE(python.exit_code == 0);

  REQUIRE(f.Run() == 0);

  const auto lists = testing::RunCommand("timeout 30 kcat -q -b " + f.bootstrap() +
                                         " -C -t recommendations -o beginning -e -f '%k\t%s\n' 2>&1");
  REQUIRE(lists.exit_code == 0);
  std::map<std::string, std::set<std::string>> seen;
  for (const auto& e : stream) seen[e.user_id].insert(e.item_id);
  std::map<std::string, std::string> latest;
  std::istringstream lines(lists.output);
  for (std::string line; std::getline(lines, line);) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos) latest[line.substr(0, tab)] = line.substr(tab + 1);
  }
  CHECK(latest.size() == seen.size());
  for (const auto& [user, value] : latest) {
    auto parsed = schemas::ParseRecommendationList(value);
    REQUIRE(std::holds_alternative<schemas::RecommendationList>(parsed));
    for (const auto& item : std::get<schemas::RecommendationList>(parsed).items) {
      CHECK_FALSE(seen[user].contains(item.item_id));
    }
  }
}

TEST_CASE("a store reused against another broker is refused with a reset hint", "[integration]") {
  testing::TempDir dir;
  const std::string state = dir.Sub("state");
  auto run = [&](const std::string& bootstrap, std::string& err_text) {
    std::ostringstream out, err;
    const int code = apps::Run({"run", "--stop-when-idle", "1s", "--set", "kafka.bootstrap.servers=" + bootstrap,
                                "--set", "state.dir=" + state, "--set", "learner.dim=16", "--set", "http.listen=",
                                "--set", "log.level=error"},
                               out, err);
    err_text = err.str();
    return code;
  };
  std::string err;
  {
    PipelineFixture first;
    for (const auto& e : ClickStream(kReferenceTsMs - 3600'000, 2)) first.ProduceEvent(e);
    first.Flush();
    REQUIRE(run(first.bootstrap(), err) == 0);
  }
  PipelineFixture second;  // a fresh broker: its `events` holds nothing
  second.ProduceEvent(Click(1, 1, kReferenceTsMs - 1000));
  second.Flush();
  CHECK(run(second.bootstrap(), err) == 1);
  CHECK_THAT(err, Catch::Contains("another broker or topic") && Catch::Contains("new state.dir"));
}

}  // namespace
}  // namespace streamrec
