#include "streamrec/base/allocator.h"

#include <malloc.h>

#include <cstddef>

// jemalloc's control entry point. Weak: null unless jemalloc is in the
// process, so base needs neither its header nor its library.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) __attribute__((weak));

namespace streamrec {

std::string AllocatorName() {
  if (mallctl == nullptr) return "glibc";
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  // "5.3.0-0-g<commit>": the release is enough to tell builds apart.
  const std::string release(version);
  return "jemalloc " + release.substr(0, release.find('-'));
}

uint64_t HeapAllocatedBytes() {
  if (mallctl == nullptr) {
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;  // arena chunks in use plus mmap'd ones
  }
  // jemalloc's statistics are a snapshot taken when the epoch advances.
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  mallctl("epoch", &epoch, &size, &epoch, size);
  size_t allocated = 0;
  size = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0) return 0;
  return allocated;
}

void ReleaseFreeMemory() {
  if (mallctl == nullptr) {
    malloc_trim(0);
    return;
  }
  // 4096 is MALLCTL_ARENAS_ALL: every arena.
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

}  // namespace streamrec
