#include "e2e/util.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace streamrec::bench {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

double SecondsSinceStart() {
  static const SteadyClock::time_point start = SteadyClock::now();
  return SecondsSince(start);
}

ProcessMemory ReadProcessMemory() {
  ProcessMemory out;
  std::ifstream in("/proc/self/status");
  std::string line;
  auto kib = [](const std::string& l) {
    std::istringstream fields(l.substr(l.find(':') + 1));
    uint64_t value = 0;
    fields >> value;
    return value * 1024;
  };
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) out.rss = kib(line);
    if (line.rfind("VmHWM:", 0) == 0) out.peak = kib(line);
  }
  return out;
}

DirUsage MeasureDir(const std::string& dir) {
  DirUsage out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    out.apparent += static_cast<uint64_t>(st.st_size);
  }
  return out;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double pos = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

TempDir::TempDir(const std::string& tag) {
  const char* tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/streamrec-bench-" + tag + "-XXXXXX";
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Result<Flags> Flags::Parse(int argc, char** argv) {
  Flags flags;
  for (int k = 1; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + arg + "'");
    arg = arg.substr(2);
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (k + 1 < argc) {
      value = argv[++k];
    } else {
      return Status::InvalidArgument("--" + arg + " needs a value");
    }
    if (arg == "set") {
      flags.sets_.push_back(value);
    } else {
      flags.values_[arg] = value;
    }
  }
  return flags;
}

std::optional<std::string> Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Flags::GetString(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

Result<int64_t> Flags::GetInt(const std::string& name, int64_t fallback) const {
  auto text = Get(name);
  if (!text) return fallback;
  // Accept 1e6 and 1000000 alike.
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  if (end == text->c_str() || *end != '\0' || value != std::floor(value)) {
    return Status::InvalidArgument("--" + name + ": expected an integer, got '" + *text + "'");
  }
  return static_cast<int64_t>(value);
}

Result<double> Flags::GetDouble(const std::string& name, double fallback) const {
  auto text = Get(name);
  if (!text) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  if (end == text->c_str() || *end != '\0') {
    return Status::InvalidArgument("--" + name + ": expected a number, got '" + *text + "'");
  }
  return value;
}

std::vector<std::string> Flags::Unused(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) {
    if (std::find(known.begin(), known.end(), name) == known.end()) out.push_back(name);
  }
  return out;
}

Result<std::vector<double>> ParseList(const std::string& text) {
  std::vector<double> out;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (part.empty()) continue;
    char* end = nullptr;
    const double value = std::strtod(part.c_str(), &end);
    if (end == part.c_str() || *end != '\0') return Status::InvalidArgument("not a number list: '" + text + "'");
    out.push_back(value);
  }
  return out;
}

Json Summary(const std::vector<double>& values) {
  Json out;
  out["median"] = Percentile(values, 50);
  out["min"] = values.empty() ? std::nan("") : *std::min_element(values.begin(), values.end());
  out["max"] = values.empty() ? std::nan("") : *std::max_element(values.begin(), values.end());
  out["runs"] = values;
  return out;
}

}  // namespace streamrec::bench
