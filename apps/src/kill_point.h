#pragma once

// Crash injection for the crash tests (config testing.kill_point, see
// TestingOptions): the pipeline calls Reached() at each named point of its
// batch cycle, and the configured one raises SIGKILL on the process — the
// same death as `kill -9`, with no destructor, flush or commit running —
// so a test can crash exactly between two steps whose order matters.

#include <cstdint>
#include <string_view>

#include "streamrec/apps/config.h"

namespace streamrec::apps {

enum class KillPoint {
  kAfterStoreWrite,  // the batch is durable; nothing published or committed
  kMidPublish,       // one list of a refresh round handed to the producer
  kBeforeCommit,     // tombstones published; Kafka offsets not committed
};

class KillSwitch {
 public:
  KillSwitch() = default;  // never fires
  explicit KillSwitch(const TestingOptions& options);
  // Kills the process when `point` is the configured point and at least
  // testing.kill_after_batches batches were written. A no-op by default.
  void Reached(KillPoint point, uint64_t batches_written) const;

 private:
  bool armed_ = false;
  KillPoint point_ = KillPoint::kAfterStoreWrite;
  uint64_t after_batches_ = 1;
};

}  // namespace streamrec::apps
