#pragma once

// Batched top-N: the lists of many users from one blocked GEMM over the item
// matrix, with each user's seen items and every unavailable item left out.
// Cold users (too few events) get the most popular available items.
//
// Thread-safety: reads the model; the caller keeps it unchanged for the call
// (the learner thread calls it between batches, or on a snapshot).

#include <cstdint>
#include <span>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/online_learner/isgd_model.h"

namespace streamrec::serving {

struct ScoredIndex {
  ItemIndex item;
  float score = 0;
  bool operator==(const ScoredIndex&) const = default;
};

struct UserList {
  UserIndex user;
  bool cold = false;  // served popularity (score = count of positive events)
  std::vector<ScoredIndex> items;  // best first; ties by lower index
};

// Top `n` items for every user in `users`, in the same order.
std::vector<UserList> TopN(const online_learner::IsgdModel& model, std::span<const UserIndex> users, uint32_t n);

// The `n` most popular available items (score = count of positive events):
// what a user the model does not know yet is served.
std::vector<ScoredIndex> PopularItems(const online_learner::IsgdModel& model, uint32_t n);

}  // namespace streamrec::serving
