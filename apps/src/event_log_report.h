#pragma once

// How commands that read an event log (evaluate, produce) report its bad
// lines: a count, the first few with their line numbers, never fatal.

#include <ostream>
#include <string>
#include <string_view>

#include "streamrec/schemas/log_reader.h"

namespace streamrec::apps {

void ReportBadLines(const schemas::EventLog& log, const std::string& input, std::string_view command,
                    std::ostream& err);

}  // namespace streamrec::apps
