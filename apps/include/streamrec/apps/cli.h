#pragma once

// The `streamrec` command line: parses the sub-command and its flags, loads
// the config, runs the sub-command and returns the process exit code. Never
// throws: errors end as one clear line on stderr and a non-zero code.

namespace streamrec::apps {

int Main(int argc, char** argv);

}  // namespace streamrec::apps
