#pragma once

// Readers of event log files, so evaluation and replay need no Kafka.
// Formats:
//   movielens-csv  header userId,movieId,rating,timestamp (seconds); CRLF ok
//   movielens-tsv  MovieLens-100K u.data: user \t item \t rating \t seconds
//   jsonl          one DESIGN.md event per line
// MovieLens rows become `rating` events with `value` = rating and
// ts_ms = seconds * 1000. A bad line is counted and reported with its line
// number, never fatal.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "streamrec/base/status.h"
#include "streamrec/schemas/event.h"

namespace streamrec::schemas {

enum class LogFormat { kMovieLensCsv, kMovieLensTsv, kJsonl };

// "movielens-csv" | "movielens-tsv" | "jsonl".
Result<LogFormat> LogFormatFromName(std::string_view name);
std::string_view LogFormatName(LogFormat format);

struct BadLine {
  uint64_t line_number;  // 1-based
  std::string reason;
};

struct EventLog {
  std::vector<Event> events;      // in file order
  std::vector<BadLine> bad_lines; // at most kMaxBadLinesKept kept ...
  uint64_t bad_line_count = 0;    // ... but all are counted
};
inline constexpr size_t kMaxBadLinesKept = 100;

// Reads the whole file. Fails only when the file cannot be opened or read.
Result<EventLog> ReadEventLog(const std::string& path, LogFormat format);
// The same over bytes already in memory (tests, stdin).
EventLog ParseEventLog(std::string_view contents, LogFormat format);

// Stable sort by ts_ms; ties keep file order.
void SortByTime(std::vector<Event>& events);

}  // namespace streamrec::schemas
