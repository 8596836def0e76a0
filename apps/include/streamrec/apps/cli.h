#pragma once

// The `streamrec` command line: parses the sub-command and its flags, loads
// the config, runs the sub-command and returns the process exit code:
// 0 success, 1 a runtime failure, 2 a usage or config error. Never throws:
// every error ends as one line "streamrec: error: ..." on `err`.

#include <ostream>
#include <string>
#include <vector>

namespace streamrec::apps {

// `args` excludes the program name. Tests call this with string streams.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// main(): Run() on stdout and stderr.
int Main(int argc, char** argv);

}  // namespace streamrec::apps
