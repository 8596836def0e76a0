#pragma once

// What a model learns from: one valid event with its ids already mapped to
// dense indices. Models never see id strings; `user_key`/`item_key` are
// stable hashes of the ids (base/hash.h) that seed new vectors, so a vector's
// start depends on the id, not on when it was first seen.

#include <cstdint>
#include <optional>

#include "streamrec/base/ids.h"
#include "streamrec/schemas/event.h"

namespace streamrec::online_learner {

struct Interaction {
  UserIndex user;
  ItemIndex item;
  uint64_t user_key = 0;
  uint64_t item_key = 0;
  schemas::EventType type = schemas::EventType::kView;
  int64_t ts_ms = 0;
  std::optional<double> value;  // rating value
};

}  // namespace streamrec::online_learner
