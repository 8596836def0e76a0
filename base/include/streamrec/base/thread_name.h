#pragma once

// Names the calling thread as `top -H`, `ps -L` and gdb show it, so an
// operator can tell which of streamrec's threads uses the CPU (librdkafka
// names its own "rdk:..."). Linux keeps 15 characters; longer names are cut.

#include <string_view>

namespace streamrec {

void SetThreadName(std::string_view name);

}  // namespace streamrec
