#pragma once

// Learner: the one update path from a valid event to the model, shared by
// `streamrec run` (events from Kafka) and `streamrec evaluate` (events from a
// log file). It owns the id maps and the ISGD model, drops duplicate
// event_ids within a window, applies forgets and catalog updates, and
// expires idle users and retires long-unavailable items in stream time
// (expiry.h). An expired user is removed exactly as a forget removes it; the
// caller collects expired users and retired items with TakeExpiredUsers()
// and TakeRetiredItems() after each Apply() and deletes their store rows.
//
// Thread-safety: none; the learner thread owns it.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "streamrec/online_learner/expiry.h"
#include "streamrec/online_learner/id_map.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/schemas/event.h"

namespace streamrec::online_learner {

// Remembers the last `capacity` event ids, so a redelivered event (same
// event_id) is dropped rather than learned twice.
//
// Ids are kept as 64-bit hashes (HashBytes): the window then costs 8 bytes
// per id whatever the ids' length, and the store's copy of it holds no id in
// clear, so a forgotten user's event ids (which often embed the user id)
// leave no key behind. Two distinct ids collide with probability 2^-64 per
// pair, i.e. about capacity * 2^-64 per event: negligible.
//
// The window is durable state (DESIGN.md, step 4): each admitted id gets the
// next position, TakeChanges() hands what was admitted and evicted since the
// last call to the store batch, and Import() rebuilds the window after a
// restart, so an event redelivered across a restart is still dropped.
class DedupWindow {
 public:
  struct Entry {
    uint64_t position = 0;  // 0 for the first id ever admitted, then +1 each
    uint64_t hash = 0;      // HashBytes(event_id)
    bool operator==(const Entry&) const = default;
  };
  struct Changes {
    std::vector<Entry> added;          // in position order
    std::vector<uint64_t> evicted;     // positions, ascending
    bool empty() const { return added.empty() && evicted.empty(); }
  };

  explicit DedupWindow(size_t capacity) : capacity_(capacity) {}
  // True the first time `event_id` is offered within the window.
  bool Admit(std::string_view event_id);

  // What was admitted and evicted since the last call.
  Changes TakeChanges();
  // Replaces the window with `entries` (ascending positions, as stored),
  // keeping the newest `capacity` of them; the older ones count as evicted,
  // so the next TakeChanges() deletes them from the store (the window may
  // have been configured smaller since they were written). Not a change
  // otherwise.
  void Import(const std::vector<Entry>& entries);
  // The ids held, oldest first.
  std::vector<Entry> Export() const;

  size_t capacity() const { return capacity_; }
  size_t size() const { return order_.size(); }

 private:
  void Evict();

  size_t capacity_;
  uint64_t next_position_ = 0;
  std::deque<Entry> order_;
  std::unordered_set<uint64_t> hashes_;
  Changes changes_;
};

enum class ApplyOutcome {
  kLearned,    // the model learned from the event
  kDuplicate,  // an event_id seen within the dedup window: dropped
  kForgotten,  // a forget event: the user's state is gone
};

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kLearned;
  // The user's index (before erasure, for a forget); empty when a forget or
  // duplicate names a user the model does not know.
  std::optional<UserIndex> user;
};

class Learner {
 public:
  // `dedup_window`: event ids remembered for duplicate detection.
  // `expiry`: user TTL and item retirement (off by default). With a user
  // TTL the user id map reuses erased indices (IdMap), so memory stays
  // bounded by the users live at once.
  Learner(const IsgdOptions& options, size_t dedup_window, const ExpiryOptions& expiry = {});

  // Applies one valid event (schemas/ validated it). A non-duplicate event
  // first advances stream time; when that starts a new scan period, idle
  // users expire and long-unavailable items retire before the event is
  // applied (so an expired user's own late event starts it afresh).
  ApplyResult Apply(const schemas::Event& event);
  // Records an item's availability (from the `items` topic).
  void ApplyItem(const schemas::Item& item);

  struct ExpiredUser {
    std::string id;
    UserIndex index;  // before erasure; may already be reused by a new user
  };
  // Users expired since the last call, in expiry order. Each must be handled
  // like a forgotten user (store row and pending entry deleted, tombstone).
  std::vector<ExpiredUser> TakeExpiredUsers() { return std::exchange(expired_users_, {}); }
  // Ids of items retired since the last call: their store rows are deleted.
  std::vector<std::string> TakeRetiredItems() { return std::exchange(retired_items_, {}); }
  // Stream time (newest event ts applied) and the scan schedule. After a
  // restart, RestoreStreamTime() with the stored value keeps scans where an
  // uninterrupted run has them.
  const ExpiryClock& expiry() const { return expiry_; }
  void RestoreStreamTime(int64_t stream_time_ms) { expiry_.Restore(stream_time_ms); }

  IsgdModel& model() { return model_; }
  const IsgdModel& model() const { return model_; }
  IdMap& users() { return users_; }
  const IdMap& users() const { return users_; }
  IdMap& items() { return items_; }
  const IdMap& items() const { return items_; }
  DedupWindow& dedup() { return dedup_; }
  const DedupWindow& dedup() const { return dedup_; }

 private:
  uint32_t InternItem(const std::string& item_id);
  // The one removal path of a user, for forgets and expiry alike.
  std::optional<UserIndex> EraseUser(std::string_view user_id);
  void Expire();

  IsgdModel model_;
  IdMap users_;
  IdMap items_;
  DedupWindow dedup_;
  ExpiryClock expiry_;
  std::vector<ExpiredUser> expired_users_;
  std::vector<std::string> retired_items_;
};

}  // namespace streamrec::online_learner
