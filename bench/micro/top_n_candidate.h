#pragma once

// A candidate for serving::TopN, measured beside it (BM_TopNCandidate) and
// checked to return the same lists. Not used by the product: it is here so
// the change can be judged on numbers before it moves into serving/.
//
// What it changes, each from a profile of the pipeline and of BM_TopN:
//  1. The score block is column-major (users x items, each item's scores for
//     every user contiguous). Eigen then packs the few user vectors as the
//     GEMM's left operand and streams the item block as the right one;
//     serving::TopN's row-major block makes Eigen pack the whole item block
//     (gemm_pack_lhs was 36% of the pipeline's cycles at 1k events/s).
//  2. From 2 to kLazyUsers users the product is coefficient-based (no
//     packing): with a handful of users the packing of a 100k x 128 matrix
//     costs more than the arithmetic. One user is a GEMV (Eigen's own
//     dispatch).
//  3. Selection runs item by item over all users at once: the bias is added
//     and compared with every user's threshold in one vectorisable pass, and
//     only items that beat some threshold take the scalar path (about
//     n * ln(items / n) of them per user).
//  4. The item block shrinks as the batch grows, so the score block stays in
//     L2 while it is scanned.

#include <algorithm>
#include <limits>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::bench {

inline std::vector<serving::UserList> CandidateTopN(const online_learner::IsgdModel& model,
                                                    std::span<const UserIndex> users, uint32_t n) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  constexpr size_t kLazyUsers = 8;
  constexpr size_t kScoreBlockFloats = size_t{1} << 18;  // 1 MiB of scores
  constexpr uint32_t kMaxItemBlock = 4096;

  // Cold users and the rest of the bookkeeping as serving::TopN does them.
  std::vector<serving::UserList> out(users.size());
  std::vector<size_t> warm;
  std::vector<UserIndex> cold;
  for (size_t k = 0; k < users.size(); ++k) {
    out[k].user = users[k];
    if (model.IsCold(users[k])) {
      cold.push_back(users[k]);
    } else {
      warm.push_back(k);
    }
  }
  if (!cold.empty()) {
    auto cold_lists = serving::TopN(model, cold, n);
    size_t c = 0;
    for (size_t k = 0; k < users.size(); ++k) {
      if (model.IsCold(users[k])) out[k] = std::move(cold_lists[c++]);
    }
  }
  if (warm.empty() || n == 0) return out;

  const auto dim = static_cast<Eigen::Index>(model.dim());
  const uint32_t num_items = model.NumItems();
  const auto count = static_cast<Eigen::Index>(warm.size());
  RowMajor u(count, dim);
  for (Eigen::Index k = 0; k < count; ++k) {
    model.EffectiveUserVector(users[warm[static_cast<size_t>(k)]], {u.row(k).data(), static_cast<size_t>(dim)});
  }
  const uint32_t block_items = static_cast<uint32_t>(
      std::clamp<size_t>(kScoreBlockFloats / static_cast<size_t>(count), 256, kMaxItemBlock));

  // Per user: a min-heap of the n best (worst on top) and its threshold.
  struct Entry {
    float score;
    uint32_t item;
  };
  const auto better = [](const Entry& a, const Entry& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  };
  std::vector<std::vector<Entry>> heaps(static_cast<size_t>(count));
  for (auto& h : heaps) h.reserve(n);
  std::vector<float> threshold(static_cast<size_t>(count), -std::numeric_limits<float>::infinity());
  std::vector<std::span<const uint32_t>> seen(static_cast<size_t>(count));
  for (Eigen::Index k = 0; k < count; ++k) seen[static_cast<size_t>(k)] = model.SeenItems(users[warm[static_cast<size_t>(k)]]);

  ColMajor scores;
  const float* bias = model.ItemBias();
  for (uint32_t begin = 0; begin < num_items; begin += block_items) {
    const uint32_t block = std::min(block_items, num_items - begin);
    Eigen::Map<const RowMajor> q(model.ItemMatrix() + size_t{begin} * static_cast<size_t>(dim), block, dim);
    if (count > 1 && static_cast<size_t>(count) <= kLazyUsers) {
      scores.noalias() = u.lazyProduct(q.transpose());
    } else {
      scores.noalias() = u * q.transpose();
    }
    for (uint32_t j = 0; j < block; ++j) {
      const float* col = scores.col(j).data();
      const float b = bias[begin + j];
      // Vectorisable: does this item beat any user's current threshold?
      bool any = false;
      for (Eigen::Index k = 0; k < count; ++k) any |= col[k] + b >= threshold[static_cast<size_t>(k)];
      if (!any) continue;
      const uint32_t item = begin + j;
      if (!model.IsAvailable(ItemIndex(item))) continue;
      for (Eigen::Index k = 0; k < count; ++k) {
        const auto ku = static_cast<size_t>(k);
        const Entry e{col[k] + b, item};
        if (e.score < threshold[ku]) continue;
        if (std::binary_search(seen[ku].begin(), seen[ku].end(), item)) continue;
        auto& h = heaps[ku];
        if (h.size() < n) {
          h.push_back(e);
          std::push_heap(h.begin(), h.end(), better);
        } else if (better(e, h.front())) {
          std::pop_heap(h.begin(), h.end(), better);
          h.back() = e;
          std::push_heap(h.begin(), h.end(), better);
        } else {
          continue;
        }
        // Equal scores still compete on the index, so the threshold admits
        // ties (>=) and `better` decides.
        if (h.size() == n) threshold[ku] = h.front().score;
      }
    }
  }
  for (Eigen::Index k = 0; k < count; ++k) {
    auto& h = heaps[static_cast<size_t>(k)];
    std::sort_heap(h.begin(), h.end(), better);
    auto& list = out[warm[static_cast<size_t>(k)]].items;
    list.reserve(h.size());
    for (const Entry& e : h) list.push_back({ItemIndex(e.item), e.score});
  }
  return out;
}

}  // namespace streamrec::bench
