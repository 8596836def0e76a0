#pragma once

// The interface every model and baseline implements, so evaluation (and
// serving) treat them alike. Ids are dense indices handed out by an IdMap the
// caller owns; AddUser/AddItem announce a new index before it is used.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_set>

#include "streamrec/base/ids.h"
#include "streamrec/online_learner/interaction.h"

namespace streamrec::online_learner {

// Where a target item stands in a user's ranking.
struct RankResult {
  // Items (not excluded, not the target) scoring >= the target: ties count
  // against it, so a constant model never hits. Counting may stop at the
  // limit; then above == limit.
  uint32_t above = 0;
};

class Recommender {
 public:
  virtual ~Recommender() = default;
  virtual std::string_view Name() const = 0;

  virtual void AddUser(UserIndex user, uint64_t key) = 0;
  virtual void AddItem(ItemIndex item, uint64_t key) = 0;
  virtual void Learn(const Interaction& event) = 0;
  // Writes a score for every item index in [0, scores.size()); higher is
  // better. `ts_ms` is the event time the ranking is for (time-decayed
  // models use it; nothing reads the wall clock).
  virtual void Score(UserIndex user, int64_t ts_ms, std::span<float> scores) const = 0;
  // Counts items in [0, num_items) outside `exclude` scoring >= target,
  // stopping at `limit`. The default scores everything; models override it
  // with an early-stopping scan.
  virtual RankResult Rank(UserIndex user, ItemIndex target, int64_t ts_ms, uint32_t limit,
                          const std::unordered_set<uint32_t>& exclude) const;
  virtual void ForgetUser(UserIndex user) = 0;
  // One past the largest item index announced.
  virtual uint32_t NumItems() const = 0;
};

}  // namespace streamrec::online_learner
