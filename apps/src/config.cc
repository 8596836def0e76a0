#include "streamrec/apps/config.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <filesystem>
#include <type_traits>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "streamrec/base/logging.h"
#include "text.h"

namespace streamrec::apps {
namespace {

constexpr std::string_view kKafkaPrefix = "kafka.";

std::string FormatBound(const ConfigKey& key, double bound) {
  if (key.type == ConfigType::kDuration) return FormatDuration(static_cast<int64_t>(bound));
  if (key.type == ConfigType::kInt) return fmt::format("{}", static_cast<int64_t>(bound));
  return fmt::format("{}", bound);
}

// Stores a parsed value in the key's field. The table pairs every type with
// a field that holds it (a test sets every key), so a mismatch is a bug.
template <typename V>
void Assign(const FieldRef& field, const V& value) {
  std::visit(
      [&](auto* target) {
        using Target = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_convertible_v<V, Target>) {
          *target = static_cast<Target>(value);
        } else {
          assert(false && "config key bound to a field of another type");
        }
      },
      field);
}

// A string field takes the text, an enum field the value of the choice.
void AssignText(const FieldRef& field, std::string_view text, size_t choice) {
  std::visit(
      [&](auto* target) {
        using Target = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<Target, std::string>) {
          *target = text;
        } else if constexpr (std::is_enum_v<Target>) {
          *target = static_cast<Target>(choice);
        } else {
          assert(false && "string config key bound to a field of another type");
        }
      },
      field);
}

Status SetTableKey(const ConfigKey& key, std::string_view text, Settings& settings) {
  const FieldRef field = key.bind(settings);
  const auto in_bounds = [&](auto v) { return v >= key.min && v <= key.max; };
  switch (key.type) {
    case ConfigType::kInt:
      if (auto v = ParseInt(text); v && in_bounds(*v)) {
        Assign(field, *v);
        return Status::Ok();
      }
      break;
    case ConfigType::kFloat:
      if (auto v = ParseNumber(text); v && in_bounds(*v)) {
        Assign(field, *v);
        return Status::Ok();
      }
      break;
    case ConfigType::kDuration:
      if (auto v = ParseDuration(text); v && in_bounds(*v)) {
        Assign(field, *v);
        return Status::Ok();
      }
      break;
    case ConfigType::kBool:
      if (text == "true" || text == "false") {
        Assign(field, text == "true");
        return Status::Ok();
      }
      break;
    case ConfigType::kString: {
      const auto choice = std::find(key.choices.begin(), key.choices.end(), text);
      if (key.choices.empty() ? (key.may_be_empty || !text.empty()) : choice != key.choices.end()) {
        AssignText(field, text, static_cast<size_t>(choice - key.choices.begin()));
        return Status::Ok();
      }
      break;
    }
  }
  return Status::InvalidArgument(
      fmt::format("config key '{}': expected {}, got '{}'", key.name, ConfigExpectation(key), text));
}

bool IsKafkaPassthrough(std::string_view name) {
  return name.starts_with(kKafkaPrefix) && name.size() > kKafkaPrefix.size();
}

Status UnknownKey(std::string_view name) {
  std::vector<std::string_view> names;
  for (const auto& key : ConfigTable()) names.push_back(key.name);
  std::string hint = DidYouMean(name, names);
  if (hint.empty()) hint = " (`streamrec config` lists every key)";
  return Status::InvalidArgument(fmt::format("unknown config key '{}'{}", name, hint));
}

// TOML scalars become the same text `--set` would carry, so both sources go
// through one parser and one set of error messages.
std::optional<std::string> ScalarText(const toml::node& node) {
  if (const auto* v = node.as_string()) return v->get();
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return fmt::format("{}", v->get());
  if (const auto* v = node.as_boolean()) return std::string(v->get() ? "true" : "false");
  return std::nullopt;
}

Status ApplyNode(const std::string& name, const toml::node& node, Settings& settings) {
  if (auto text = ScalarText(node)) return SetConfig(name, *text, settings);
  const ConfigKey* key = FindConfigKey(name);
  if (key == nullptr && !IsKafkaPassthrough(name)) return UnknownKey(name);
  return Status::InvalidArgument(fmt::format("config key '{}': expected {}, got {}", name,
                                             key ? ConfigExpectation(*key) : "a single value",
                                             node.is_array() ? "an array" : "a date or time"));
}

Status ApplyTable(const toml::table& table, const std::string& prefix, const std::string& path,
                  Settings& settings) {
  for (const auto& [toml_key, node] : table) {
    const std::string name =
        prefix.empty() ? std::string(toml_key.str()) : prefix + "." + std::string(toml_key.str());
    if (const auto* sub = node.as_table()) {
      STREAMREC_RETURN_IF_ERROR(ApplyTable(*sub, name, path, settings));
      continue;
    }
    Status status = ApplyNode(name, node, settings);
    if (!status.ok()) return status.WithContext(fmt::format("{}:{}", path, node.source().begin.line));
  }
  return Status::Ok();
}

}  // namespace

const ConfigKey* FindConfigKey(std::string_view name) {
  for (const auto& key : ConfigTable()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

ConfigValue GetConfigValue(const ConfigKey& key, const Settings& settings) {
  // bind() hands out a mutable pointer so one accessor serves reads and
  // writes; this path only reads through it.
  const FieldRef field = key.bind(const_cast<Settings&>(settings));
  return std::visit(
      [&](auto* source) -> ConfigValue {
        using Source = std::remove_pointer_t<decltype(source)>;
        if constexpr (std::is_same_v<Source, std::string> || std::is_same_v<Source, bool>) {
          return *source;
        } else if constexpr (std::is_enum_v<Source>) {
          return std::string(key.choices.at(static_cast<size_t>(*source)));
        } else if constexpr (std::is_same_v<Source, float>) {
          return ShortestDouble(*source);
        } else if (key.type == ConfigType::kDuration) {
          return FormatDuration(static_cast<int64_t>(*source));
        } else {
          return static_cast<int64_t>(*source);
        }
      },
      field);
}

std::string FormatConfigValue(const ConfigKey& key, const Settings& settings) {
  return std::visit(
      [](const auto& value) -> std::string {
        using V = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<V, std::string>) {
          return value;
        } else {
          return fmt::format("{}", value);
        }
      },
      GetConfigValue(key, settings));
}

std::string ConfigExpectation(const ConfigKey& key) {
  const std::string bounds = fmt::format("[{}, {}]", FormatBound(key, key.min), FormatBound(key, key.max));
  switch (key.type) {
    case ConfigType::kInt:
      return "an integer in " + bounds;
    case ConfigType::kFloat:
      return "a number in " + bounds;
    case ConfigType::kDuration:
      return "a duration (250ms, 5s, 10m, 2h, 7d) in " + bounds;
    case ConfigType::kBool:
      return "true or false";
    case ConfigType::kString:
      if (!key.choices.empty()) return fmt::format("one of {}", fmt::join(key.choices, ", "));
      return key.may_be_empty ? "a string (may be empty)" : "a non-empty string";
  }
  return "";
}

Status SetConfig(std::string_view name, std::string_view text, Settings& settings) {
  if (const ConfigKey* key = FindConfigKey(name)) return SetTableKey(*key, text, settings);
  if (!IsKafkaPassthrough(name)) return UnknownKey(name);
  const std::string property(name.substr(kKafkaPrefix.size()));
  auto& passthrough = settings.kafka.passthrough;
  auto it = std::find_if(passthrough.begin(), passthrough.end(),
                         [&](const auto& entry) { return entry.first == property; });
  if (it == passthrough.end()) {
    passthrough.emplace_back(property, text);
  } else {
    it->second = text;
  }
  return Status::Ok();
}

Status ApplySetFlag(std::string_view assignment, Settings& settings) {
  const size_t equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return Status::InvalidArgument(fmt::format("--set expects KEY=VALUE, got '{}'", assignment));
  }
  return SetConfig(assignment.substr(0, equals), assignment.substr(equals + 1), settings);
}

Status ApplyConfigFile(const std::string& path, Settings& settings) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::InvalidArgument(fmt::format("config file '{}' does not exist or is not a file", path));
  }
  toml::table root;
  // toml++ as Debian builds it reports parse errors by exception; they stop here.
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: invalid TOML: {}", path, e.source().begin.line, e.description()));
  }
  return ApplyTable(root, "", path, settings);
}

Result<Settings> LoadSettings(const std::optional<std::string>& file,
                              std::span<const std::string> assignments) {
  Settings settings;
  if (file) STREAMREC_RETURN_IF_ERROR(ApplyConfigFile(*file, settings));
  for (const auto& assignment : assignments) STREAMREC_RETURN_IF_ERROR(ApplySetFlag(assignment, settings));
  return settings;
}

void ApplyLogLevel(const Settings& settings) { SetLogLevel(spdlog::level::from_str(settings.log.level)); }

std::vector<std::pair<std::string, std::string>> KafkaProperties(const Settings& settings) {
  std::vector<std::pair<std::string, std::string>> properties;
  for (const auto& key : ConfigTable()) {
    if (key.name.starts_with(kKafkaPrefix)) {
      properties.emplace_back(key.name.substr(kKafkaPrefix.size()), FormatConfigValue(key, settings));
    }
  }
  properties.insert(properties.end(), settings.kafka.passthrough.begin(), settings.kafka.passthrough.end());
  return properties;
}

std::string ConfigMarkdown() {
  std::string md = R"(# Configuration

<!-- Generated by `streamrec config --markdown` from apps/src/config_table.cc; a test keeps the two equal. -->

Every key has a built-in default, so a config file is optional. Any `streamrec` sub-command reads an
optional TOML file given with `--config FILE`, then applies each `--set KEY=VALUE` in order (a later
one wins). Nested TOML tables map to dotted keys:

```toml
[learner]
dim = 64
weight.purchase = 4.0

[kafka]
"security.protocol" = "SASL_SSL"
```

Keys starting with `kafka.` that the table does not list are passed to librdkafka verbatim (prefix
removed, in the order given), so SASL/SSL and tuning settings need no code change. An unknown key is
an error that suggests the nearest known one. `streamrec config` prints the effective value of every key.

| key | accepts | default | meaning | sets |
| --- | --- | --- | --- | --- |
)";
  const Settings defaults;
  for (const auto& key : ConfigTable()) {
    const std::string value = FormatConfigValue(key, defaults);
    md += fmt::format("| `{}` | {} | {} | {} | `{}` |\n", key.name, ConfigExpectation(key),
                      value.empty() ? "(empty)" : "`" + value + "`", key.meaning, key.field);
  }
  return md;
}

}  // namespace streamrec::apps
