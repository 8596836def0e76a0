#include "streamrec/apps/config.h"

#include <fstream>
#include <set>

#include "streamrec/schemas/event.h"
#include "support/test_support.h"

namespace streamrec::apps {
namespace {

using online_learner::IsgdOptions;
using testing::TempDir;

std::string WriteToml(const TempDir& dir, const std::string& contents) {
  const std::string path = dir.Sub("streamrec.toml");
  std::ofstream(path) << contents;
  return path;
}

std::string Value(const Settings& settings, std::string_view name) {
  const ConfigKey* key = FindConfigKey(name);
  REQUIRE(key != nullptr);
  return FormatConfigValue(*key, settings);
}

TEST_CASE("every key's default is its Options field's default and is accepted back", "[apps]") {
  const Settings defaults;
  std::set<std::string> names;
  for (const auto& key : ConfigTable()) {
    INFO(key.name);
    CHECK(names.insert(key.name).second);
    CHECK(!key.meaning.empty());
    // Setting the default text changes nothing: bounds hold the default, and
    // the key's type matches its field.
    Settings settings;
    REQUIRE_OK(SetConfig(key.name, FormatConfigValue(key, defaults), settings));
    CHECK(FormatConfigValue(key, settings) == FormatConfigValue(key, defaults));
  }
  const IsgdOptions isgd;
  CHECK(Value(defaults, "learner.dim") == std::to_string(isgd.dim));
  CHECK(Value(defaults, "learner.negatives") == std::to_string(isgd.negatives));
  CHECK(Value(defaults, "learner.seed") == std::to_string(isgd.seed));
  CHECK(std::stof(Value(defaults, "learner.learning_rate")) == isgd.learning_rate);
  CHECK(std::stof(Value(defaults, "learner.weight.purchase")) ==
        isgd.event_weights[static_cast<int>(schemas::EventType::kPurchase)]);
  CHECK(Value(defaults, "baselines.popularity_decay.half_life") == "7d");
  CHECK(Value(defaults, "state.dir") == "streamrec-state");
  CHECK(Value(defaults, "kafka.bootstrap.servers") == "127.0.0.1:9092");
}

TEST_CASE("there is a weight key for every event type but forget", "[apps]") {
  for (int i = 0; i < schemas::kEventTypeCount; ++i) {
    const auto type = static_cast<schemas::EventType>(i);
    const std::string name = "learner.weight." + std::string(schemas::EventTypeName(type));
    CHECK((FindConfigKey(name) != nullptr) == (type != schemas::EventType::kForget));
  }
}

TEST_CASE("values are parsed by type and checked against bounds", "[apps]") {
  Settings settings;
  REQUIRE_OK(SetConfig("learner.dim", "32", settings));
  CHECK(settings.learner.isgd.dim == 32);
  REQUIRE_OK(SetConfig("learner.learning_rate", "0.125", settings));
  CHECK(settings.learner.isgd.learning_rate == 0.125f);
  REQUIRE_OK(SetConfig("state.sync", "true", settings));
  CHECK(settings.state.sync);
  REQUIRE_OK(SetConfig("baselines.popularity_decay.half_life", "250ms", settings));
  CHECK(settings.learner.popularity_decay.half_life_ms == 250);
  REQUIRE_OK(SetConfig("baselines.popularity_decay.half_life", "2h", settings));
  CHECK(settings.learner.popularity_decay.half_life_ms == 2 * 3600 * 1000);
  CHECK(Value(settings, "baselines.popularity_decay.half_life") == "2h");
  REQUIRE_OK(SetConfig("log.level", "debug", settings));
  CHECK(settings.log.level == "debug");

  const auto message = [&](std::string_view name, std::string_view text) {
    Status status = SetConfig(name, text, settings);
    CHECK(status.code() == StatusCode::kInvalidArgument);
    return status.message();
  };
  CHECK(message("learner.dim", "abc") ==
        "config key 'learner.dim': expected an integer in [1, 1024], got 'abc'");
  CHECK(message("learner.dim", "0") == "config key 'learner.dim': expected an integer in [1, 1024], got '0'");
  CHECK(message("learner.dim", "1025").ends_with("got '1025'"));
  CHECK(message("learner.dim", "3.5").ends_with("got '3.5'"));
  CHECK(message("learner.learning_rate", "nan") ==
        "config key 'learner.learning_rate': expected a number in [0, 10], got 'nan'");
  CHECK(message("state.sync", "yes") == "config key 'state.sync': expected true or false, got 'yes'");
  CHECK(message("baselines.popularity_decay.half_life", "5x").find("expected a duration") !=
        std::string::npos);
  CHECK(!SetConfig("baselines.popularity_decay.half_life", "1.5s", settings).ok());
  CHECK(!SetConfig("baselines.popularity_decay.half_life", "0ms", settings).ok());
  CHECK(message("log.level", "loud") ==
        "config key 'log.level': expected one of trace, debug, info, warn, error, off, got 'loud'");
  CHECK(message("state.dir", "") == "config key 'state.dir': expected a non-empty string, got ''");
  CHECK(settings.learner.isgd.dim == 32);  // failed sets leave values alone
}

TEST_CASE("an unknown key suggests the nearest known one", "[apps]") {
  Settings settings;
  CHECK(SetConfig("learner.dimm", "3", settings).message() ==
        "unknown config key 'learner.dimm'; did you mean 'learner.dim'?");
  CHECK(SetConfig("learner.weight.purchse", "3", settings)
            .message()
            .ends_with("did you mean 'learner.weight.purchase'?"));
  CHECK(SetConfig("serving.topn", "3", settings).message().ends_with("did you mean 'serving.top_n'?"));
  const std::string far = SetConfig("nothing.like.it", "3", settings).message();
  CHECK(far.starts_with("unknown config key 'nothing.like.it'"));
  CHECK(far.find("did you mean") == std::string::npos);
  CHECK(ApplySetFlag("learner.dim", settings).message() == "--set expects KEY=VALUE, got 'learner.dim'");
}

TEST_CASE("unlisted kafka keys pass through in order and listed ones are typed", "[apps]") {
  Settings settings;
  REQUIRE_OK(ApplySetFlag("kafka.socket.timeout.ms=6000", settings));
  REQUIRE_OK(ApplySetFlag("kafka.security.protocol=SASL_SSL", settings));
  REQUIRE_OK(ApplySetFlag("kafka.socket.timeout.ms=7000", settings));
  REQUIRE_OK(ApplySetFlag("kafka.session.timeout.ms=9000", settings));
  REQUIRE_OK(ApplySetFlag("kafka.bootstrap.servers=broker:9093", settings));
  using Properties = std::vector<std::pair<std::string, std::string>>;
  CHECK(settings.kafka.passthrough ==
        Properties{{"socket.timeout.ms", "7000"}, {"security.protocol", "SASL_SSL"}});
  CHECK(settings.kafka.session_timeout_ms == 9000);
  CHECK(KafkaProperties(settings) == Properties{{"bootstrap.servers", "broker:9093"},
                                                {"group.id", "streamrec"},
                                                {"session.timeout.ms", "9000"},
                                                {"fetch.wait.max.ms", "5"},
                                                {"linger.ms", "1"},
                                                {"reconnect.backoff.max.ms", "1000"},
                                                {"socket.timeout.ms", "7000"},
                                                {"security.protocol", "SASL_SSL"}});
  CHECK(!SetConfig("kafka.", "x", settings).ok());
}

TEST_CASE("a TOML file maps nested tables to dotted keys and --set wins over it", "[apps]") {
  TempDir dir;
  const std::string path = WriteToml(dir, R"(
[learner]
dim = 16
learning_rate = 1          # an integer is a fine float
weight.purchase = 3.5

[baselines.popularity_decay]
half_life = "1h"

[state]
sync = true

[kafka]
"security.protocol" = "SASL_SSL"
socket.timeout.ms = 6000
)");
  const std::vector<std::string> sets = {"learner.dim=24", "learner.dim=48"};
  auto settings = LoadSettings(path, sets);
  REQUIRE_RESULT_OK(settings);
  CHECK(settings->learner.isgd.dim == 48);
  CHECK(settings->learner.isgd.learning_rate == 1.0f);
  CHECK(settings->learner.isgd.event_weights[static_cast<int>(schemas::EventType::kPurchase)] == 3.5f);
  CHECK(settings->learner.popularity_decay.half_life_ms == 3600 * 1000);
  CHECK(settings->state.sync);
  CHECK(settings->kafka.passthrough.size() == 2);
  CHECK(KafkaProperties(*settings).back().second.size() > 0);
}

TEST_CASE("config file errors name the file and line and key", "[apps]") {
  TempDir dir;
  const auto load = [&](const std::string& contents) {
    auto settings = LoadSettings(WriteToml(dir, contents), {});
    REQUIRE(!settings.ok());
    CHECK(settings.status().code() == StatusCode::kInvalidArgument);
    return settings.status().message();
  };
  const std::string path = dir.Sub("streamrec.toml");
  CHECK(load("[learner]\ndimm = 3\n") ==
        path + ":2: unknown config key 'learner.dimm'; did you mean 'learner.dim'?");
  CHECK(load("[learner]\n\ndim = \"abc\"\n") ==
        path + ":3: config key 'learner.dim': expected an integer in [1, 1024], got 'abc'");
  CHECK(load("learner.dim = 2.5\n").ends_with("got '2.5'"));
  CHECK(load("[learner]\ndim = [1, 2]\n").ends_with("expected an integer in [1, 1024], got an array"));
  CHECK(load("[learner\n").starts_with(path + ":1: invalid TOML"));

  auto missing = LoadSettings(dir.Sub("nope.toml"), {});
  REQUIRE(!missing.ok());
  CHECK(missing.status().message().find(dir.Sub("nope.toml")) != std::string::npos);
}

}  // namespace
}  // namespace streamrec::apps
