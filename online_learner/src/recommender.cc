#include "streamrec/online_learner/recommender.h"

#include <vector>

namespace streamrec::online_learner {

RankResult Recommender::Rank(UserIndex user, ItemIndex target, int64_t ts_ms, uint32_t limit,
                             const std::unordered_set<uint32_t>& exclude) const {
  std::vector<float> scores(NumItems());
  Score(user, ts_ms, scores);
  const float target_score = scores[target.value()];
  RankResult result;
  for (uint32_t i = 0; i < scores.size() && result.above < limit; ++i) {
    if (i == target.value() || scores[i] < target_score || exclude.contains(i)) continue;
    ++result.above;
  }
  return result;
}

}  // namespace streamrec::online_learner
