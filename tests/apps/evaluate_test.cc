#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "support/test_support.h"

namespace streamrec::apps {
namespace {

using testing::TempDir;

size_t Count(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

TEST_CASE("evaluate writes a table and a JSON report and an SVG plot", "[apps]") {
  TempDir dir;
  const std::string input = WriteEvents(dir);
  const std::string json_path = dir.Sub("report.json");
  const std::string svg_path = dir.Sub("report.svg");
  auto result = RunCli({"evaluate", "--input", input, "--format", "jsonl", "--top", "5", "--json", json_path,
                        "--plot", svg_path, "--set", "learner.dim=8"});
  INFO(result.err);
  REQUIRE(result.code == 0);
  CHECK(result.err.find("skipped 2 bad lines") != std::string::npos);
  CHECK(std::regex_search(result.err, std::regex("line 161: ")));
  for (std::string_view model : {"isgd", "popularity", "popularity-decay", "item-knn", "recall@5"}) {
    CHECK(result.out.find(model) != std::string::npos);
  }

  auto json = nlohmann::json::parse(ReadFile(json_path), nullptr, false);
  REQUIRE(!json.is_discarded());
  CHECK(json["top"] == 5);
  CHECK(json["events"] == 480);
  CHECK(json["scored_events"].get<int>() > 0);
  CHECK(json["scored_events"].get<int>() <= 480);
  REQUIRE(json["models"].size() == 4);
  for (const auto& [name, model] : json["models"].items()) {
    INFO(name);
    for (std::string_view field :
         {"recall", "ndcg", "mrr", "coverage", "popularity_bias", "events_per_second"}) {
      INFO(field);
      REQUIRE(model.contains(field));
      CHECK(model[std::string(field)].is_number());
    }
    CHECK(model["recall"].get<double>() >= 0);
    CHECK(model["recall"].get<double>() <= 1);
  }
  CHECK(json["config"]["learner.dim"] == 8);
  CHECK(json["config"]["learner.learning_rate"].is_number_float());
  CHECK(json["config"]["baselines.popularity_decay.half_life"] == "7d");
  CHECK(!json["config"].contains("state.dir"));

  const std::string svg = ReadFile(svg_path);
  CHECK(svg.starts_with("<svg"));
  CHECK(Count(svg, "<polyline") == 4);
  CHECK(svg.find("events.jsonl") != std::string::npos);
  CHECK(svg.find("item-knn") != std::string::npos);
  CHECK(svg.find("href") == std::string::npos);  // self-contained
}

TEST_CASE("evaluate --plot .html embeds the SVG and --models and --min-rating filter", "[apps]") {
  TempDir dir;
  const std::string input = dir.Sub("ratings.csv");
  std::ofstream(input) << "userId,movieId,rating,timestamp\r\n1,10,5,964982703\r\n1,11,2,964982704\r\n"
                          "2,10,4,964982705\r\n2,12,5,964982706\r\n3,10,4.5,964982707\r\n3,12,1,964982708\r\n"
                          "1,12,5,964982709\r\n";
  const std::string html_path = dir.Sub("plot.html");
  const std::string json_path = dir.Sub("r.json");
  auto result =
      RunCli({"evaluate", "--input", input, "--format", "movielens-csv", "--models", "popularity,isgd",
              "--min-rating", "4", "--window", "1", "--plot", html_path, "--json", json_path});
  INFO(result.err);
  REQUIRE(result.code == 0);
  const std::string html = ReadFile(html_path);
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(Count(html, "<svg") == 1);
  CHECK(Count(html, "<polyline") == 2);
  auto json = nlohmann::ordered_json::parse(ReadFile(json_path), nullptr, false);
  CHECK(json["events"] == 5);  // ratings 2 and 1 dropped
  CHECK(json["models"].size() == 2);
  CHECK(json["models"].begin().key() == "popularity");  // --models order
}

}  // namespace
}  // namespace streamrec::apps
