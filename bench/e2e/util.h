#pragma once

// Small helpers of the end-to-end bench: clocks, process memory, directory
// sizes, percentiles, temporary directories, flags.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "streamrec/base/status.h"

namespace streamrec::bench {

using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

int64_t WallMs();
double SecondsSince(SteadyClock::time_point start);
// Seconds since the process started (its first call).
double SecondsSinceStart();

// VmRSS and VmHWM of this process from /proc/self/status, in bytes.
struct ProcessMemory {
  uint64_t rss = 0;
  uint64_t peak = 0;
};
ProcessMemory ReadProcessMemory();

// Disk usage of a directory tree as `du` counts it (allocated blocks), and
// its apparent size (sum of file sizes), in bytes.
struct DirUsage {
  uint64_t allocated = 0;
  uint64_t apparent = 0;
};
DirUsage MeasureDir(const std::string& dir);

// The p-th percentile (0..100) by linear interpolation; NaN when empty.
double Percentile(std::vector<double> values, double p);

// A fresh directory under $TMPDIR (or /tmp), removed with its content when
// the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// --name=value / --name value flags, and repeated --set key=value.
class Flags {
 public:
  // Fails on a positional argument or a flag without a value.
  static Result<Flags> Parse(int argc, char** argv);
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetString(const std::string& name, const std::string& fallback) const;
  Result<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  Result<double> GetDouble(const std::string& name, double fallback) const;
  bool Has(const std::string& name) const { return values_.contains(name); }
  const std::vector<std::string>& sets() const { return sets_; }
  std::vector<std::string> Unused(const std::vector<std::string>& known) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> sets_;
};

// "1000,5000" -> {1000, 5000}.
Result<std::vector<double>> ParseList(const std::string& text);

// A progress line on stderr ("[bench] ...").
template <typename... Args>
void Progress(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "[bench {:.1f}s] {}\n", SecondsSinceStart(), fmt::format(format, std::forward<Args>(args)...));
}

// The statistics reported for a set of repeated measurements.
Json Summary(const std::vector<double>& values);

}  // namespace streamrec::bench
