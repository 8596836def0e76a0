#pragma once

// Expiry: keeps the learner's state bounded, in the manner of Monolith's
// expirable embeddings. A user with no event for `user_ttl_ms` is removed
// exactly as a forget removes it; an item that is unavailable and has had no
// positive event for `item_retire_ms` is retired (its vectors zeroed, its id
// and store row dropped).
//
// Time is stream time: the newest event ts the learner has applied, never
// the wall clock, so a replay, `evaluate` and a restarted pipeline expire
// the same users at the same events. Expiry is checked in scans, not per
// event: a scan runs when stream time enters a new scan period (a fixed grid
// of stream time, ScanPeriodMs()), so whether an event triggers a scan
// depends only on the stream times before and after it. A user idle longer
// than the TTL is therefore gone at most one scan period after it crossed
// the TTL.
//
// Thread-safety: none; owned by the learner's thread.

#include <cstdint>
#include <optional>

namespace streamrec::online_learner {

struct ExpiryOptions {
  // Users with no event for this long (stream time, ms) are removed as if
  // they had asked to be forgotten. 0 = never. Default: 0, so replays of old
  // logs keep every user unless asked.
  int64_t user_ttl_ms = 0;
  // Items unavailable (items topic) for this long (stream time, ms), counted
  // from the later of their last positive event and the stream time they
  // were marked unavailable, are retired. 0 = never. Default: 0.
  int64_t item_retire_ms = 0;

  bool enabled() const { return user_ttl_ms > 0 || item_retire_ms > 0; }
};

// Stream time and the scan schedule derived from it.
class ExpiryClock {
 public:
  explicit ExpiryClock(const ExpiryOptions& options);

  const ExpiryOptions& options() const { return options_; }
  // Scan period: an eighth of the shortest enabled horizon, between 1 s and
  // 1 h, so a scan (linear in the users and items held) runs a bounded
  // number of times per TTL and expiry is late by at most 1/8 of it.
  int64_t ScanPeriodMs() const { return period_ms_; }

  // Moves stream time to `ts_ms` if that is newer. True when expiry is
  // enabled and stream time entered a new scan period (or is set for the
  // first time).
  bool Advance(int64_t ts_ms);
  // Sets stream time as a store recorded it, after a restart: the next
  // Advance then scans exactly when an uninterrupted run would.
  void Restore(int64_t stream_time_ms) { stream_time_ms_ = stream_time_ms; }
  std::optional<int64_t> stream_time_ms() const { return stream_time_ms_; }

  // A user whose newest event is older than this is due (user TTL on).
  bool UserDue(int64_t last_active_ms) const;
  // An unavailable item whose newest positive event is older than this is
  // due (item retirement on).
  bool ItemDue(int64_t last_active_ms) const;

 private:
  ExpiryOptions options_;
  int64_t period_ms_ = 0;
  std::optional<int64_t> stream_time_ms_;
};

}  // namespace streamrec::online_learner
