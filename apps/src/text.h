#pragma once

// Small string helpers shared by the config table and the flag parser, so
// numbers are read and typos are answered the same way everywhere.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamrec::apps {

// The whole of `text` as a base-10 integer; nullopt on any stray character.
std::optional<int64_t> ParseInt(std::string_view text);

// Durations as config and flags write them: "250ms", "5s", "2m", "1h", "7d".
std::optional<int64_t> ParseDuration(std::string_view text);  // in milliseconds
std::string FormatDuration(int64_t ms);
// The whole of `text` as a finite number; nullopt otherwise.
std::optional<double> ParseNumber(std::string_view text);

// The double nearest the float's shortest decimal form, so reports show
// 0.05 rather than 0.05000000074505806 (the float widened as is).
double ShortestDouble(float value);

// The candidate nearest to `word` by edit distance, when it is close enough
// to be a plausible typo of it.
std::optional<std::string_view> ClosestMatch(std::string_view word,
                                             const std::vector<std::string_view>& candidates);
// "; did you mean 'x'?" for the closest candidate, or "" when none is close.
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates,
                       std::string_view prefix = "");

// Splits on `separator`, dropping empty pieces ("a,,b" -> {a, b}).
std::vector<std::string_view> Split(std::string_view text, char separator);

}  // namespace streamrec::apps
