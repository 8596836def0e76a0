#pragma once

// Flags of a sub-command: `--name VALUE`, `--name=VALUE` or a bare switch
// `--name`. Each command declares its flags as FlagSpecs; parsing rejects
// anything undeclared, naming it, so typos never pass silently.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "streamrec/base/status.h"

namespace streamrec::apps {

struct FlagSpec {
  std::string_view name;        // without the leading "--"
  std::string_view value_name;  // "FILE", "N"...; empty for a switch
  std::string_view help;
  bool repeatable = false;
  bool hidden = false;  // accepted but left out of --help
};

class ParsedFlags {
 public:
  bool Has(std::string_view name) const { return values_.contains(name); }
  // The value of a flag given once, if given.
  std::optional<std::string> Get(std::string_view name) const;
  // Every value of a repeatable flag, in order.
  std::vector<std::string> All(std::string_view name) const;

  // An integer flag in [min, max], or `fallback` when absent.
  Result<int64_t> GetInt(std::string_view name, int64_t fallback, int64_t min, int64_t max) const;
  // A number flag, if given.
  Result<std::optional<double>> GetNumber(std::string_view name) const;

  void Add(std::string_view name, std::string value) {
    values_[std::string(name)].push_back(std::move(value));
  }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// Parses `args` (everything after the command name) against `specs`.
// Errors (kInvalidArgument) name the flag and the command.
Result<ParsedFlags> ParseFlags(std::span<const std::string> args, std::span<const FlagSpec> specs,
                               std::string_view command);

// The aligned "  --name VALUE   help" lines of --help.
std::string FormatFlagHelp(std::span<const FlagSpec> specs);

}  // namespace streamrec::apps
