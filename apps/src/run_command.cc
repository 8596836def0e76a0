// `streamrec run`: the streaming pipeline against any Kafka.

#include <csignal>

#include "command.h"
#include "pipeline.h"
#include "pipeline_backend.h"
#include "text.h"
#include "streamrec/base/logging.h"

namespace streamrec::apps {
namespace {

// The pipeline a SIGINT/SIGTERM stops: Stop() only stores an atomic flag, so
// calling it from the handler is safe.
std::atomic<Pipeline*> g_running{nullptr};

extern "C" void StopOnSignal(int /*signal*/) {
  if (Pipeline* p = g_running.load()) p->Stop();
}

Status RunRun(const CommandContext& context) {
  std::optional<std::chrono::milliseconds> stop_when_idle;
  if (auto text = context.flags.Get("stop-when-idle")) {
    auto ms = ParseDuration(*text);
    if (!ms) {
      return Status::InvalidArgument("--stop-when-idle: expected a duration such as 5s or 500ms, got '" + *text + "'");
    }
    stop_when_idle = std::chrono::milliseconds(*ms);
  }
  auto pipeline = Pipeline::Open(context.settings);
  if (!pipeline.ok()) return pipeline.status();
  auto http = HttpFrontEnd::Start(context.settings, **pipeline);
  if (!http.ok()) return http.status();
  if (*http) context.err << fmt::format("streamrec run: HTTP API and dashboard at {}/dashboard\n", (*http)->url());
  g_running.store(pipeline->get());
  auto previous_int = std::signal(SIGINT, StopOnSignal);
  auto previous_term = std::signal(SIGTERM, StopOnSignal);
  Status status = (*pipeline)->Run(stop_when_idle);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  g_running.store(nullptr);
  const PipelineStats stats = (*pipeline)->Stats();
  context.err << fmt::format(
      "streamrec run: {} events applied, {} dead-lettered, {} duplicates, {} forgotten; {} lists published, "
      "{} acknowledged; {} users, {} items\n",
      stats.events_applied, stats.dead_lettered, stats.duplicates, stats.forgotten, stats.lists_published,
      stats.lists_acknowledged, stats.users, stats.items);
  return status;
}

}  // namespace

Command RunCommand() {
  return {
      "run",
      "The streaming pipeline: consume events, learn, store, publish fresh lists",
      "[--stop-when-idle DURATION] [--config FILE] [--set KEY=VALUE ...]",
      {
          {"stop-when-idle", "DURATION",
           "exit once every partition is read to its end and nothing arrived for DURATION (e.g. 5s)"},
      },
      RunRun};
}

}  // namespace streamrec::apps
