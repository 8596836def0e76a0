#pragma once

// One named spdlog logger per component. Loggers are created on first use and
// share the default sink, so the level set by the CLI applies to all.

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

namespace streamrec {

inline constexpr std::string_view kLogBase = "base";
inline constexpr std::string_view kLogSchemas = "schemas";
inline constexpr std::string_view kLogLearner = "learner";
inline constexpr std::string_view kLogState = "state";
inline constexpr std::string_view kLogKafka = "kafka";
inline constexpr std::string_view kLogIngest = "ingest";
inline constexpr std::string_view kLogServing = "serving";
inline constexpr std::string_view kLogApp = "app";

// The logger of a component (one of the names above).
std::shared_ptr<spdlog::logger> Logger(std::string_view name);

// Sets the level of every logger, current and future ("info", "debug"...).
void SetLogLevel(spdlog::level::level_enum level);

}  // namespace streamrec
