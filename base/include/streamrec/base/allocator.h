#pragma once

// Which malloc serves this process. The executables link jemalloc
// (STREAMREC_JEMALLOC, cmake/streamrec.cmake): the pipeline hands thousands
// of small buffers a batch between its threads, which glibc's arenas serve
// slowly. `streamrec --version`, the run log and benchmark results name it,
// so a figure can be told from one taken with another allocator.

#include <string>

namespace streamrec {

// "jemalloc <release>" when jemalloc is linked (or preloaded), else "glibc".
std::string AllocatorName();

}  // namespace streamrec
