#pragma once

// The registry of sub-commands. A command is a table row: name, one-line
// summary, usage line, its own flags and a handler. The CLI adds --config,
// --set and --help to every command, loads the config before calling the
// handler, and turns the handler's Status into the exit code
// (kInvalidArgument = a usage or config error, exit 2; anything else, exit 1).
//
// To add a command: write `Command FooCommand()` in foo_command.cc, declare
// it below and list it in Commands() (cli.cc).

#include <ostream>
#include <string_view>
#include <vector>

#include "flags.h"
#include "streamrec/apps/config.h"
#include "streamrec/base/status.h"

namespace streamrec::apps {

struct CommandContext {
  const ParsedFlags& flags;
  const Settings& settings;  // defaults, then --config, then --set
  std::ostream& out;         // results
  std::ostream& err;         // warnings and progress
};

struct Command {
  std::string_view name;
  std::string_view summary;  // one line, for `streamrec --help`
  std::string_view usage;    // flags after "streamrec <name> "
  std::vector<FlagSpec> flags;
  Status (*run)(const CommandContext& context);
};

// Every command, in the order `streamrec --help` lists them.
const std::vector<Command>& Commands();

Command EvaluateCommand();
Command InspectCommand();
Command ConfigCommand();
Command RunCommand();
Command DemoCommand();
Command BrokerCommand();
Command ProduceCommand();
Command SnapshotCommand();
Command RestoreCommand();

}  // namespace streamrec::apps
