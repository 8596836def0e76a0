#include "streamrec/serving/top_n.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include <Eigen/Core>

namespace streamrec::serving {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Items per GEMM block: a block's scores for a batch of users stay in cache
// while the per-user selection reads them.
constexpr uint32_t kItemBlock = 4096;
// Users per GEMM: enough to turn matrix-vector into matrix-matrix work.
constexpr size_t kUserBlock = 256;

bool Better(const ScoredIndex& a, const ScoredIndex& b) {
  return a.score != b.score ? a.score > b.score : a.item < b.item;
}

// Keeps the n best candidates offered to it (a min-heap on the worst kept).
class Selector {
 public:
  explicit Selector(uint32_t n) : n_(n) {}
  // The score a candidate must reach to enter (once full).
  float threshold() const { return heap_.size() < n_ ? -std::numeric_limits<float>::infinity() : heap_.front().score; }
  void Offer(ScoredIndex c) {
    if (n_ == 0) return;
    if (heap_.size() < n_) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }
  std::vector<ScoredIndex> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  uint32_t n_;
  std::vector<ScoredIndex> heap_;
};

bool Seen(std::span<const uint32_t> seen, uint32_t item) { return std::binary_search(seen.begin(), seen.end(), item); }

std::vector<ScoredIndex> PopularList(const online_learner::IsgdModel& model, std::span<const uint32_t> seen, uint32_t n) {
  Selector selector(n);
  for (uint32_t i = 0; i < model.NumItems(); ++i) {
    const ItemIndex item(i);
    if (!model.IsAvailable(item) || Seen(seen, i)) continue;
    selector.Offer({item, static_cast<float>(model.ItemCount(item))});
  }
  return selector.Take();
}

}  // namespace

std::vector<UserList> TopN(const online_learner::IsgdModel& model, std::span<const UserIndex> users, uint32_t n) {
  std::vector<UserList> out(users.size());
  const auto dim = static_cast<Eigen::Index>(model.dim());
  const uint32_t num_items = model.NumItems();

  std::vector<size_t> warm;  // positions in `users` that get personal scores
  for (size_t k = 0; k < users.size(); ++k) {
    out[k].user = users[k];
    if (model.IsCold(users[k])) {
      out[k].cold = true;
      out[k].items = PopularList(model, model.SeenItems(users[k]), n);
    } else {
      warm.push_back(k);
    }
  }

  RowMajor user_vectors;
  RowMajor scores;
  for (size_t first = 0; first < warm.size(); first += kUserBlock) {
    const size_t count = std::min(kUserBlock, warm.size() - first);
    user_vectors.resize(static_cast<Eigen::Index>(count), dim);
    for (size_t k = 0; k < count; ++k) {
      model.EffectiveUserVector(users[warm[first + k]], {user_vectors.row(static_cast<Eigen::Index>(k)).data(),
                                                         static_cast<size_t>(dim)});
    }
    std::vector<Selector> selectors(count, Selector(n));
    for (uint32_t begin = 0; begin < num_items; begin += kItemBlock) {
      const uint32_t block = std::min(kItemBlock, num_items - begin);
      // Items are rows of the row-major item matrix: a block is a
      // (block x dim) row-major matrix, so scores = U * Q_block^T.
      Eigen::Map<const RowMajor> items(model.ItemMatrix() + size_t{begin} * dim, block, dim);
      scores.noalias() = user_vectors * items.transpose();
      scores.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(model.ItemBias() + begin, block);
      for (size_t k = 0; k < count; ++k) {
        const auto seen = model.SeenItems(users[warm[first + k]]);
        Selector& selector = selectors[k];
        const float* row = scores.row(static_cast<Eigen::Index>(k)).data();
        for (uint32_t j = 0; j < block; ++j) {
          // Cheap threshold test first; the seen and availability checks
          // only run for items that would enter the list.
          if (row[j] < selector.threshold()) continue;
          const uint32_t i = begin + j;
          if (!model.IsAvailable(ItemIndex(i)) || Seen(seen, i)) continue;
          selector.Offer({ItemIndex(i), row[j]});
        }
      }
    }
    for (size_t k = 0; k < count; ++k) out[warm[first + k]].items = selectors[k].Take();
  }
  return out;
}

std::vector<ScoredIndex> PopularItems(const online_learner::IsgdModel& model, uint32_t n) {
  return PopularList(model, {}, n);
}

}  // namespace streamrec::serving
