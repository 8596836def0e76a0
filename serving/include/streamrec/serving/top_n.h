#pragma once

// Batched top-N: the lists of many users from one blocked GEMM over the item
// matrix, with each user's seen items and every unavailable item left out.
// Cold users (too few events) get the most popular available items.
//
// The item side is read either from the model itself (the learner thread,
// e.g. an HTTP request answered between batches) or from the refresher's
// ItemSnapshot; both give the same lists for the same rows.
//
// Thread-safety: reads its arguments; the caller keeps them unchanged for
// the call.

#include <cstdint>
#include <span>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/serving/item_snapshot.h"

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

// What top-N needs of a user: their effective vector (IsgdModel::
// EffectiveUserVector), the items to leave out, and whether they are cold.
struct UserQuery {
  UserIndex user;
  bool cold = false;
  std::span<const float> vector;        // dim values; unused when cold
  std::span<const uint32_t> seen;       // ascending
};

// Top `n` items for every user in `users`, in the same order.
std::vector<UserList> TopN(const online_learner::IsgdModel& model, std::span<const UserIndex> users, uint32_t n);
std::vector<UserList> TopN(const ItemSnapshot& items, std::span<const UserQuery> users, uint32_t n);

// The int8 work of TopNQuantized, in (chunk of 8 items, tile of 16 users)
// pairs: what scoring every item would have taken, and what the kernel
// computed after the bound's skips and the scan's early end
// (quantized_items.h).
struct Int8ScanWork {
  uint64_t full = 0;
  uint64_t scored = 0;
  Int8ScanWork& operator+=(const Int8ScanWork& w) {
    full += w.full;
    scored += w.scored;
    return *this;
  }
  // The share the bound saved; 0 before any scan.
  double skipped_share() const { return full == 0 ? 0 : 1 - static_cast<double>(scored) / static_cast<double>(full); }
};

// serving.index=sq8: approximate top `n`. Each warm user's `candidates` best
// items (at least n; seen and unavailable ones left out) by the int8 scores
// of `items.quantized()` (which must be kept) plus bias, re-scored exactly in
// float; cold users as TopN. Equal to TopN whenever the exact top n are among
// the candidates. Adds its int8 work to `work` if given.
std::vector<UserList> TopNQuantized(const ItemSnapshot& items, std::span<const UserQuery> users, uint32_t n,
                                    uint32_t candidates, Int8ScanWork* work = nullptr);

// How many items of exact lists approximate lists of the same users also
// hold: recall@N of an approximate ranking, summed over the lists added.
struct ListOverlap {
  uint64_t hits = 0;    // items of the exact lists found in the approximate ones
  uint64_t wanted = 0;  // items of the exact lists
  void Add(std::span<const ScoredIndex> exact, std::span<const ScoredIndex> approximate);
  // 1 before any list.
  double recall() const { return wanted == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(wanted); }
};

// The `n` most popular available items (score = count of positive events):
// what a user the model does not know yet is served.
std::vector<ScoredIndex> PopularItems(const online_learner::IsgdModel& model, uint32_t n);

}  // namespace streamrec::serving
