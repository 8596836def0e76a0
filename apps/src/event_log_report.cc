#include "event_log_report.h"

#include <algorithm>

#include <fmt/format.h>

namespace streamrec::apps {
namespace {
constexpr size_t kBadLinesShown = 10;
}  // namespace

void ReportBadLines(const schemas::EventLog& log, const std::string& input, std::string_view command,
                    std::ostream& err) {
  if (log.bad_line_count == 0) return;
  err << fmt::format("streamrec {}: warning: skipped {} bad line{} in {}\n", command, log.bad_line_count,
                     log.bad_line_count == 1 ? "" : "s", input);
  const size_t shown = std::min(kBadLinesShown, log.bad_lines.size());
  for (size_t i = 0; i < shown; ++i) {
    err << fmt::format("  line {}: {}\n", log.bad_lines[i].line_number, log.bad_lines[i].reason);
  }
  if (log.bad_line_count > shown) err << fmt::format("  ... and {} more\n", log.bad_line_count - shown);
}

}  // namespace streamrec::apps
