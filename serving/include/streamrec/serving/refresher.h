#pragma once

// Refresher: decides whose list to recompute next. Users touched by learned
// events are coalesced (a user touched ten times in a second is refreshed
// once), refreshed at most once per `min_interval`, and handed out stalest
// first, so under load the users waiting longest go first and ingest never
// waits on top-N.
//
// Gathering: every top-N round reads the whole item matrix once, whatever
// the number of users in it, so a round for two users costs nearly what one
// for sixteen does. Unless `gather_users` are due, a user waits up to
// `gather` after its touch for others to join its round.
//
// Thread-safety: none; the pipeline thread owns it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "streamrec/base/ids.h"

namespace streamrec::serving {

struct DueUser {
  UserIndex user;
  int64_t newest_event_ts_ms = 0;  // event time of the newest event reflected
  int64_t touched_at_ms = 0;       // wall clock of the first touch not yet refreshed
  uint64_t batch_seq = 0;          // store batch that last touched the user
  // The user as of the newest touch, so the list can be computed away from
  // the model (RefreshWorker): id, cold flag, effective vector, seen items.
  std::string user_id;
  bool cold = false;
  std::vector<float> vector;
  std::vector<uint32_t> seen;
};

class Refresher {
 public:
  // Users whose round is compute-bound rather than one pass over the item
  // matrix (SmallBatchScores at dim 64: 16 users cost ~3 passes' time).
  static constexpr size_t kGatherUsers = 16;

  explicit Refresher(std::chrono::milliseconds min_interval, std::chrono::milliseconds gather = {},
                     size_t gather_users = kGatherUsers)
      : min_interval_ms_(min_interval.count()), gather_ms_(gather.count()), gather_users_(gather_users) {}

  // The user's state changed at `touch.touched_at_ms` (wall clock) through
  // an event with time `touch.newest_event_ts_ms`, stored in batch
  // `touch.batch_seq`; the query fields replace those of an earlier touch.
  void Touch(DueUser touch);
  // The user is gone: never refresh them (until touched again).
  void Forget(UserIndex user);
  // Up to `max` users due at `now_ms`, the longest waiting first; they leave
  // the queue and count as refreshed at `now_ms`. None while fewer than
  // min(gather_users, max) are due and the stalest was touched less than
  // `gather` ago; a multiple of gather_users while the newest users beyond
  // it were touched less than `gather` ago. `ignore_interval` hands out users regardless of
  // min_interval and gather (at shutdown).
  std::vector<DueUser> TakeDue(int64_t now_ms, size_t max, bool ignore_interval = false);
  size_t waiting() const { return waiting_.size(); }
  // When the next waiting user becomes due (wall clock), if any waits; may
  // be early by up to `gather` for a user held back by min_interval.
  std::optional<int64_t> NextDueMs() const;

 private:
  // (time, user): by touched_at_ms in ready_, by the end of its interval in
  // held_; ordered sets, so a round costs O(max log waiting), not a scan of
  // every waiting user (a paced or slow worker can have 100k waiting).
  using Slot = std::pair<int64_t, UserIndex>;
  struct Waiting {
    DueUser due;
    bool held = false;     // in held_ (refreshed less than min_interval ago)
    int64_t held_until = 0;
  };
  // Moves the users whose interval ended by `now_ms` (all: ignore_interval)
  // from held_ to ready_.
  void Release(int64_t now_ms, bool everyone);

  int64_t min_interval_ms_;
  int64_t gather_ms_;
  size_t gather_users_;
  std::unordered_map<UserIndex, Waiting> waiting_;
  std::set<Slot> ready_;  // may be refreshed now, stalest first
  std::set<Slot> held_;   // refreshed less than min_interval ago, by when that ends
  std::unordered_map<UserIndex, int64_t> last_refresh_ms_;
};

}  // namespace streamrec::serving
