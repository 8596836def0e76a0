#include "text.h"

#include <algorithm>
#include <array>
#include <climits>
#include <charconv>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace streamrec::apps {
namespace {

// Levenshtein distance with one rolling row.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(value)) return std::nullopt;
  return value;
}

double ShortestDouble(float value) {
  // fmt prints the shortest text that reads back as the same float.
  return ParseNumber(fmt::format("{}", value)).value_or(static_cast<double>(value));
}

std::optional<std::string_view> ClosestMatch(std::string_view word,
                                             const std::vector<std::string_view>& candidates) {
  // A quarter of the word (at least 2) may differ: catches "learner.dimm" and
  // "learner.learningrate" without offering "state.dir" for "state.foo".
  const size_t tolerance = std::max<size_t>(2, word.size() / 4);
  std::optional<std::string_view> best;
  size_t best_distance = tolerance + 1;
  for (std::string_view candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates,
                       std::string_view prefix) {
  auto match = ClosestMatch(word, candidates);
  return match ? fmt::format("; did you mean '{}{}'?", prefix, *match) : std::string();
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  while (!text.empty()) {
    const size_t end = std::min(text.find(separator), text.size());
    if (end > 0) pieces.push_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return pieces;
}

namespace {

struct DurationUnit {
  std::string_view suffix;
  int64_t ms;
};
// Largest first, so formatting picks the largest unit that divides exactly.
constexpr std::array<DurationUnit, 5> kDurationUnits = {
    {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

}  // namespace

std::string FormatDuration(int64_t ms) {
  for (const auto& unit : kDurationUnits) {
    if (ms != 0 && ms % unit.ms == 0) return fmt::format("{}{}", ms / unit.ms, unit.suffix);
  }
  return "0ms";
}

std::optional<int64_t> ParseDuration(std::string_view text) {
  const size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos) return std::nullopt;
  const auto count = ParseInt(text.substr(0, digits));
  for (const auto& unit : kDurationUnits) {
    if (count && text.substr(digits) == unit.suffix && *count <= INT64_MAX / unit.ms) {
      return *count * unit.ms;
    }
  }
  return std::nullopt;
}

}  // namespace streamrec::apps
