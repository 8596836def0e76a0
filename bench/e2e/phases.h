#pragma once

// The end-to-end bench's phases. Each returns its section of the results
// file; settings overrides (--set) apply to every pipeline they start.

#include <string>
#include <vector>

#include "e2e/util.h"

namespace streamrec::bench {

Result<Json> RunIngestBench(const Flags& flags, const std::vector<std::string>& sets);
Result<Json> RunFreshnessBench(const Flags& flags, const std::vector<std::string>& sets);
Result<Json> RunMemoryBench(const Flags& flags, const std::vector<std::string>& sets);
Result<Json> RunEvaluationBench(const Flags& flags, const std::vector<std::string>& sets);

// Flags each phase reads, for --help and unknown-flag detection.
inline const std::vector<std::string> kPhaseFlags = {
    "ingest-events", "ingest-users", "ingest-items", "partitions", "ingest-repeats",
    "fresh-users", "fresh-items", "fresh-rates", "fresh-sq8-rates", "fresh-relay-rates", "fresh-seconds", "fresh-warmup-seconds",
    "fresh-event-partitions", "fresh-list-partitions", "fresh-feed-linger-ms", "fresh-repeats",
    "memory-users", "memory-items", "memory-ttl-users",
    "eval-input", "eval-synthetic-events", "eval-synthetic-items"};

}  // namespace streamrec::bench
