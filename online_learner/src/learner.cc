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

Learner::Learner(const IsgdOptions& options, size_t dedup_window, const ExpiryOptions& expiry)
    : model_(options), users_(/*reuse_erased=*/expiry.user_ttl_ms > 0), dedup_(dedup_window), expiry_(expiry) {}

std::optional<UserIndex> Learner::EraseUser(std::string_view user_id) {
  const auto u = users_.Find(user_id);
  if (!u) return std::nullopt;
  model_.ForgetUser(UserIndex(*u));
  users_.Erase(user_id);
  return UserIndex(*u);
}

// A linear scan of the slots, but only once per scan period of stream time
// (ExpiryClock::ScanPeriodMs), so its cost per event is small; keeping users
// ordered by activity would cost a tree update on every event instead.
void Learner::Expire() {
  if (expiry_.options().user_ttl_ms > 0) {
    for (uint32_t u = 0; u < users_.size(); ++u) {
      const std::string_view id = users_.Name(u);
      if (id.empty() || !expiry_.UserDue(model_.UserLastActive(UserIndex(u)))) continue;
      std::string name(id);
      (void)EraseUser(name);
      expired_users_.push_back({std::move(name), UserIndex(u)});
    }
  }
  if (expiry_.options().item_retire_ms > 0) {
    for (uint32_t i = 0; i < items_.size(); ++i) {
      const std::string_view id = items_.Name(i);
      if (id.empty() || model_.IsAvailable(ItemIndex(i)) || !expiry_.ItemDue(model_.ItemLastActive(ItemIndex(i)))) {
        continue;
      }
      std::string name(id);
      model_.RetireItem(ItemIndex(i));
      items_.Erase(name);
      retired_items_.push_back(std::move(name));
    }
  }
}

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
  if (expiry_.Advance(event.ts_ms)) Expire();
  if (event.type == schemas::EventType::kForget) return {ApplyOutcome::kForgotten, EraseUser(event.user_id)};
  bool created = false;
  const uint32_t u = users_.Intern(event.user_id, &created);
  const uint64_t user_key = HashBytes(event.user_id);
  if (created) model_.AddUser(UserIndex(u), user_key);
  const uint32_t i = InternItem(event.item_id);
  model_.Learn({UserIndex(u), ItemIndex(i), user_key, HashBytes(event.item_id), event.type, event.ts_ms, event.value});
  return {ApplyOutcome::kLearned, UserIndex(u)};
}

void Learner::ApplyItem(const schemas::Item& item) {
  const ItemIndex i(InternItem(item.item_id));
  // Retirement counts from the later of the item's last positive event and
  // the stream time it was marked unavailable (kept in its row, so a restart
  // agrees). Only with retirement on: otherwise rows stay as they were.
  if (!item.available && model_.IsAvailable(i) && expiry_.options().item_retire_ms > 0 && expiry_.stream_time_ms()) {
    model_.TouchItem(i, *expiry_.stream_time_ms());
  }
  model_.SetAvailable(i, item.available);
}

}  // namespace streamrec::online_learner
