#include "streamrec/base/logging.h"

#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace streamrec {
namespace {
std::mutex& LoggerMutex() {
  static std::mutex m;
  return m;
}
spdlog::level::level_enum& CurrentLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
}  // namespace

std::shared_ptr<spdlog::logger> Logger(std::string_view name) {
  std::lock_guard lock(LoggerMutex());
  std::string key(name);
  if (auto existing = spdlog::get(key)) return existing;
  // Logs go to stderr so stdout stays clean for reports and digests.
  auto logger = spdlog::stderr_color_mt(key);
  logger->set_level(CurrentLevel());
  return logger;
}

void SetLogLevel(spdlog::level::level_enum level) {
  std::lock_guard lock(LoggerMutex());
  CurrentLevel() = level;
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

}  // namespace streamrec
