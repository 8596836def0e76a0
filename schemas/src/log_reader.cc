#include "streamrec/schemas/log_reader.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <system_error>
#include <variant>

#include "streamrec/schemas/codec.h"

namespace streamrec::schemas {
namespace {

constexpr std::string_view kMovieLensCsvHeader = "userId,movieId,rating,timestamp";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
// Bytes of the offending field quoted in a bad-line reason.
constexpr size_t kMaxQuotedBytes = 40;

std::string Quote(std::string_view text) {
  std::string quoted = "'";
  quoted.append(text.substr(0, kMaxQuotedBytes));
  if (text.size() > kMaxQuotedBytes) quoted += "...";
  quoted += "'";
  return quoted;
}

// A MovieLens id: the decimal digits as written ("007" stays "007").
std::optional<std::string> ReadMovieLensId(std::string_view name, std::string_view text,
                                           std::string& out) {
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return std::string(name) + " " + Quote(text) + " is not a decimal integer";
  if (auto rejection = CheckId(name, text)) return rejection->ToString();
  out.assign(text);
  return std::nullopt;
}

// One MovieLens row (user, item, rating, seconds) split at `separator` into a
// rating event; the reason when the row is bad.
std::optional<std::string> ParseMovieLensRow(std::string_view line, char separator, Event& event) {
  std::array<std::string_view, 4> fields;
  size_t count = 0;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(separator, start);
    if (count < fields.size()) fields[count] = line.substr(start, end - start);
    ++count;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (count != fields.size()) {
    return "expected 4 fields separated by " + std::string(separator == '\t' ? "tabs" : "commas") +
           ", got " + std::to_string(count);
  }
  if (auto error = ReadMovieLensId("user", fields[0], event.user_id)) return error;
  if (auto error = ReadMovieLensId("item", fields[1], event.item_id)) return error;

  double rating;
  const std::string_view rating_text = fields[2];
  const auto rating_end = rating_text.data() + rating_text.size();
  const auto parsed_rating = std::from_chars(rating_text.data(), rating_end, rating);
  if (parsed_rating.ec != std::errc() || parsed_rating.ptr != rating_end ||
      !std::isfinite(rating)) {
    return "rating " + Quote(rating_text) + " is not a finite number";
  }

  int64_t seconds;
  const std::string_view ts_text = fields[3];
  const auto ts_end = ts_text.data() + ts_text.size();
  const auto parsed_ts = std::from_chars(ts_text.data(), ts_end, seconds);
  if (parsed_ts.ec != std::errc() || parsed_ts.ptr != ts_end) {
    return "timestamp " + Quote(ts_text) + " is not an integer number of seconds";
  }
  // The same range as ParseEvent: from 1990 on, and ms must fit in 64 bits.
  constexpr int64_t kMinSeconds = kMinTimestampMs / 1000;
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000;
  if (seconds < kMinSeconds || seconds > kMaxSeconds) {
    return "timestamp " + std::to_string(seconds) + " s is outside [" +
           std::to_string(kMinSeconds) + " (1990-01-01), " + std::to_string(kMaxSeconds) + "]";
  }
  event.type = EventType::kRating;
  event.ts_ms = seconds * 1000;
  event.value = rating;
  return std::nullopt;
}

void AddBadLine(EventLog& log, uint64_t line_number, std::string reason) {
  ++log.bad_line_count;
  if (log.bad_lines.size() < kMaxBadLinesKept) {
    log.bad_lines.push_back({line_number, std::move(reason)});
  }
}

}  // namespace

Result<LogFormat> LogFormatFromName(std::string_view name) {
  for (const LogFormat format :
       {LogFormat::kMovieLensCsv, LogFormat::kMovieLensTsv, LogFormat::kJsonl}) {
    if (LogFormatName(format) == name) return format;
  }
  return Status::InvalidArgument("unknown log format '" + std::string(name) +
                                 "' (expected movielens-csv, movielens-tsv or jsonl)");
}

std::string_view LogFormatName(LogFormat format) {
  switch (format) {
    case LogFormat::kMovieLensCsv:
      return "movielens-csv";
    case LogFormat::kMovieLensTsv:
      return "movielens-tsv";
    case LogFormat::kJsonl:
      return "jsonl";
  }
  return "unknown";
}

EventLog ParseEventLog(std::string_view contents, LogFormat format) {
  EventLog log;
  // Editors on Windows start text files with a byte-order mark.
  if (contents.starts_with(kUtf8Bom)) contents.remove_prefix(kUtf8Bom.size());
  // One pass to count lines (memchr-fast) saves the vector's regrowth.
  log.events.reserve(static_cast<size_t>(std::count(contents.begin(), contents.end(), '\n')) + 1);

  uint64_t line_number = 0;
  size_t pos = 0;
  while (pos < contents.size()) {
    size_t end = contents.find('\n', pos);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;

    switch (format) {
      case LogFormat::kMovieLensCsv:
      case LogFormat::kMovieLensTsv: {
        // The header is optional, so a headerless export reads too.
        if (format == LogFormat::kMovieLensCsv && line_number == 1 && line == kMovieLensCsvHeader) {
          break;
        }
        Event event;
        auto error =
            ParseMovieLensRow(line, format == LogFormat::kMovieLensCsv ? ',' : '\t', event);
        if (error) {
          AddBadLine(log, line_number, std::move(*error));
        } else {
          log.events.push_back(std::move(event));
        }
        break;
      }
      case LogFormat::kJsonl: {
        auto parsed = ParseEvent(line);
        if (auto* rejection = std::get_if<Rejection>(&parsed)) {
          AddBadLine(log, line_number,
                     std::string(RejectCode(rejection->reason)) + ": " + rejection->ToString());
        } else {
          log.events.push_back(std::move(std::get<Event>(parsed)));
        }
        break;
      }
    }
  }
  return log;
}

Result<EventLog> ReadEventLog(const std::string& path, LogFormat format) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) {
    const int error = errno;
    std::string message = "cannot open '" + path + "': " + std::strerror(error);
    return error == ENOENT ? Status::NotFound(std::move(message))
                           : Status::IoError(std::move(message));
  }
  // Chunked reads also work for pipes and other files without a size.
  std::string contents;
  constexpr size_t kChunk = 1 << 20;
  while (true) {
    const size_t old_size = contents.size();
    contents.resize(old_size + kChunk);
    const size_t got = std::fread(contents.data() + old_size, 1, kChunk, file.get());
    contents.resize(old_size + got);
    if (got < kChunk) break;
  }
  if (std::ferror(file.get())) {
    return Status::IoError("cannot read '" + path + "': " + std::strerror(errno));
  }
  return ParseEventLog(contents, format);
}

void SortByTime(std::vector<Event>& events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.ts_ms < b.ts_ms; });
}

}  // namespace streamrec::schemas
