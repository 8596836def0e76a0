#include "streamrec/serving/refresher.h"

#include <algorithm>
#include <iterator>

namespace streamrec::serving {

void Refresher::Touch(DueUser touch) {
  auto it = waiting_.find(touch.user);
  if (it == waiting_.end()) {
    Waiting entry{std::move(touch)};
    const UserIndex user = entry.due.user;
    if (auto last = last_refresh_ms_.find(user);
        last != last_refresh_ms_.end() && entry.due.touched_at_ms - last->second < min_interval_ms_) {
      entry.held = true;
      entry.held_until = last->second + min_interval_ms_;
      held_.emplace(entry.held_until, user);
    } else {
      ready_.emplace(entry.due.touched_at_ms, user);
    }
    waiting_.emplace(user, std::move(entry));
    return;
  }
  // Waiting already: it keeps its place (the first touch not refreshed).
  DueUser& entry = it->second.due;
  entry.newest_event_ts_ms = std::max(entry.newest_event_ts_ms, touch.newest_event_ts_ms);
  entry.batch_seq = std::max(entry.batch_seq, touch.batch_seq);
  entry.user_id = std::move(touch.user_id);
  entry.cold = touch.cold;
  entry.vector = std::move(touch.vector);
  entry.seen = std::move(touch.seen);
}

void Refresher::Forget(UserIndex user) {
  if (auto it = waiting_.find(user); it != waiting_.end()) {
    const Waiting& w = it->second;
    if (w.held) {
      held_.erase({w.held_until, user});
    } else {
      ready_.erase({w.due.touched_at_ms, user});
    }
    waiting_.erase(it);
  }
  last_refresh_ms_.erase(user);
}

std::optional<int64_t> Refresher::NextDueMs() const {
  std::optional<int64_t> next;
  if (!ready_.empty()) next = ready_.begin()->first + gather_ms_;
  // A held user is due at the later of its interval's end and its gather;
  // the interval's end is the earlier bound, and TakeDue then releases it.
  if (!held_.empty() && (!next || held_.begin()->first < *next)) next = held_.begin()->first;
  return next;
}

void Refresher::Release(int64_t now_ms, bool everyone) {
  while (!held_.empty() && (everyone || held_.begin()->first <= now_ms)) {
    const UserIndex user = held_.begin()->second;
    held_.erase(held_.begin());
    Waiting& w = waiting_.at(user);
    w.held = false;
    ready_.emplace(w.due.touched_at_ms, user);
  }
}

std::vector<DueUser> Refresher::TakeDue(int64_t now_ms, size_t max, bool ignore_interval) {
  Release(now_ms, ignore_interval);
  // Stalest first; the index breaks ties, so the order is deterministic.
  if (!ignore_interval && gather_ms_ > 0 && ready_.size() < std::min(gather_users_, max)) {
    if (ready_.empty() || now_ms - ready_.begin()->first < gather_ms_) return {};
  }
  // Whole groups of gather_users: the newest remainder, if none of it has
  // waited its gather yet, waits for the next round (int8 kernels score
  // users in tiles of 16, so a round of 17 costs what one of 32 does).
  size_t count = std::min(max, ready_.size());
  if (!ignore_interval && gather_ms_ > 0 && gather_users_ > 0 && count > gather_users_ &&
      count % gather_users_ != 0) {
    const size_t remainder = count % gather_users_;
    const auto oldest_of_remainder = std::next(ready_.begin(), static_cast<std::ptrdiff_t>(count - remainder));
    if (now_ms - oldest_of_remainder->first < gather_ms_) count -= remainder;
  }
  std::vector<DueUser> due;
  due.reserve(count);
  while (due.size() < count) {
    const UserIndex user = ready_.begin()->second;
    ready_.erase(ready_.begin());
    auto it = waiting_.find(user);
    due.push_back(std::move(it->second.due));
    waiting_.erase(it);
    last_refresh_ms_[user] = now_ms;
  }
  // A refresh older than the interval no longer holds anyone back: drop it,
  // so this map stays as small as the set of recently refreshed users.
  if (last_refresh_ms_.size() > 2 * (waiting_.size() + max)) {
    std::erase_if(last_refresh_ms_, [&](const auto& e) { return now_ms - e.second >= min_interval_ms_; });
  }
  return due;
}

}  // namespace streamrec::serving
