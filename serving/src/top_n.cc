#include "streamrec/serving/top_n.h"

#include <algorithm>
#include <limits>

#include <Eigen/Core>

#include "small_batch_scores.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace streamrec::serving {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// Up to this many users, SmallBatchScores: packing a large item block for a
// GEMM costs more than a handful of users' arithmetic.
constexpr size_t kSmallBatch = 16;
// Scores of one block (users x items) kept within L2 while they are scanned.
constexpr size_t kScoreBlockFloats = size_t{1} << 18;  // 1 MiB
constexpr uint32_t kMaxItemBlock = 4096;
// Users per product: enough to turn matrix-vector into matrix-matrix work.
constexpr size_t kUserBlock = 256;

bool Better(const ScoredIndex& a, const ScoredIndex& b) {
  return a.score != b.score ? a.score > b.score : a.item < b.item;
}

// Keeps the n best candidates offered to it (a min-heap on the worst kept).
class Selector {
 public:
  explicit Selector(uint32_t n) : n_(n) { heap_.reserve(n); }
  // Candidates below this cannot enter. Equal scores still compete on the
  // index, so a candidate at the threshold is offered and Better decides.
  float threshold() const { return threshold_; }
  void Offer(ScoredIndex c) {
    if (heap_.size() < n_) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else {
      return;
    }
    if (heap_.size() == n_) threshold_ = heap_.front().score;
  }
  std::vector<ScoredIndex> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  uint32_t n_;
  float threshold_ = -std::numeric_limits<float>::infinity();
  std::vector<ScoredIndex> heap_;
};

bool Seen(std::span<const uint32_t> seen, uint32_t item) { return std::binary_search(seen.begin(), seen.end(), item); }

// The n + extra most popular available items: enough that every user with
// at most `extra` seen items finds their n unseen ones among them.
template <class Items>
std::vector<ScoredIndex> PopularCandidates(const Items& items, uint32_t n, size_t extra) {
  Selector selector(static_cast<uint32_t>(std::min<size_t>(size_t{n} + extra, items.NumItems())));
  for (uint32_t i = 0; i < items.NumItems(); ++i) {
    const ItemIndex item(i);
    if (items.IsAvailable(item)) selector.Offer({item, static_cast<float>(items.ItemCount(item))});
  }
  return selector.Take();
}

template <class Items>
void ColdLists(const Items& items, std::span<const UserQuery> users, uint32_t n, std::vector<UserList>& out) {
  size_t most_seen = 0;
  bool any = false;
  for (const UserQuery& q : users) {
    if (!q.cold) continue;
    any = true;
    most_seen = std::max(most_seen, q.seen.size());
  }
  if (!any) return;
  const std::vector<ScoredIndex> popular = PopularCandidates(items, n, most_seen);
  for (size_t k = 0; k < users.size(); ++k) {
    if (!users[k].cold) continue;
    out[k].cold = true;
    for (const ScoredIndex& s : popular) {
      if (out[k].items.size() == n) break;
      if (!Seen(users[k].seen, s.item.value())) out[k].items.push_back(s);
    }
  }
}

// Personal lists for `warm` (positions in `users`), all at once.
template <class Items>
void WarmLists(const Items& items, std::span<const UserQuery> users, std::span<const size_t> warm, uint32_t n,
               std::vector<UserList>& out) {
  const auto dim = static_cast<Eigen::Index>(items.dim());
  const uint32_t num_items = items.NumItems();
  const auto count = static_cast<Eigen::Index>(warm.size());
  RowMajor u(count, dim);
  for (Eigen::Index k = 0; k < count; ++k) {
    const auto v = users[warm[static_cast<size_t>(k)]].vector;
    std::copy(v.begin(), v.end(), u.row(k).data());
  }
  std::vector<Selector> selectors(warm.size(), Selector(n));
  std::vector<float> threshold(warm.size(), -std::numeric_limits<float>::infinity());
  // The item block shrinks as the batch grows, so the score block stays in L2.
  const auto block_items =
      static_cast<uint32_t>(std::clamp<size_t>(kScoreBlockFloats / warm.size(), 256, kMaxItemBlock));
  const float* bias = items.ItemBias();
  // Column-major scores: each item's scores for every user are contiguous.
  // Eigen then packs the few user vectors and streams the item block,
  // rather than packing the whole item block (the costlier operand).
  ColMajor scores;
  for (uint32_t begin = 0; begin < num_items; begin += block_items) {
    const uint32_t block = std::min(block_items, num_items - begin);
    Eigen::Map<const RowMajor> q(items.ItemMatrix() + size_t{begin} * static_cast<size_t>(dim), block, dim);
    if (count > 1 && static_cast<size_t>(count) <= kSmallBatch) {
      scores.resize(count, block);
      SmallBatchScores(u.data(), static_cast<size_t>(count), q.data(), block, items.dim(), scores.data());
    } else {
      scores.noalias() = u * q.transpose();
    }
    for (uint32_t j = 0; j < block; ++j) {
      const float* col = scores.col(j).data();
      const float b = bias[begin + j];
      const uint32_t i = begin + j;
      // Only about n ln(items / n) items per user beat its threshold, but
      // with many users most items beat someone's: so the users are tested
      // eight at a time and only those past their threshold are visited.
      int availability = -1;  // unknown until some user wants the item
      const auto consider = [&](size_t k) {
        if (availability < 0) availability = items.IsAvailable(ItemIndex(i)) ? 1 : 0;
        if (availability == 0 || Seen(users[warm[k]].seen, i)) return;
        selectors[k].Offer({ItemIndex(i), col[k] + b});
        threshold[k] = selectors[k].threshold();
      };
      size_t k = 0;
#if defined(__AVX2__)
      const __m256 vb = _mm256_set1_ps(b);
      for (; k + 8 <= warm.size(); k += 8) {
        const __m256 s = _mm256_add_ps(_mm256_loadu_ps(col + k), vb);
        auto mask = static_cast<unsigned>(
            _mm256_movemask_ps(_mm256_cmp_ps(s, _mm256_loadu_ps(threshold.data() + k), _CMP_GE_OQ)));
        for (; mask != 0; mask &= mask - 1) consider(k + static_cast<size_t>(__builtin_ctz(mask)));
      }
#endif
      for (; k < warm.size(); ++k) {
        if (col[k] + b >= threshold[k]) consider(k);
      }
    }
  }
  for (size_t k = 0; k < warm.size(); ++k) out[warm[k]].items = selectors[k].Take();
}

template <class Items>
std::vector<UserList> TopNOver(const Items& items, std::span<const UserQuery> users, uint32_t n) {
  std::vector<UserList> out(users.size());
  for (size_t k = 0; k < users.size(); ++k) out[k].user = users[k].user;
  if (n == 0) return out;
  ColdLists(items, users, n, out);
  std::vector<size_t> warm;
  for (size_t k = 0; k < users.size(); ++k) {
    if (!users[k].cold) warm.push_back(k);
    if (warm.size() == kUserBlock || (k + 1 == users.size() && !warm.empty())) {
      WarmLists(items, users, warm, n, out);
      warm.clear();
    }
  }
  return out;
}

}  // namespace

std::vector<UserList> TopN(const online_learner::IsgdModel& model, std::span<const UserIndex> users, uint32_t n) {
  const auto dim = static_cast<size_t>(model.dim());
  std::vector<float> vectors(users.size() * dim);
  std::vector<UserQuery> queries(users.size());
  for (size_t k = 0; k < users.size(); ++k) {
    UserQuery& q = queries[k];
    q.user = users[k];
    q.cold = model.IsCold(users[k]);
    q.seen = model.SeenItems(users[k]);
    q.vector = {vectors.data() + k * dim, dim};
    if (!q.cold) model.EffectiveUserVector(users[k], {vectors.data() + k * dim, dim});
  }
  return TopNOver(model, queries, n);
}

std::vector<UserList> TopN(const ItemSnapshot& items, std::span<const UserQuery> users, uint32_t n) {
  return TopNOver(items, users, n);
}

std::vector<ScoredIndex> PopularItems(const online_learner::IsgdModel& model, uint32_t n) {
  return PopularCandidates(model, n, 0);
}

}  // namespace streamrec::serving
