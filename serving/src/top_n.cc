#include "streamrec/serving/top_n.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include <Eigen/Core>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "streamrec/serving/approximate_index.h"
#include "streamrec/serving/quantized_items.h"

namespace streamrec::serving {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// Up to this many users the product is coefficient-based: packing a large
// item block for a handful of users costs more than the arithmetic.
constexpr size_t kLazyUsers = 8;
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

// A scorer fills, for a block of items and the batch's warm users, a
// column-major score block without the bias: Column(j) holds item begin + j's
// score for every user, contiguous, which the threshold pass below scans.

// Exact scores: one float product per block.
template <class Items>
class GemmScorer {
 public:
  GemmScorer(const Items& items, std::span<const UserQuery> users, std::span<const size_t> warm)
      : items_(items), u_(static_cast<Eigen::Index>(warm.size()), items.dim()) {
    for (Eigen::Index k = 0; k < u_.rows(); ++k) {
      const auto v = users[warm[static_cast<size_t>(k)]].vector;
      std::copy(v.begin(), v.end(), u_.row(k).data());
    }
  }
  void Score(uint32_t begin, uint32_t block) {
    const Eigen::Index dim = u_.cols();
    Eigen::Map<const RowMajor> q(items_.ItemMatrix() + size_t{begin} * static_cast<size_t>(dim), block, dim);
    // Column-major scores: Eigen then packs the few user vectors and streams
    // the item block, rather than packing the whole item block (the costlier
    // operand).
    if (u_.rows() > 1 && static_cast<size_t>(u_.rows()) <= kLazyUsers) {
      scores_.noalias() = u_.lazyProduct(q.transpose());
    } else {
      scores_.noalias() = u_ * q.transpose();
    }
  }
  const float* Column(uint32_t j) const { return scores_.col(j).data(); }

 private:
  const Items& items_;
  RowMajor u_;
  ColMajor scores_;
};

// serving.index=sq8's first stage: approximate scores from the snapshot's
// int8 copy (quantized_items.h), the users quantized once per batch.
class Int8Scorer {
 public:
  Int8Scorer(const ItemSnapshot& items, std::span<const UserQuery> users, std::span<const size_t> warm)
      : items_(*items.quantized()), users_(items.dim(), warm.size()), kernel_(BestInt8Kernel()) {
    for (size_t k = 0; k < warm.size(); ++k) users_.Set(k, users[warm[k]].vector);
  }
  void Score(uint32_t begin, uint32_t block) {
    scores_.resize(size_t{block} * users_.padded_count());
    Int8Scores(kernel_, users_, items_, begin, block, scores_.data(), users_.padded_count());
  }
  const float* Column(uint32_t j) const { return scores_.data() + size_t{j} * users_.padded_count(); }

 private:
  const QuantizedItems& items_;
  QuantizedUsers users_;
  Int8Kernel kernel_;
  std::vector<float> scores_;
};

// The `n` best items by the Scorer's scores (plus bias) for `warm`
// (positions in `users`), all at once.
template <class Scorer, class Items>
void WarmLists(const Items& items, std::span<const UserQuery> users, std::span<const size_t> warm, uint32_t n,
               std::vector<UserList>& out) {
  const uint32_t num_items = items.NumItems();
  Scorer scorer(items, users, warm);
  std::vector<Selector> selectors(warm.size(), Selector(n));
  std::vector<float> threshold(warm.size(), -std::numeric_limits<float>::infinity());
  // The item block shrinks as the batch grows, so the score block stays in L2.
  const auto block_items =
      static_cast<uint32_t>(std::clamp<size_t>(kScoreBlockFloats / warm.size(), 256, kMaxItemBlock));
  const float* bias = items.ItemBias();
  for (uint32_t begin = 0; begin < num_items; begin += block_items) {
    const uint32_t block = std::min(block_items, num_items - begin);
    scorer.Score(begin, block);
    for (uint32_t j = 0; j < block; ++j) {
      const float* col = scorer.Column(j);
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

// Cold users get `n` popular items, warm ones the `select` best by Scorer.
template <class Scorer, class Items>
std::vector<UserList> TopNOver(const Items& items, std::span<const UserQuery> users, uint32_t n, uint32_t select) {
  std::vector<UserList> out(users.size());
  for (size_t k = 0; k < users.size(); ++k) out[k].user = users[k].user;
  if (n == 0) return out;
  ColdLists(items, users, n, out);
  std::vector<size_t> warm;
  for (size_t k = 0; k < users.size(); ++k) {
    if (!users[k].cold) warm.push_back(k);
    if (warm.size() == kUserBlock || (k + 1 == users.size() && !warm.empty())) {
      WarmLists<Scorer>(items, users, warm, select, out);
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
  return TopNOver<GemmScorer<online_learner::IsgdModel>>(model, queries, n, n);
}

std::vector<UserList> TopN(const ItemSnapshot& items, std::span<const UserQuery> users, uint32_t n) {
  return TopNOver<GemmScorer<ItemSnapshot>>(items, users, n, n);
}

std::vector<UserList> TopNQuantized(const ItemSnapshot& items, std::span<const UserQuery> users, uint32_t n,
                                    uint32_t candidates) {
  assert(items.quantized() != nullptr);
  if (items.quantized() == nullptr) return TopN(items, users, n);
  std::vector<UserList> out = TopNOver<Int8Scorer>(items, users, n, std::max(n, candidates));
  const ItemVectors vectors{items.ItemMatrix(), items.ItemBias(), items.NumItems(), items.dim()};
  std::vector<uint32_t> shortlist;
  for (size_t k = 0; k < users.size(); ++k) {
    if (users[k].cold) continue;
    // The candidates are already without seen and unavailable items.
    shortlist.clear();
    for (const ScoredIndex& s : out[k].items) shortlist.push_back(s.item.value());
    out[k].items = RescoreTopN(vectors, users[k].vector, shortlist, n);
  }
  return out;
}

std::vector<ScoredIndex> PopularItems(const online_learner::IsgdModel& model, uint32_t n) {
  return PopularCandidates(model, n, 0);
}

}  // namespace streamrec::serving
