#include "streamrec/online_learner/learner.h"

#include <algorithm>
#include <utility>

#include "streamrec/base/hash.h"

namespace streamrec::online_learner {

bool DedupWindow::Admit(std::string_view event_id) {
  if (capacity_ == 0) return true;
  const uint64_t hash = HashBytes(event_id);
  if (!hashes_.insert(hash).second) return false;
  const Entry entry{next_position_++, hash};
  order_.push_back(entry);
  changes_.added.push_back(entry);
  Evict();
  return true;
}

void DedupWindow::Evict() {
  while (order_.size() > capacity_) {
    hashes_.erase(order_.front().hash);
    changes_.evicted.push_back(order_.front().position);
    order_.pop_front();
  }
}

DedupWindow::Changes DedupWindow::TakeChanges() {
  Changes out = std::exchange(changes_, {});
  // An id admitted and evicted within one batch never needs to reach the
  // store: drop the pair rather than write a key and delete it again.
  if (!out.added.empty() && !out.evicted.empty()) {
    const uint64_t first_kept = out.added.front().position;
    auto evicted_added = std::find_if(out.evicted.begin(), out.evicted.end(),
                                      [&](uint64_t p) { return p >= first_kept; });
    const size_t dropped = static_cast<size_t>(out.evicted.end() - evicted_added);
    out.evicted.erase(evicted_added, out.evicted.end());
    out.added.erase(out.added.begin(), out.added.begin() + static_cast<std::ptrdiff_t>(dropped));
  }
  return out;
}

void DedupWindow::Import(const std::vector<Entry>& entries) {
  order_.assign(entries.begin(), entries.end());
  hashes_.clear();
  for (const Entry& e : order_) hashes_.insert(e.hash);
  next_position_ = order_.empty() ? 0 : order_.back().position + 1;
  changes_ = {};
  Evict();
}

std::vector<DedupWindow::Entry> DedupWindow::Export() const { return {order_.begin(), order_.end()}; }

Learner::Learner(const IsgdOptions& options, size_t dedup_window) : model_(options), dedup_(dedup_window) {}

uint32_t Learner::InternItem(const std::string& item_id) {
  bool created = false;
  const uint32_t i = items_.Intern(item_id, &created);
  if (created) model_.AddItem(ItemIndex(i), HashBytes(item_id));
  return i;
}

ApplyResult Learner::Apply(const schemas::Event& event) {
  if (event.event_id && !dedup_.Admit(*event.event_id)) {
    const auto u = users_.Find(event.user_id);
    return {ApplyOutcome::kDuplicate, u ? std::optional(UserIndex(*u)) : std::nullopt};
  }
  if (event.type == schemas::EventType::kForget) {
    const auto u = users_.Find(event.user_id);
    if (u) {
      model_.ForgetUser(UserIndex(*u));
      users_.Erase(event.user_id);
    }
    return {ApplyOutcome::kForgotten, u ? std::optional(UserIndex(*u)) : std::nullopt};
  }
  bool created = false;
  const uint32_t u = users_.Intern(event.user_id, &created);
  const uint64_t user_key = HashBytes(event.user_id);
  if (created) model_.AddUser(UserIndex(u), user_key);
  const uint32_t i = InternItem(event.item_id);
  model_.Learn({UserIndex(u), ItemIndex(i), user_key, HashBytes(event.item_id), event.type, event.ts_ms, event.value});
  return {ApplyOutcome::kLearned, UserIndex(u)};
}

void Learner::ApplyItem(const schemas::Item& item) {
  model_.SetAvailable(ItemIndex(InternItem(item.item_id)), item.available);
}

}  // namespace streamrec::online_learner
