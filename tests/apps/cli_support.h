#pragma once

// Runs the `streamrec` command line in-process and captures what it prints;
// writes the small event logs the apps tests replay.

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "streamrec/apps/cli.h"
#include "support/test_support.h"

namespace streamrec::apps {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

inline CliResult RunCli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = Run(args, out, err);
  return {code, out.str(), err.str()};
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// 40 users in 4 taste groups, each clicking items of its group, plus two
// malformed lines: enough events for every model to score and learn.
inline std::string WriteEvents(const testing::TempDir& dir) {
  const std::string path = dir.Sub("events.jsonl");
  std::ofstream file(path);
  int64_t ts = 1'700'000'000'000;
  for (int round = 0; round < 12; ++round) {
    for (int user = 0; user < 40; ++user) {
      const int item = (user % 4) * 10 + (user * 7 + round * 3) % 10;
      file << fmt::format(R"({{"user_id":"u{}","item_id":"i{}","type":"click","ts":{}}})", user, item,
                          ts += 1000)
           << "\n";
    }
    if (round == 3)
      file << "{not json\n"
           << R"({"user_id":"u1","type":"click","ts":1})"
           << "\n";
  }
  return path;
}

}  // namespace streamrec::apps
