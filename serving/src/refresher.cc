#include "streamrec/serving/refresher.h"

#include <algorithm>

namespace streamrec::serving {

void Refresher::Touch(DueUser touch) {
  auto it = waiting_.find(touch.user);
  if (it == waiting_.end()) {
    waiting_.emplace(touch.user, std::move(touch));
    return;
  }
  DueUser& entry = it->second;
  entry.newest_event_ts_ms = std::max(entry.newest_event_ts_ms, touch.newest_event_ts_ms);
  entry.batch_seq = std::max(entry.batch_seq, touch.batch_seq);
  entry.user_id = std::move(touch.user_id);
  entry.cold = touch.cold;
  entry.vector = std::move(touch.vector);
  entry.seen = std::move(touch.seen);
}

void Refresher::Forget(UserIndex user) {
  waiting_.erase(user);
  last_refresh_ms_.erase(user);
}

std::optional<int64_t> Refresher::NextDueMs() const {
  std::optional<int64_t> next;
  for (const auto& [user, entry] : waiting_) {
    auto last = last_refresh_ms_.find(user);
    int64_t due = entry.touched_at_ms + gather_ms_;
    if (last != last_refresh_ms_.end()) due = std::max(due, last->second + min_interval_ms_);
    if (!next || due < *next) next = due;
  }
  return next;
}

std::vector<DueUser> Refresher::TakeDue(int64_t now_ms, size_t max, bool ignore_interval) {
  struct Candidate {
    int64_t touched_at_ms;
    UserIndex user;
    bool operator<(const Candidate& o) const {
      // Stalest first; the index breaks ties so the order is deterministic.
      return touched_at_ms != o.touched_at_ms ? touched_at_ms < o.touched_at_ms : user < o.user;
    }
  };
  std::vector<Candidate> candidates;
  for (const auto& [user, entry] : waiting_) {
    if (!ignore_interval) {
      auto last = last_refresh_ms_.find(user);
      if (last != last_refresh_ms_.end() && now_ms - last->second < min_interval_ms_) continue;
    }
    candidates.push_back({entry.touched_at_ms, user});
  }
  if (!ignore_interval && gather_ms_ > 0 && candidates.size() < std::min(gather_users_, max)) {
    const auto stalest = std::min_element(candidates.begin(), candidates.end());
    if (stalest == candidates.end() || now_ms - stalest->touched_at_ms < gather_ms_) return {};
  }
  if (candidates.size() > max) {
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(max), candidates.end());
    candidates.resize(max);
  }
  std::sort(candidates.begin(), candidates.end());
  std::vector<DueUser> due;
  due.reserve(candidates.size());
  for (const Candidate& c : candidates) {
    auto it = waiting_.find(c.user);
    due.push_back(std::move(it->second));
    waiting_.erase(it);
    last_refresh_ms_[c.user] = now_ms;
  }
  // A refresh older than the interval no longer holds anyone back: drop it,
  // so this map stays as small as the set of recently refreshed users.
  if (last_refresh_ms_.size() > 2 * (waiting_.size() + max)) {
    std::erase_if(last_refresh_ms_, [&](const auto& e) { return now_ms - e.second >= min_interval_ms_; });
  }
  return due;
}

}  // namespace streamrec::serving
