#include "streamrec/serving/top_n.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <limits>

#include <Eigen/Core>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "small_batch_scores.h"
#include "streamrec/serving/approximate_index.h"
#include "streamrec/serving/quantized_items.h"

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

// A lambda rather than a function, so the standard algorithms inline it.
constexpr auto Better = [](const ScoredIndex& a, const ScoredIndex& b) {
  return a.score != b.score ? a.score > b.score : a.item < b.item;
};

// Better as a 63-bit integer (a larger key is better): the score's bits in
// an order that integers compare like floats (-0 taken as +0, as == does),
// then the index reversed (a lower index is better). With 63 bits, "a better
// than b" is the sign of key(b) - key(a): arithmetic, which the compiler
// cannot turn back into a branch.
uint64_t Key(const ScoredIndex& c) {
  assert(c.item.value() < 0x80000000U);
  const auto bits = std::bit_cast<uint32_t>(c.score + 0.f);
  const uint32_t ordered = (bits & 0x80000000U) != 0 ? ~bits : bits | 0x80000000U;
  return (uint64_t{ordered} << 31) | (0x7FFFFFFFU - c.item.value());
}

ScoredIndex MedianOf3(ScoredIndex a, ScoredIndex b, ScoredIndex c) {
  if (Better(b, a)) std::swap(a, b);
  if (Better(c, b)) std::swap(b, c);
  if (Better(b, a)) std::swap(a, b);
  return b;
}

// Keeps the n best candidates offered to it. Offers go to a buffer of up to
// 2n; when it fills, the n best are kept and the worst of them becomes the
// threshold: O(1) amortised per offer where a heap pays log n, which matters
// for sq8's candidate lists (100 long). Better is a total order and the
// candidates are distinct items, so the n kept and their order do not depend
// on the offers' order.
class Selector {
 public:
  explicit Selector(uint32_t n) : n_(n) { kept_.reserve(2 * size_t{n}); }
  // Candidates below this cannot enter. Equal scores still compete on the
  // index, so a candidate at the threshold is offered and Better decides.
  float threshold() const { return threshold_; }
  void Offer(ScoredIndex c) {
    // At the threshold only a lower index than the n-th kept wins (ties
    // would otherwise fill the buffer, e.g. many zero rows).
    if (n_ == 0 || (c.score == threshold_ && !Better(c, nth_))) return;
    kept_.push_back(c);
    if (kept_.size() == 2 * size_t{n_}) Shrink();
  }
  std::vector<ScoredIndex> Take() {
    if (kept_.size() > n_) Shrink();
    std::sort(kept_.begin(), kept_.end(), Better);
    return std::move(kept_);
  }

 private:
  // Moves the n best to the front (the n-th last) and drops the others:
  // quickselect with a branch-free partition, as offers come in random
  // order and std::nth_element's branches mispredict about half the time.
  void Shrink() {
    const size_t nth = n_ - 1;
    // One per thread rather than per selector: a batch's selectors then
    // take half the cache.
    thread_local std::vector<ScoredIndex> scratch_;
    scratch_.resize(kept_.size());
    ScoredIndex* a = kept_.data();
    // [0, lo) are better than [lo, hi), which are better than [hi, end),
    // and lo <= nth < hi.
    size_t lo = 0;
    size_t hi = kept_.size();
    while (hi - lo > 16) {
      const uint64_t pivot = Key(MedianOf3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]));
      size_t front = lo;
      size_t back = hi;
      for (size_t i = lo; i < hi; ++i) {
        // Written to both ends; the end not advanced is overwritten later.
        const ScoredIndex c = a[i];
        const uint64_t better = (pivot - Key(c)) >> 63;
        scratch_[front] = c;
        scratch_[back - 1] = c;
        front += better;
        back -= 1 - better;
      }
      std::copy(scratch_.begin() + static_cast<std::ptrdiff_t>(lo), scratch_.begin() + static_cast<std::ptrdiff_t>(hi),
                a + lo);
      if (front == lo || front == hi) break;  // no progress (cannot happen with distinct items)
      if (nth < front) {
        hi = front;
      } else {
        lo = front;
      }
    }
    std::sort(a + lo, a + hi, Better);
    kept_.resize(n_);
    nth_ = kept_.back();
    threshold_ = nth_.score;
  }

  uint32_t n_;
  float threshold_ = -std::numeric_limits<float>::infinity();
  ScoredIndex nth_;  // the n-th best at the last Shrink
  std::vector<ScoredIndex> kept_;
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

// A scorer scores a block of items for the batch's warm users and offers
// each user the scores (plus bias) that reach its threshold: Scan calls
// consider(item, k, score) item by item, reading `threshold` as consider
// raises it. Only about n ln(items / n) items per user get that far.

// Exact scores: one float product per block into a column-major block
// (each item's scores for every user contiguous), then a vectorised pass.
template <class Items>
class GemmScorer {
 public:
  static constexpr size_t kBlockFloats = kScoreBlockFloats;

  GemmScorer(const Items& items, std::span<const UserQuery> users, std::span<const size_t> warm)
      : items_(items), u_(static_cast<Eigen::Index>(warm.size()), items.dim()) {
    for (Eigen::Index k = 0; k < u_.rows(); ++k) {
      const auto v = users[warm[static_cast<size_t>(k)]].vector;
      std::copy(v.begin(), v.end(), u_.row(k).data());
    }
  }

  // Exact scores have no bound: every item is scanned.
  bool Exhausted(uint32_t /*begin*/, const std::vector<float>& /*threshold*/) const { return false; }

  template <class Consider>
  void Scan(uint32_t begin, uint32_t block, const std::vector<float>& threshold, Consider&& consider) {
    const Eigen::Index dim = u_.cols();
    const float* bias = items_.ItemBias();
    Eigen::Map<const RowMajor> q(items_.ItemMatrix() + size_t{begin} * static_cast<size_t>(dim), block, dim);
    // Column-major scores. A few users: SmallBatchScores, no packing. More:
    // Eigen packs the user vectors and streams the item block, rather than
    // packing the whole item block (the costlier operand).
    if (u_.rows() > 1 && static_cast<size_t>(u_.rows()) <= kSmallBatch) {
      scores_.resize(u_.rows(), block);
      SmallBatchScores(u_.data(), static_cast<size_t>(u_.rows()), q.data(), block, static_cast<int>(dim),
                       scores_.data());
    } else {
      scores_.noalias() = u_ * q.transpose();
    }
    const auto users = static_cast<size_t>(u_.rows());
    for (uint32_t j = 0; j < block; ++j) {
      const float* col = scores_.col(j).data();
      const float b = bias[begin + j];
      const uint32_t i = begin + j;
      // With many users most items beat someone's threshold: so the users
      // are tested eight at a time and only those past it are visited.
      size_t k = 0;
#if defined(__AVX2__)
      const __m256 vb = _mm256_set1_ps(b);
      for (; k + 8 <= users; k += 8) {
        const __m256 s = _mm256_add_ps(_mm256_loadu_ps(col + k), vb);
        auto mask = static_cast<unsigned>(
            _mm256_movemask_ps(_mm256_cmp_ps(s, _mm256_loadu_ps(threshold.data() + k), _CMP_GE_OQ)));
        for (; mask != 0; mask &= mask - 1) {
          const size_t hit = k + static_cast<size_t>(__builtin_ctz(mask));
          consider(i, hit, col[hit] + b);
        }
      }
#endif
      for (; k < users; ++k) {
        if (col[k] + b >= threshold[k]) consider(i, k, col[k] + b);
      }
    }
  }

 private:
  const Items& items_;
  RowMajor u_;
  ColMajor scores_;
};

// serving.index=sq8's first stage: approximate scores from the snapshot's
// int8 copy (quantized_items.h), the users quantized once per batch. The
// kernel compares each score with the thresholds as of the block's start
// while it is still in a register; thresholds only rise, so the scores it
// reports are a superset of those that reach the current ones.
class Int8Scorer {
 public:
  // Only the few hits are read back: a smaller block leaves the cache to the
  // selectors and refreshes the kernel's thresholds more often.
  static constexpr size_t kBlockFloats = kScoreBlockFloats / 4;

  Int8Scorer(const ItemSnapshot& items, std::span<const UserQuery> users, std::span<const size_t> warm)
      : items_(*items.quantized()),
        users_(items.dim(), warm.size()),
        kernel_(BestInt8Kernel()),
        threshold_(users_.padded_count(), std::numeric_limits<float>::infinity()) {
    for (size_t k = 0; k < warm.size(); ++k) users_.Set(k, users[warm[k]].vector);
    work_.full = uint64_t{(items_.NumItems() + kItemChunk - 1) / kItemChunk} * (users_.padded_count() / kUserTile);
  }

  const Int8ScanWork& work() const { return work_; }

  // Whether no slot from `begin` on can reach any user's threshold: the
  // slots are sorted by their bound (QuantizedItems::Reorder), so the scan
  // usually ends well before the last one.
  bool Exhausted(uint32_t begin, const std::vector<float>& threshold) const {
    const QuantizedItems::SuffixBound rest = items_.BoundFrom(begin);
    for (size_t k = 0; k < threshold.size(); ++k) {
      if (rest.For(users_.norms()[k]) >= threshold[k]) return false;
    }
    return true;
  }

  // Scans slots [begin, begin + block) of the int8 copy (its scan order).
  template <class Consider>
  void Scan(uint32_t begin, uint32_t block, const std::vector<float>& threshold, Consider&& consider) {
    const size_t ld = users_.padded_count();
    scores_.resize(size_t{block} * ld);
    std::copy(threshold.begin(), threshold.end(), threshold_.begin());
    hits_.clear();
    const float* bias = items_.Biases();
    const Int8Filter filter{bias + begin, threshold_.data(), &hits_, &work_.scored};
    Int8Scores(kernel_, users_, items_, begin, block, scores_.data(), ld, &filter);
    for (const Int8Hit& hit : hits_) {
      const uint32_t slot = begin + hit.item;
      const uint32_t i = items_.ItemAt(slot);
      const float* col = scores_.data() + size_t{hit.item} * ld;
      for (unsigned mask = hit.users; mask != 0; mask &= mask - 1) {
        const size_t k = size_t{hit.tile} * kUserTile + static_cast<size_t>(__builtin_ctz(mask));
        const float score = col[k] + bias[slot];
        if (score >= threshold[k]) consider(i, k, score);
      }
    }
  }

 private:
  const QuantizedItems& items_;
  QuantizedUsers users_;
  Int8Kernel kernel_;
  Int8ScanWork work_;
  std::vector<float> threshold_;  // padded to whole tiles (+inf: never a hit)
  std::vector<float> scores_;
  std::vector<Int8Hit> hits_;
};

// The `n` best items by the Scorer's scores (plus bias) for `warm`
// (positions in `users`), all at once; adds the Scorer's work, if it counts
// any, to `work`.
template <class Scorer, class Items>
void WarmLists(const Items& items, std::span<const UserQuery> users, std::span<const size_t> warm, uint32_t n,
               std::vector<UserList>& out, Int8ScanWork* work) {
  const uint32_t num_items = items.NumItems();
  Scorer scorer(items, users, warm);
  std::vector<Selector> selectors;
  selectors.reserve(warm.size());
  for (size_t k = 0; k < warm.size(); ++k) selectors.emplace_back(n);  // each with its own reserve
  std::vector<float> threshold(warm.size(), -std::numeric_limits<float>::infinity());
  // The item block shrinks as the batch grows, so the score block stays in L2.
  // Blocks are whole multiples of 64 items, so they start on the int8
  // kernel's chunks (8 items).
  const auto block_items =
      static_cast<uint32_t>(std::clamp<size_t>(Scorer::kBlockFloats / warm.size() / 64 * 64, 64, kMaxItemBlock));
  uint32_t item = num_items;
  int availability = -1;  // of `item`; unknown until some user wants it
  const auto consider = [&](uint32_t i, size_t k, float score) {
    if (i != item) {
      item = i;
      availability = -1;
    }
    if (availability < 0) availability = items.IsAvailable(ItemIndex(i)) ? 1 : 0;
    if (availability == 0 || Seen(users[warm[k]].seen, i)) return;
    selectors[k].Offer({ItemIndex(i), score});
    threshold[k] = selectors[k].threshold();
  };
  // Until a selector holds n offers its threshold is -inf and every score of
  // a block is offered, so the first block is short (2n items, rounded up to
  // 64, set the thresholds) and blocks double from there: at 100 sq8 candidates and
  // ~30 users a round, a full first block offered ~2.2k scores a user, and
  // now ~1.1k are offered in all.
  uint32_t block = std::min(block_items, (2 * n + 63) / 64 * 64);
  for (uint32_t begin = 0; begin < num_items && !scorer.Exhausted(begin, threshold);) {
    const uint32_t count = std::min(block, num_items - begin);
    scorer.Scan(begin, count, threshold, consider);
    begin += count;
    block = std::min(block_items, 2 * block);
  }
  if constexpr (requires { scorer.work(); }) {
    if (work != nullptr) *work += scorer.work();
  }
  for (size_t k = 0; k < warm.size(); ++k) out[warm[k]].items = selectors[k].Take();
}

// Cold users get `n` popular items, warm ones the `select` best by Scorer.
template <class Scorer, class Items>
std::vector<UserList> TopNOver(const Items& items, std::span<const UserQuery> users, uint32_t n, uint32_t select,
                               Int8ScanWork* work = nullptr) {
  std::vector<UserList> out(users.size());
  for (size_t k = 0; k < users.size(); ++k) out[k].user = users[k].user;
  if (n == 0) return out;
  ColdLists(items, users, n, out);
  std::vector<size_t> warm;
  for (size_t k = 0; k < users.size(); ++k) {
    if (!users[k].cold) warm.push_back(k);
    if (warm.size() == kUserBlock || (k + 1 == users.size() && !warm.empty())) {
      WarmLists<Scorer>(items, users, warm, select, out, work);
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
                                    uint32_t candidates, Int8ScanWork* work) {
  assert(items.quantized() != nullptr);
  if (items.quantized() == nullptr) return TopN(items, users, n);
  std::vector<UserList> out = TopNOver<Int8Scorer>(items, users, n, std::max(n, candidates), work);
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

void ListOverlap::Add(std::span<const ScoredIndex> exact, std::span<const ScoredIndex> approximate) {
  for (const ScoredIndex& s : exact) {
    ++wanted;
    hits += std::any_of(approximate.begin(), approximate.end(), [&](const ScoredIndex& a) { return a.item == s.item; });
  }
}

std::vector<ScoredIndex> PopularItems(const online_learner::IsgdModel& model, uint32_t n) {
  return PopularCandidates(model, n, 0);
}

}  // namespace streamrec::serving
