#include "streamrec/apps/cli.h"

#include <algorithm>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "streamrec/base/allocator.h"
#include "text.h"

namespace streamrec::apps {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Given to every command, after its own flags.
const std::vector<FlagSpec>& CommonFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"config", "FILE", "TOML config file; nested tables map to dotted keys"},
      {"set", "KEY=VALUE", "override one config key (repeatable; a later one wins)", true},
      {"help", "", "show this help"},
  };
  return kFlags;
}

std::vector<FlagSpec> AllFlags(const Command& command) {
  std::vector<FlagSpec> flags = command.flags;
  flags.insert(flags.end(), CommonFlags().begin(), CommonFlags().end());
  return flags;
}

const Command* FindCommand(std::string_view name) {
  for (const auto& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string GeneralHelp() {
  std::string help = fmt::format(
      "streamrec {} - a streaming recommender\n\n"
      "Usage: streamrec <command> [flags]\n\nCommands:\n",
      STREAMREC_VERSION);
  size_t width = 0;
  for (const auto& command : Commands()) width = std::max(width, command.name.size());
  for (const auto& command : Commands()) {
    help += fmt::format("  {:<{}}  {}\n", command.name, width, command.summary);
  }
  help +=
      "\nEvery command takes --config FILE (TOML) and --set KEY=VALUE; `streamrec config` lists the keys.\n"
      "Run `streamrec <command> --help` for a command's flags.\n";
  return help;
}

std::string CommandHelp(const Command& command) {
  std::string help =
      fmt::format("Usage: streamrec {} {}\n\n{}\n\nFlags:\n{}\nConfig keys (--set KEY=VALUE):\n",
                  command.name, command.usage, command.summary, FormatFlagHelp(AllFlags(command)));
  const Settings defaults;
  size_t width = 0;
  for (const auto& key : ConfigTable()) width = std::max(width, key.name.size());
  for (const auto& key : ConfigTable()) {
    help += fmt::format("  {:<{}}  {} (default {})\n", key.name, width, key.meaning,
                        FormatConfigValue(key, defaults));
  }
  help += "  kafka.*  any other librdkafka property, passed through verbatim\n";
  return help;
}

int Fail(std::ostream& err, const Status& status) {
  err << "streamrec: error: " << status.message() << "\n";
  return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

int RunCommand(const Command& command, std::span<const std::string> args, std::ostream& out,
               std::ostream& err) {
  const std::vector<FlagSpec> specs = AllFlags(command);
  auto flags = ParseFlags(args, specs, command.name);
  if (!flags.ok()) return Fail(err, flags.status());
  if (flags->Has("help")) {
    out << CommandHelp(command);
    return kExitOk;
  }
  auto settings = LoadSettings(flags->Get("config"), flags->All("set"));
  if (!settings.ok()) return Fail(err, settings.status());
  ApplyLogLevel(*settings);
  Status status = command.run({*flags, *settings, out, err});
  return status.ok() ? kExitOk : Fail(err, status);
}

int Dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << GeneralHelp();
    return kExitUsage;
  }
  const std::string& first = args[0];
  if (first == "--version") {
    out << "streamrec " << STREAMREC_VERSION << " (" << AllocatorName() << ")\n";
    return kExitOk;
  }
  const bool help = first == "help" || first == "--help" || first == "-h";
  if (help && args.size() == 1) {
    out << GeneralHelp();
    return kExitOk;
  }
  // `streamrec help evaluate` is `streamrec evaluate --help`.
  const std::string& name = help ? args[1] : first;
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    std::vector<std::string_view> names;
    for (const auto& c : Commands()) names.push_back(c.name);
    const std::string what = name.starts_with("-") ? "flag" : "command";
    return Fail(err, Status::InvalidArgument(fmt::format("unknown {} '{}'{} (see `streamrec --help`)", what,
                                                         name, DidYouMean(name, names))));
  }
  if (help) {
    out << CommandHelp(*command);
    return kExitOk;
  }
  return RunCommand(*command, std::span(args).subspan(1), out, err);
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {DemoCommand(), BrokerCommand(), RunCommand(), ProduceCommand(), EvaluateCommand(), InspectCommand(), SnapshotCommand(), RestoreCommand(), ConfigCommand()};
  return kCommands;
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // The one place exceptions stop (std::bad_alloc, a library's throw):
  // nothing below is meant to throw, so this is a runtime failure.
  try {
    return Dispatch(args, out, err);
  } catch (const std::exception& e) {
    err << "streamrec: error: " << e.what() << "\n";
    return kExitFailure;
  }
}

int Main(int argc, char** argv) {
  return Run(std::vector<std::string>(argv + std::min(argc, 1), argv + argc), std::cout, std::cerr);
}

}  // namespace streamrec::apps
