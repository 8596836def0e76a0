#include "flags.h"

#include <algorithm>

#include <fmt/format.h>

#include "text.h"

namespace streamrec::apps {
namespace {

const FlagSpec* FindSpec(std::span<const FlagSpec> specs, std::string_view name) {
  auto it = std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

Status UnknownFlag(std::string_view flag, std::span<const FlagSpec> specs, std::string_view command) {
  std::vector<std::string_view> names;
  for (const auto& spec : specs) {
    if (!spec.hidden) names.push_back(spec.name);
  }
  const std::string_view name = flag.starts_with("--") ? flag.substr(2) : flag;
  return Status::InvalidArgument(
      fmt::format("unknown flag '{}' for 'streamrec {}'{}", flag, command, DidYouMean(name, names, "--")));
}

}  // namespace

std::optional<std::string> ParsedFlags::Get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedFlags::All(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<int64_t> ParsedFlags::GetInt(std::string_view name, int64_t fallback, int64_t min, int64_t max) const {
  auto text = Get(name);
  if (!text) return fallback;
  auto value = ParseInt(*text);
  if (!value || *value < min || *value > max) {
    return Status::InvalidArgument(
        fmt::format("--{} expects an integer in [{}, {}], got '{}'", name, min, max, *text));
  }
  return *value;
}

Result<std::optional<double>> ParsedFlags::GetNumber(std::string_view name) const {
  auto text = Get(name);
  if (!text) return std::optional<double>();
  auto value = ParseNumber(*text);
  if (!value) return Status::InvalidArgument(fmt::format("--{} expects a number, got '{}'", name, *text));
  return value;
}

Result<ParsedFlags> ParseFlags(std::span<const std::string> args, std::span<const FlagSpec> specs,
                               std::string_view command) {
  ParsedFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      return Status::InvalidArgument(
          fmt::format("unexpected argument '{}' for 'streamrec {}'", arg, command));
    }
    const size_t equals = arg.find('=');
    const std::string_view name = arg.substr(2, equals == std::string_view::npos ? arg.npos : equals - 2);
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) return UnknownFlag(arg.substr(0, equals), specs, command);
    if (flags.Has(name) && !spec->repeatable) {
      return Status::InvalidArgument(fmt::format("flag --{} given more than once", name));
    }
    if (spec->value_name.empty()) {
      if (equals != std::string_view::npos) {
        return Status::InvalidArgument(fmt::format("flag --{} takes no value", name));
      }
      flags.Add(name, "");
    } else if (equals != std::string_view::npos) {
      flags.Add(name, std::string(arg.substr(equals + 1)));
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      flags.Add(name, args[++i]);
    } else {
      return Status::InvalidArgument(fmt::format("flag --{} needs a value ({})", name, spec->value_name));
    }
  }
  return flags;
}

std::string FormatFlagHelp(std::span<const FlagSpec> specs) {
  std::vector<std::pair<std::string, std::string_view>> rows;
  size_t width = 0;
  for (const auto& spec : specs) {
    if (spec.hidden) continue;
    std::string left = fmt::format("--{}", spec.name);
    if (!spec.value_name.empty()) left += fmt::format(" {}", spec.value_name);
    width = std::max(width, left.size());
    rows.emplace_back(std::move(left), spec.help);
  }
  std::string out;
  for (const auto& [left, help] : rows) out += fmt::format("  {:<{}}  {}\n", left, width, help);
  return out;
}

}  // namespace streamrec::apps
