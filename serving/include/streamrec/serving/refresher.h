#pragma once

// Refresher: decides whose list to recompute next. Users touched by learned
// events are coalesced (a user touched ten times in a second is refreshed
// once), refreshed at most once per `min_interval`, and handed out stalest
// first, so under load the users waiting longest go first and ingest never
// waits on top-N.
//
// Thread-safety: none; the pipeline thread owns it.

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "streamrec/base/ids.h"

namespace streamrec::serving {

struct DueUser {
  UserIndex user;
  int64_t newest_event_ts_ms = 0;  // event time of the newest event reflected
  int64_t touched_at_ms = 0;       // wall clock of the first touch not yet refreshed
  uint64_t batch_seq = 0;          // store batch that last touched the user
};

class Refresher {
 public:
  explicit Refresher(std::chrono::milliseconds min_interval) : min_interval_ms_(min_interval.count()) {}

  // The user's state changed at `now_ms` (wall clock) through an event with
  // time `event_ts_ms`, stored in batch `batch_seq`.
  void Touch(UserIndex user, int64_t event_ts_ms, uint64_t batch_seq, int64_t now_ms);
  // The user is gone: never refresh them (until touched again).
  void Forget(UserIndex user);
  // Up to `max` users due at `now_ms`, the longest waiting first; they leave
  // the queue and count as refreshed at `now_ms`. `ignore_interval` hands out
  // users regardless of min_interval (at shutdown).
  std::vector<DueUser> TakeDue(int64_t now_ms, size_t max, bool ignore_interval = false);
  size_t waiting() const { return waiting_.size(); }

 private:
  int64_t min_interval_ms_;
  std::unordered_map<UserIndex, DueUser> waiting_;
  std::unordered_map<UserIndex, int64_t> last_refresh_ms_;
};

}  // namespace streamrec::serving
