#include "streamrec/online_learner/expiry.h"

#include <algorithm>

namespace streamrec::online_learner {
namespace {

constexpr int64_t kMinScanPeriodMs = 1000;
constexpr int64_t kMaxScanPeriodMs = 3600 * 1000;
constexpr int64_t kScansPerHorizon = 8;

// Floor division: stream times before 1970 stay on the same grid.
int64_t Period(int64_t ts_ms, int64_t period_ms) {
  return ts_ms / period_ms - (ts_ms % period_ms < 0 ? 1 : 0);
}

}  // namespace

ExpiryClock::ExpiryClock(const ExpiryOptions& options) : options_(options) {
  int64_t horizon = 0;
  for (int64_t h : {options.user_ttl_ms, options.item_retire_ms}) {
    if (h > 0) horizon = horizon == 0 ? h : std::min(horizon, h);
  }
  period_ms_ = std::clamp(horizon / kScansPerHorizon, kMinScanPeriodMs, kMaxScanPeriodMs);
}

bool ExpiryClock::Advance(int64_t ts_ms) {
  const std::optional<int64_t> before = stream_time_ms_;
  if (before && ts_ms <= *before) return false;
  stream_time_ms_ = ts_ms;
  if (!options_.enabled()) return false;
  return !before || Period(ts_ms, period_ms_) > Period(*before, period_ms_);
}

bool ExpiryClock::UserDue(int64_t last_active_ms) const {
  return options_.user_ttl_ms > 0 && stream_time_ms_ && last_active_ms < *stream_time_ms_ - options_.user_ttl_ms;
}

bool ExpiryClock::ItemDue(int64_t last_active_ms) const {
  return options_.item_retire_ms > 0 && stream_time_ms_ &&
         last_active_ms < *stream_time_ms_ - options_.item_retire_ms;
}

}  // namespace streamrec::online_learner
