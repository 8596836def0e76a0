#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "support/test_support.h"

namespace streamrec::apps {
namespace {

using testing::TempDir;

// `evaluate --state` into `store`, with a small dimension for speed.
void EvaluateInto(const std::string& input, const std::string& store) {
  auto result = RunCli({"evaluate", "--input", input, "--format", "jsonl", "--models", "isgd", "--state",
                        store, "--set", "learner.dim=8"});
  INFO(result.err);
  REQUIRE(result.code == 0);
}

CliResult Inspect(const std::string& store, const std::string& what, const std::string& id = "") {
  std::vector<std::string> args = {"inspect", "--state", store, what};
  if (!id.empty()) args.push_back(id);
  args.insert(args.end(), {"--set", "learner.dim=8"});
  return RunCli(args);
}

TEST_CASE("inspect reads back the model evaluate --state wrote", "[apps]") {
  TempDir dir;
  const std::string input = WriteEvents(dir);
  EvaluateInto(input, dir.Sub("a"));
  EvaluateInto(input, dir.Sub("b"));

  auto a = Inspect(dir.Sub("a"), "--digest");
  auto b = Inspect(dir.Sub("b"), "--digest");
  REQUIRE(a.code == 0);
  CHECK(a.out.starts_with("model: "));
  CHECK(a.out.find("users=40 items=40") != std::string::npos);
  CHECK(a.out == b.out);  // same events, same config: same model, bit for bit

  auto user = Inspect(dir.Sub("a"), "--user", "u5");
  INFO(user.err);
  REQUIRE(user.code == 0);
  auto json = nlohmann::json::parse(user.out, nullptr, false);
  REQUIRE(!json.is_discarded());
  CHECK(json["user_id"] == "u5");
  CHECK(json["event_count"] == 12);
  CHECK(json["factors"].size() == 8);
  REQUIRE(!json["seen_items"].empty());
  for (const auto& item : json["seen_items"]) {
    // u5 is in taste group 1: items i10..i19, named by their external ids.
    CHECK(item.get<std::string>().starts_with("i1"));
  }

  auto item = Inspect(dir.Sub("a"), "--item", "i12");
  REQUIRE(item.code == 0);
  json = nlohmann::json::parse(item.out, nullptr, false);
  CHECK(json["item_id"] == "i12");
  CHECK(json["count"].get<int>() > 0);
  CHECK(json["factors"].size() == 8);
}

TEST_CASE("inspect reports a missing store or user and evaluate refuses a used --state dir", "[apps]") {
  TempDir dir;
  auto missing = Inspect(dir.Sub("nope"), "--digest");
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "streamrec: error: no store at '" + dir.Sub("nope") + "': the directory does not exist\n");

  const std::string input = WriteEvents(dir);
  EvaluateInto(input, dir.Sub("store"));
  auto unknown = Inspect(dir.Sub("store"), "--user", "nobody");
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("nobody") != std::string::npos);

  auto again = RunCli({"evaluate", "--input", input, "--format", "jsonl", "--state", dir.Sub("store")});
  CHECK(again.code == 1);
  CHECK(again.err.find("is not empty") != std::string::npos);
}

}  // namespace
}  // namespace streamrec::apps
