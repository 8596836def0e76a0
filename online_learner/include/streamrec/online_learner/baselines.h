#pragma once

// Baselines behind the Recommender interface, for evaluation beside ISGD:
//   popularity        count of positive events per item
//   popularity-decay  the same, exponentially decayed in event time
//   item-knn          online item co-occurrence kNN over users' recent items

#include <cstdint>
#include <memory>

#include "streamrec/online_learner/recommender.h"

namespace streamrec::online_learner {

struct PopularityDecayOptions {
  // Half-life of an event's contribution, in event time. Default: 7 days.
  int64_t half_life_ms = 7LL * 24 * 3600 * 1000;
};

struct ItemKnnOptions {
  // Items of a user's history that new items co-occur with (the most recent).
  // Default: 50.
  int history = 50;
  // Most recent items of a user whose neighbours score a ranking. Default: 20.
  int query_items = 20;
};

std::unique_ptr<Recommender> MakePopularity();
std::unique_ptr<Recommender> MakePopularityDecay(const PopularityDecayOptions& options);
std::unique_ptr<Recommender> MakeItemKnn(const ItemKnnOptions& options);

}  // namespace streamrec::online_learner
