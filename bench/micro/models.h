#pragma once

// Shared fixtures of the micro benchmarks: warm ISGD models of a given shape,
// built once per shape and kept for the process (building a 1M-item model
// takes seconds; Google Benchmark calls a benchmark function many times).

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "streamrec/base/hash.h"
#include "streamrec/online_learner/isgd_model.h"

namespace streamrec::bench {

struct ModelShape {
  uint32_t items = 10000;
  uint32_t users = 1000;
  int dim = 64;
  int negatives = 16;
  auto operator<=>(const ModelShape&) const = default;
};

// `warm_events` positive clicks per user (>= cold_start_events, so every
// user gets personal scores), items drawn uniformly.
inline online_learner::IsgdModel BuildWarmModel(const ModelShape& shape, int warm_events = 5) {
  online_learner::IsgdOptions options;
  options.dim = shape.dim;
  options.negatives = shape.negatives;
  online_learner::IsgdModel model(options);
  for (uint32_t i = 0; i < shape.items; ++i) model.AddItem(ItemIndex(i), Mix64(0x1000000000ULL + i));
  for (uint32_t u = 0; u < shape.users; ++u) model.AddUser(UserIndex(u), Mix64(u));
  CounterRng rng(7);
  int64_t ts = 1732350000000;
  for (int round = 0; round < warm_events; ++round) {
    for (uint32_t u = 0; u < shape.users; ++u) {
      const uint32_t i = rng.NextBelow(shape.items);
      model.Learn({UserIndex(u), ItemIndex(i), Mix64(u), Mix64(0x1000000000ULL + i), schemas::EventType::kClick,
                   ts++, std::nullopt});
    }
  }
  model.TakeDirtyUsers();
  model.TakeDirtyItems();
  return model;
}

// One model per shape for the process's lifetime.
inline online_learner::IsgdModel& WarmModel(const ModelShape& shape) {
  static std::map<ModelShape, std::unique_ptr<online_learner::IsgdModel>> cache;
  auto& slot = cache[shape];
  if (!slot) slot = std::make_unique<online_learner::IsgdModel>(BuildWarmModel(shape));
  return *slot;
}

}  // namespace streamrec::bench
