// `streamrec config`: the effective value of every key, with its default and
// meaning, so a config file and --set flags can be checked without running
// anything. The hidden --markdown prints docs/config.md.

#include <algorithm>

#include <fmt/format.h>

#include "command.h"

namespace streamrec::apps {
namespace {

Status RunConfig(const CommandContext& context) {
  if (context.flags.Has("markdown")) {
    context.out << ConfigMarkdown();
    return Status::Ok();
  }
  struct Row {
    std::string key, value, fallback;
    std::string_view meaning;
  };
  std::vector<Row> rows = {{"KEY", "VALUE", "DEFAULT", "MEANING"}};
  const Settings defaults;
  for (const auto& key : ConfigTable()) {
    std::string value = FormatConfigValue(key, context.settings);
    if (key.secret) value = value.empty() ? "(not set)" : "(set)";
    rows.push_back({key.name, std::move(value), FormatConfigValue(key, defaults), key.meaning});
  }
  for (const auto& [property, value] : context.settings.kafka.passthrough) {
    rows.push_back({"kafka." + property, value, "-", "passed to librdkafka verbatim"});
  }
  size_t key_width = 0, value_width = 0, default_width = 0;
  for (const auto& row : rows) {
    key_width = std::max(key_width, row.key.size());
    value_width = std::max(value_width, row.value.size());
    default_width = std::max(default_width, row.fallback.size());
  }
  for (const auto& row : rows) {
    context.out << fmt::format("{:<{}}  {:<{}}  {:<{}}  {}\n", row.key, key_width, row.value, value_width,
                               row.fallback, default_width, row.meaning);
  }
  return Status::Ok();
}

}  // namespace

Command ConfigCommand() {
  return {"config",
          "Print every config key with its effective value, default and meaning",
          "[--config FILE] [--set KEY=VALUE ...]",
          {{"markdown", "", "print the key table as Markdown (docs/config.md)", false, true}},
          RunConfig};
}

}  // namespace streamrec::apps
