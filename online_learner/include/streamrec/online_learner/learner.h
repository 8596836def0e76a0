#pragma once

// Learner: the one update path from a valid event to the model, shared by
// `streamrec run` (events from Kafka) and `streamrec evaluate` (events from a
// log file). It owns the id maps and the ISGD model, drops duplicate
// event_ids within a window, applies forgets and catalog updates.
//
// Thread-safety: none; the learner thread owns it.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>

#include "streamrec/online_learner/id_map.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/schemas/event.h"

namespace streamrec::online_learner {

// Remembers the last `capacity` event ids, so a redelivered event (same
// event_id) is dropped rather than learned twice.
class DedupWindow {
 public:
  explicit DedupWindow(size_t capacity) : capacity_(capacity) {}
  // True the first time `event_id` is offered within the window.
  bool Admit(const std::string& event_id);

 private:
  size_t capacity_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> ids_;
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
  Learner(const IsgdOptions& options, size_t dedup_window);

  // Applies one valid event (schemas/ validated it).
  ApplyResult Apply(const schemas::Event& event);
  // Records an item's availability (from the `items` topic).
  void ApplyItem(const schemas::Item& item);

  IsgdModel& model() { return model_; }
  const IsgdModel& model() const { return model_; }
  IdMap& users() { return users_; }
  const IdMap& users() const { return users_; }
  IdMap& items() { return items_; }
  const IdMap& items() const { return items_; }

 private:
  uint32_t InternItem(const std::string& item_id);

  IsgdModel model_;
  IdMap users_;
  IdMap items_;
  DedupWindow dedup_;
};

}  // namespace streamrec::online_learner
