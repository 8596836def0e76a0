#include "kill_point.h"

#include <csignal>

#include "streamrec/base/logging.h"

namespace streamrec::apps {

KillSwitch::KillSwitch(const TestingOptions& options)
    : after_batches_(static_cast<uint64_t>(options.kill_after_batches)) {
  // The config table admits only these names, so anything else is "none".
  if (options.kill_point == "after_store_write") {
    armed_ = true;
    point_ = KillPoint::kAfterStoreWrite;
  } else if (options.kill_point == "mid_publish") {
    armed_ = true;
    point_ = KillPoint::kMidPublish;
  } else if (options.kill_point == "before_commit") {
    armed_ = true;
    point_ = KillPoint::kBeforeCommit;
  }
  if (armed_) {
    Logger(kLogApp)->warn("testing.kill_point={}: this process will kill itself after {} batches", options.kill_point,
                          after_batches_);
  }
}

void KillSwitch::Reached(KillPoint point, uint64_t batches_written) const {
  if (!armed_ || point != point_ || batches_written < after_batches_) return;
  // SIGKILL cannot be caught: nothing after this line runs, as with kill -9.
  std::raise(SIGKILL);
}

}  // namespace streamrec::apps
