#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <sys/wait.h>

#include "cli_support.h"
#include "streamrec/apps/config.h"
#include "streamrec/base/allocator.h"
#include "support/test_support.h"

namespace streamrec::apps {
namespace {

bool Contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

TEST_CASE("help lists the commands and --version prints the version", "[apps]") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"}, {"-h"}, {"help"}}) {
    auto result = RunCli(args);
    CHECK(result.code == 0);
    CHECK(Contains(result.out, "evaluate"));
    CHECK(Contains(result.out, "inspect"));
    CHECK(Contains(result.out, "config"));
  }
  auto version = RunCli({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out.starts_with("streamrec "));
  CHECK(Contains(version.out, "(" + AllocatorName() + ")"));

  auto none = RunCli({});
  CHECK(none.code == 2);
  CHECK(Contains(none.err, "Usage: streamrec <command>"));
}

TEST_CASE("a command's help lists its flags and the config keys", "[apps]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"evaluate", "--help"}, {"help", "evaluate"}}) {
    auto result = RunCli(args);
    CHECK(result.code == 0);
    CHECK(Contains(result.out, "Usage: streamrec evaluate"));
    CHECK(Contains(result.out, "--input FILE"));
    CHECK(Contains(result.out, "--set KEY=VALUE"));
    CHECK(Contains(result.out, "learner.dim"));
    CHECK(!Contains(result.out, "--markdown"));
  }
}

TEST_CASE("usage errors print one line and exit 2", "[apps]") {
  const auto check = [](const std::vector<std::string>& args, const std::string& message) {
    auto result = RunCli(args);
    CHECK(result.code == 2);
    CHECK(result.err == "streamrec: error: " + message + "\n");
  };
  check({"evalute"}, "unknown command 'evalute'; did you mean 'evaluate'? (see `streamrec --help`)");
  check({"--verbose"}, "unknown flag '--verbose' (see `streamrec --help`)");
  check({"evaluate", "--frmat", "jsonl"},
        "unknown flag '--frmat' for 'streamrec evaluate'; did you mean '--format'?");
  check({"evaluate", "--format=jsonl", "x"}, "unexpected argument 'x' for 'streamrec evaluate'");
  check({"evaluate", "--input"}, "flag --input needs a value (FILE)");
  check({"evaluate", "--top", "1", "--top", "2"}, "flag --top given more than once");
  check({"config", "--set", "learner.dimm=3"},
        "unknown config key 'learner.dimm'; did you mean 'learner.dim'?");
  check({"config", "--set", "learner.dim=abc"},
        "config key 'learner.dim': expected an integer in [1, 1024], got 'abc'");
  check({"evaluate"}, "evaluate needs --input FILE and --format movielens-csv|movielens-tsv|jsonl");
  check({"evaluate", "--input", "x", "--format", "jsonl", "--models", "isgd,magic"},
        "unknown model 'magic'; known models: isgd, popularity, popularity-decay, item-knn");
  check({"evaluate", "--input", "x", "--format", "jsonl", "--plot", "a.png"},
        "--plot writes .svg or .html, got 'a.png'");
  check({"evaluate", "--input", "x", "--format", "jsonl", "--models", "popularity", "--state", "d"},
        "--state stores the ISGD model, so --models must include isgd");
  check({"inspect", "--state", "d"}, "inspect needs exactly one of --digest, --user ID, --item ID, --event-counts");
}

TEST_CASE("a missing config file is a usage error naming the path", "[apps]") {
  auto result = RunCli({"config", "--config", "/nonexistent/streamrec.toml"});
  CHECK(result.code == 2);
  CHECK(Contains(result.err, "/nonexistent/streamrec.toml"));
}

TEST_CASE("runtime failures exit 1", "[apps]") {
  testing::TempDir dir;
  auto result = RunCli({"evaluate", "--input", dir.Sub("missing.jsonl"), "--format", "jsonl"});
  CHECK(result.code == 1);
  CHECK(Contains(result.err, "missing.jsonl"));
}

TEST_CASE("config shows effective values beside defaults", "[apps]") {
  testing::TempDir dir;
  const std::string path = dir.Sub("c.toml");
  std::ofstream(path) << "[learner]\ndim = 16\n[kafka]\n\"security.protocol\" = \"SSL\"\n";
  auto result = RunCli({"config", "--config", path, "--set", "learner.dim=32", "--set", "state.sync=true"});
  REQUIRE(result.code == 0);
  std::istringstream lines(result.out);
  std::string line;
  std::map<std::string, std::vector<std::string>> rows;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string key, value, fallback;
    words >> key >> value >> fallback;
    rows[key] = {value, fallback};
  }
  CHECK(rows["learner.dim"] ==
        std::vector<std::string>{"32", std::to_string(online_learner::IsgdOptions().dim)});
  CHECK(rows["state.sync"] == std::vector<std::string>{"true", "false"});
  CHECK(rows["kafka.security.protocol"] == std::vector<std::string>{"SSL", "-"});
  CHECK(rows.size() == ConfigTable().size() + 2);  // + header + passthrough key
}

TEST_CASE("docs/config.md is the output of `streamrec config --markdown`", "[apps]") {
  auto result = RunCli({"config", "--markdown"});
  REQUIRE(result.code == 0);
  std::ifstream file(testing::SourceDir() / "docs" / "config.md", std::ios::binary);
  std::stringstream docs;
  docs << file.rdbuf();
  INFO("regenerate with: build/streamrec config --markdown > docs/config.md");
  CHECK(docs.str() == result.out);
  for (const auto& key : ConfigTable()) CHECK(Contains(result.out, "`" + key.name + "`"));
}

TEST_CASE("the built binary maps errors to exit codes", "[apps]") {
  const std::string binary = (streamrec::testing::BinaryDir() / "streamrec").string();
  REQUIRE(std::filesystem::exists(binary));
  const auto exit_code = [&](const std::string& args) {
    const int status = std::system((binary + " " + args + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  CHECK(exit_code("--version") == 0);
  CHECK(exit_code("no-such-command") == 2);
  CHECK(exit_code("config --set learner.dim=0") == 2);
  CHECK(exit_code("evaluate --input /nonexistent --format jsonl") == 1);
}

}  // namespace
}  // namespace streamrec::apps
