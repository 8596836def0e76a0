// streamrec_bench_e2e: the end-to-end benchmarks of issue 5, run in one
// process against the embedded broker and real RocksDB stores, each beside
// its own in-run reference. Writes one JSON file; scripts/bench.sh turns it
// (with the micro benchmarks) into bench/results/<date>.md.
//
//   streamrec_bench_e2e --out results.json [--phases memory,evaluation,ingest,freshness]
//                       [--set KEY=VALUE ...]   pipeline config, as for `streamrec run`
//                       [--ingest-events 1e6 --ingest-users 1e5 --ingest-items 1e4 --partitions N
//                        --ingest-repeats 1]
//                       [--fresh-users 1e6 --fresh-items 1e5 --fresh-rates 1000,5000 --fresh-sq8-rates 5000
//                        --fresh-relay-rates <fresh-rates> --fresh-seconds 20 --fresh-warmup-seconds 3
//                        --fresh-event-partitions 1 --fresh-list-partitions 1 --fresh-feed-linger-ms 2
//                        --fresh-repeats 1]
//                       [--memory-users 1e6 --memory-items 1e6 --memory-ttl-users 1e6]
//                       [--eval-input ratings.csv --eval-synthetic-events 2e5 --eval-synthetic-items 2e4]
// Times are never asserted; the exit code only says whether every phase ran.

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "e2e/phases.h"
#include "streamrec/base/allocator.h"
#include "streamrec/base/logging.h"

namespace {

using namespace streamrec;
using namespace streamrec::bench;

constexpr const char* kUsage =
    "usage: streamrec_bench_e2e --out FILE [--phases memory,evaluation,ingest,freshness] [--set KEY=VALUE ...]\n"
    "       (phase flags: see bench/e2e/main.cc)\n";

int Main(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv);
  if (!flags.ok()) {
    std::cerr << flags.status().ToString() << "\n" << kUsage;
    return 2;
  }
  std::vector<std::string> known = kPhaseFlags;
  known.insert(known.end(), {"out", "phases", "log-level"});
  if (auto unused = flags->Unused(known); !unused.empty()) {
    std::cerr << "unknown flag --" << unused.front() << "\n" << kUsage;
    return 2;
  }
  SetLogLevel(spdlog::level::from_str(flags->GetString("log-level", "warn")));
  SecondsSinceStart();
  const std::string out_path = flags->GetString("out", "");
  std::stringstream phase_list(flags->GetString("phases", "memory,evaluation,ingest,freshness"));

  Json results;
  results["tool"] = "streamrec_bench_e2e";
  results["started_at_ms"] = WallMs();
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  results["host"] = host;
  results["cpus"] = sysconf(_SC_NPROCESSORS_ONLN);
  results["allocator"] = AllocatorName();
  results["sets"] = flags->sets();
  bool failed = false;
  std::string phase;
  while (std::getline(phase_list, phase, ',')) {
    const auto start = SteadyClock::now();
    Result<Json> section = Status::InvalidArgument("unknown phase '" + phase + "'");
    if (phase == "ingest") section = RunIngestBench(*flags, flags->sets());
    if (phase == "freshness") section = RunFreshnessBench(*flags, flags->sets());
    if (phase == "memory") section = RunMemoryBench(*flags, flags->sets());
    if (phase == "evaluation") section = RunEvaluationBench(*flags, flags->sets());
    if (section.ok()) {
      results[phase] = *section;
      results[phase]["phase_seconds"] = SecondsSince(start);
      Progress("{} done in {:.1f} s", phase, SecondsSince(start));
    } else {
      failed = true;
      results[phase] = {{"error", section.status().ToString()}};
      std::cerr << "streamrec_bench_e2e: " << phase << ": " << section.status().ToString() << "\n";
    }
    // Write after every phase, so a later failure keeps the earlier figures.
    if (!out_path.empty()) {
      std::ofstream out(out_path);
      out << results.dump(2) << "\n";
    }
  }
  if (out_path.empty()) std::cout << results.dump(2) << "\n";
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "streamrec_bench_e2e: " << e.what() << "\n";
    return 1;
  }
}
