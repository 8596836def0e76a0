#include "streamrec/base/thread_name.h"

#include <pthread.h>

#include <string>

namespace streamrec {

void SetThreadName(std::string_view name) {
  constexpr size_t kLinuxLimit = 15;
  const std::string cut(name.substr(0, kLinuxLimit));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace streamrec
