#pragma once

// A generated stream with a planted low-rank structure: users belong to one
// of `groups` taste groups and each group favours its own slice of the
// catalog. A learner that finds the structure recommends from the user's
// slice; popularity cannot tell slices apart.

#include <string>
#include <vector>

#include "streamrec/base/hash.h"
#include "streamrec/schemas/event.h"

namespace streamrec::testing {

inline std::vector<schemas::Event> PlantedStream(int users, int items, int groups, int events_per_user,
                                                 uint64_t seed) {
  std::vector<schemas::Event> out;
  CounterRng rng(seed);
  const int slice = items / groups;
  for (int step = 0; step < events_per_user; ++step) {
    for (int u = 0; u < users; ++u) {
      const int group = u % groups;
      // 90% of a user's events fall in their group's slice.
      int item = rng.NextDouble() < 0.9 ? group * slice + static_cast<int>(rng.NextBelow(slice))
                                        : static_cast<int>(rng.NextBelow(items));
      schemas::Event e;
      e.user_id = "u" + std::to_string(u);
      e.item_id = "i" + std::to_string(item);
      e.type = schemas::EventType::kClick;
      e.ts_ms = 1'600'000'000'000 + (static_cast<int64_t>(step) * users + u) * 1000;
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace streamrec::testing
