#include "streamrec/online_learner/learner.h"

#include "streamrec/base/hash.h"

namespace streamrec::online_learner {

bool DedupWindow::Admit(const std::string& event_id) {
  if (capacity_ == 0) return true;
  if (!ids_.insert(event_id).second) return false;
  order_.push_back(event_id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

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
