#pragma once

// Which malloc serves this process, and what it holds. The executables link
// jemalloc (STREAMREC_JEMALLOC, cmake/streamrec.cmake): the pipeline hands
// thousands of small buffers a batch between its threads, which glibc's
// arenas serve slowly. `streamrec --version` and the benchmark results name
// it, so a figure can be told from one taken with another allocator.

#include <cstdint>
#include <string>

namespace streamrec {

// "jemalloc <release>" when jemalloc is linked (or preloaded), else "glibc".
std::string AllocatorName();

// Bytes handed out by malloc and not yet freed.
uint64_t HeapAllocatedBytes();

// Returns freed memory to the OS now rather than on the allocator's own
// schedule (jemalloc purges after ~10 s), so that RSS measured next shows
// what is live.
void ReleaseFreeMemory();

}  // namespace streamrec
