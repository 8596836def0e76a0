#include "streamrec/base/allocator.h"

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

}  // namespace streamrec
