#pragma once

// The bridge from apps/ to the feature store (state/): `evaluate --state`
// writes the final ISGD model, `inspect` reads a store back.

#include <cstdint>
#include <optional>
#include <string>

#include "streamrec/apps/config.h"
#include "streamrec/base/status.h"
#include "streamrec/online_learner/id_map.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/state/feature_store.h"

namespace streamrec::apps {

// The store options of `settings` for the store at `dir`, bound to the
// fingerprint learner.dim implies.
state::StoreOptions StoreOptionsFor(const Settings& settings, const std::string& dir);

// OK when `dir` is missing or empty. A store written over an older one would
// keep the older run's rows and so differ from the model written.
[[nodiscard]] Status CheckNewStoreDir(const std::string& dir);

// Writes every user and item of `model` with their ids, and the sampler, in
// one batch into a store at `dir` (checked with CheckNewStoreDir first).
// `stream_time_ms` (the replay's newest event ts) is recorded when expiry is
// on (learner.user_ttl / learner.item_retire), as the pipeline records it.
[[nodiscard]] Status WriteModelToStore(const std::string& dir, const Settings& settings,
                                       online_learner::IsgdModel& model, const online_learner::IdMap& users,
                                       const online_learner::IdMap& items,
                                       std::optional<int64_t> stream_time_ms = std::nullopt);

}  // namespace streamrec::apps
