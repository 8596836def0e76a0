#include "streamrec/serving/refresher.h"

#include <algorithm>

namespace streamrec::serving {

void Refresher::Touch(UserIndex user, int64_t event_ts_ms, uint64_t batch_seq, int64_t now_ms) {
  auto [it, inserted] = waiting_.try_emplace(user, DueUser{user, event_ts_ms, now_ms, batch_seq});
  if (!inserted) {
    it->second.newest_event_ts_ms = std::max(it->second.newest_event_ts_ms, event_ts_ms);
    it->second.batch_seq = std::max(it->second.batch_seq, batch_seq);
  }
}

void Refresher::Forget(UserIndex user) {
  waiting_.erase(user);
  last_refresh_ms_.erase(user);
}

std::vector<DueUser> Refresher::TakeDue(int64_t now_ms, size_t max, bool ignore_interval) {
  std::vector<DueUser> due;
  for (const auto& [user, entry] : waiting_) {
    if (!ignore_interval) {
      auto last = last_refresh_ms_.find(user);
      if (last != last_refresh_ms_.end() && now_ms - last->second < min_interval_ms_) continue;
    }
    due.push_back(entry);
  }
  // Stalest first; the index breaks ties so the order is deterministic.
  const auto by_wait = [](const DueUser& a, const DueUser& b) {
    return a.touched_at_ms != b.touched_at_ms ? a.touched_at_ms < b.touched_at_ms : a.user < b.user;
  };
  if (due.size() > max) {
    std::nth_element(due.begin(), due.begin() + static_cast<std::ptrdiff_t>(max), due.end(), by_wait);
    due.resize(max);
  }
  std::sort(due.begin(), due.end(), by_wait);
  for (const DueUser& d : due) {
    waiting_.erase(d.user);
    last_refresh_ms_[d.user] = now_ms;
  }
  return due;
}

}  // namespace streamrec::serving
