#include "streamrec/serving/approximate_index.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#include <Eigen/Core>
// hnswlib is header-only and defines non-inline functions (cpuid, AVXCapable):
// this must stay the only translation unit that includes it.
#include <hnswlib/hnswlib.h>

namespace streamrec::serving {
namespace {

using Space = ApproximateIndexOptions::Space;

double SquaredNorm(const float* v, int n) {
  double s = 0;
  for (int k = 0; k < n; ++k) s += double{v[k]} * v[k];
  return s;
}

}  // namespace

class ApproximateIndex::Impl {
 public:
  Impl(const ApproximateIndexOptions& options, ItemVectors items) : options_(options), dim_(items.dim) {
    stored_dim_ = dim_ + (options_.space == Space::kL2Transform ? 2 : 1);
    if (options_.space == Space::kL2Transform) {
      space_ = std::make_unique<hnswlib::L2Space>(static_cast<size_t>(stored_dim_));
    } else {
      space_ = std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(stored_dim_));
    }
    // phi and the drift floor come from the norms of [q_i, b_i] at build time.
    std::vector<double> norms(items.num_items);
    double sum = 0;
    for (uint32_t i = 0; i < items.num_items; ++i) {
      norms[i] = Norm(items, i);
      sum += norms[i];
    }
    const double max_norm = norms.empty() ? 0.0 : *std::max_element(norms.begin(), norms.end());
    phi_ = options_.norm_headroom * max_norm;
    if (!(phi_ > 0)) phi_ = 1;
    mean_norm_ = items.num_items > 0 ? sum / items.num_items : 0.0;
    // The exact head: the `exact_head` largest norms; its smallest norm is
    // the bar for items that join later.
    head_pos_.assign(items.num_items, -1);
    const auto head = static_cast<size_t>(std::max(options_.exact_head, 0));
    if (head == 0) {
      head_norm_ = std::numeric_limits<double>::infinity();
    } else if (head >= norms.size()) {
      head_norm_ = 0;
    } else {
      std::vector<double> sorted = norms;
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(head - 1), sorted.end(),
                       std::greater<>());
      head_norm_ = sorted[head - 1];
    }
    for (uint32_t i = 0; i < items.num_items && head > 0; ++i) {
      if (norms[i] >= head_norm_ && head_.size() < head) JoinHead(i);
    }

    capacity_ = std::max<size_t>(items.num_items, 1024);
    hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), capacity_, static_cast<size_t>(options_.m),
                                                               static_cast<size_t>(options_.ef_construction),
                                                               static_cast<size_t>(options_.seed));
    // Set once: searchKnn reads ef_ and uses max(ef_, k), so concurrent
    // queries never write shared state.
    hnsw_->setEf(static_cast<size_t>(std::max(options_.ef_search, 1)));
    internal_.assign(items.num_items, 0);
    over_norm_.assign(items.num_items, 0);

    const int threads = std::max(1, std::min(options_.build_threads, static_cast<int>(items.num_items / 1000) + 1));
    std::atomic<uint32_t> next{0};
    auto insert_loop = [&] {
      std::vector<float> buffer(stored_dim_);
      for (uint32_t i = next++; i < items.num_items; i = next++) Insert(items, i, buffer);
    };
    if (threads == 1) {
      insert_loop();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) pool.emplace_back(insert_loop);
      for (auto& t : pool) t.join();
    }
    stats_.inserted += items.num_items;
    for (uint8_t over : over_norm_) stats_.over_norm_items += over;
  }

  void Update(ItemVectors items, std::span<const uint32_t> changed) {
    assert(items.dim == dim_);
    const auto old_size = static_cast<uint32_t>(internal_.size());
    std::vector<float> buffer(stored_dim_);

    // Changed old items first, against their indexed copies.
    std::vector<uint32_t> sorted(changed.begin(), changed.end());
    sorted.insert(sorted.end(), backlog_.begin(), backlog_.end());
    backlog_.clear();
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    // Items to re-insert: those joining the head (forced), then those that
    // drifted furthest past relink_drift, at most max_relinks of them: a
    // re-insertion costs ~100 us, and the stream changes thousands of items
    // a second. The rest keep their stale copy until they change again (the
    // exact re-scoring corrects the order meanwhile) and wait in a backlog
    // that later Updates take first.
    std::vector<std::pair<double, uint32_t>> drifted;  // (drift / limit, item)
    for (uint32_t i : sorted) {
      if (i >= old_size || i >= items.num_items) continue;
      // The head follows the current norm; an item joining it is re-indexed
      // so its exact score uses its current vector.
      const bool joins = Norm(items, i) >= head_norm_;
      if (!joins && head_pos_[i] >= 0) LeaveHead(i);
      const bool force = joins && head_pos_[i] < 0;
      if (force) {
        JoinHead(i);
        Relink(items, i, buffer);
        continue;
      }
      const float* indexed = Stored(i);
      const float* q = items.factors + size_t{i} * dim_;
      // The drift of [q_i, b_i]: both spaces keep it in the first dim+1
      // coordinates of the indexed vector.
      double drift_sq = 0;
      for (int k = 0; k < dim_; ++k) drift_sq += double{q[k] - indexed[k]} * (q[k] - indexed[k]);
      drift_sq += double{items.bias[i] - indexed[dim_]} * (items.bias[i] - indexed[dim_]);
      const double scale = std::max(std::sqrt(SquaredNorm(indexed, dim_ + 1)), mean_norm_);
      const double limit = double{options_.relink_drift} * scale;
      if (options_.relink_drift > 0 && drift_sq <= limit * limit) {
        ++stats_.kept_stale;
        continue;
      }
      drifted.emplace_back(limit > 0 ? std::sqrt(drift_sq) / limit : std::sqrt(drift_sq), i);
    }
    const size_t budget = options_.max_relinks > 0 ? static_cast<size_t>(options_.max_relinks) : drifted.size();
    if (drifted.size() > budget) {
      std::nth_element(drifted.begin(), drifted.begin() + static_cast<std::ptrdiff_t>(budget), drifted.end(),
                       std::greater<>());
      for (size_t k = budget; k < drifted.size(); ++k) backlog_.push_back(drifted[k].second);
      drifted.resize(budget);
    }
    for (const auto& [ratio, i] : drifted) Relink(items, i, buffer);
    TrimHead(items);

    // New items, always.
    if (items.num_items > old_size) {
      if (items.num_items > capacity_) {
        capacity_ = std::max<size_t>(items.num_items, capacity_ * 2);
        hnsw_->resizeIndex(capacity_);
      }
      internal_.resize(items.num_items);
      over_norm_.resize(items.num_items, 0);
      head_pos_.resize(items.num_items, -1);
      for (uint32_t i = old_size; i < items.num_items; ++i) {
        Insert(items, i, buffer);
        if (Norm(items, i) >= head_norm_) JoinHead(i);
      }
      stats_.inserted += items.num_items - old_size;
    }
  }

  std::vector<uint32_t> Candidates(std::span<const float> query, size_t k) const {
    assert(query.size() == static_cast<size_t>(dim_));
    if (internal_.empty() || k == 0) return {};
    // A small fixed buffer would do for most dims; the allocation is noise
    // next to the graph search.
    std::vector<float> q(stored_dim_, 0.0F);
    std::copy(query.begin(), query.end(), q.begin());
    q[dim_] = 1.0F;  // picks up the bias; the L2 transform's last coordinate stays 0
    auto heap = hnsw_->searchKnn(q.data(), k);
    // Graph results and the exact head, merged by their score with the
    // indexed copies (the head may repeat graph results).
    std::vector<std::pair<float, uint32_t>> scored;
    scored.reserve(heap.size() + head_.size());
    // Eigen's dot is vectorised; a plain float loop is not (no -ffast-math),
    // and 256 head items x 129 serial multiply-adds cost more than the search.
    const Eigen::Map<const Eigen::VectorXf> qv(q.data(), dim_ + 1);
    auto score = [&](uint32_t i) { return Eigen::Map<const Eigen::VectorXf>(Stored(i), dim_ + 1).dot(qv); };
    for (; !heap.empty(); heap.pop()) {
      const auto i = static_cast<uint32_t>(heap.top().second);
      if (head_pos_[i] < 0) scored.emplace_back(score(i), i);
    }
    for (uint32_t i : head_) scored.emplace_back(score(i), i);
    const size_t keep = std::min(k, scored.size());
    auto better = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(), better);
    std::vector<uint32_t> out(keep);
    for (size_t r = 0; r < keep; ++r) out[r] = scored[r].second;
    return out;
  }

  void SetEfSearch(int ef) { hnsw_->setEf(static_cast<size_t>(std::max(ef, 1))); }
  size_t size() const { return internal_.size(); }
  int dim() const { return dim_; }
  ApproximateIndexStats stats() const {
    ApproximateIndexStats s = stats_;
    s.over_norm_items = 0;
    for (uint8_t over : over_norm_) s.over_norm_items += over;
    s.exact_head = head_.size();
    return s;
  }

 private:
  double Norm(ItemVectors items, uint32_t i) const {
    return std::sqrt(SquaredNorm(items.factors + size_t{i} * dim_, dim_) + double{items.bias[i]} * items.bias[i]);
  }
  void Relink(ItemVectors items, uint32_t i, std::vector<float>& buffer) {
    Transform(items, i, buffer);
    // updatePoint (what addPoint does for an existing label) rewires the
    // item and its neighbours around the new position.
    hnsw_->updatePoint(buffer.data(), internal_[i], 1.0F);
    ++stats_.relinked;
  }

  // Norms grow under the stream, so items keep joining the head; once it
  // holds twice exact_head items, the bar rises to the exact_head-th largest
  // norm among them and the rest leave, so a query's exact work stays bounded.
  void TrimHead(ItemVectors items) {
    const auto cap = static_cast<size_t>(std::max(options_.exact_head, 0));
    if (cap == 0 || head_.size() <= 2 * cap) return;
    std::vector<double> norms;
    norms.reserve(head_.size());
    for (uint32_t i : head_) norms.push_back(i < items.num_items ? Norm(items, i) : 0.0);
    std::nth_element(norms.begin(), norms.begin() + static_cast<std::ptrdiff_t>(cap - 1), norms.end(),
                     std::greater<>());
    head_norm_ = norms[cap - 1];
    for (size_t k = head_.size(); k-- > 0;) {
      const uint32_t i = head_[k];
      if (i >= items.num_items || Norm(items, i) < head_norm_) LeaveHead(i);
    }
  }

  void JoinHead(uint32_t i) {
    head_pos_[i] = static_cast<int32_t>(head_.size());
    head_.push_back(i);
  }
  void LeaveHead(uint32_t i) {
    const auto pos = static_cast<size_t>(head_pos_[i]);
    head_pos_[head_.back()] = static_cast<int32_t>(pos);
    head_[pos] = head_.back();
    head_.pop_back();
    head_pos_[i] = -1;
  }

  const float* Stored(uint32_t i) const {
    return reinterpret_cast<const float*>(hnsw_->getDataByInternalId(internal_[i]));
  }

  // The indexed form of item i into `out` (stored_dim_ floats); records
  // whether its norm exceeds phi.
  void Transform(ItemVectors items, uint32_t i, std::vector<float>& out) {
    const float* q = items.factors + size_t{i} * dim_;
    std::copy(q, q + dim_, out.begin());
    out[dim_] = items.bias[i];
    if (options_.space == Space::kL2Transform) {
      const double rest = phi_ * phi_ - SquaredNorm(out.data(), dim_ + 1);
      out[dim_ + 1] = rest > 0 ? static_cast<float>(std::sqrt(rest)) : 0.0F;
      over_norm_[i] = rest < 0 ? 1 : 0;
    }
  }

  void Insert(ItemVectors items, uint32_t i, std::vector<float>& buffer) {
    Transform(items, i, buffer);
    internal_[i] = hnsw_->addPoint(buffer.data(), hnswlib::labeltype{i}, -1);
  }

  ApproximateIndexOptions options_;
  int dim_;
  int stored_dim_;
  double phi_ = 1;
  double mean_norm_ = 0;
  size_t capacity_ = 0;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;  // outlives hnsw_ (declared first)
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
  std::vector<hnswlib::tableint> internal_;  // item -> hnswlib internal id
  std::vector<uint8_t> over_norm_;           // item indexed with norm above phi
  double head_norm_ = 0;                     // items of at least this norm are in the head
  std::vector<uint32_t> backlog_;            // drifted items beyond max_relinks, re-inserted later
  std::vector<uint32_t> head_;               // the exact head
  std::vector<int32_t> head_pos_;            // item -> position in head_, -1 if not there
  ApproximateIndexStats stats_;
};

ApproximateIndex::ApproximateIndex(ApproximateIndexOptions options) : options_(options) {}
ApproximateIndex::~ApproximateIndex() = default;
ApproximateIndex::ApproximateIndex(ApproximateIndex&&) noexcept = default;
ApproximateIndex& ApproximateIndex::operator=(ApproximateIndex&&) noexcept = default;

void ApproximateIndex::Build(ItemVectors items) {
  impl_.reset();  // free the old graph before allocating the new one
  impl_ = std::make_unique<Impl>(options_, items);
}

void ApproximateIndex::Update(ItemVectors items, std::span<const uint32_t> changed_items) {
  if (!impl_) {
    Build(items);
    return;
  }
  impl_->Update(items, changed_items);
}

std::vector<uint32_t> ApproximateIndex::Candidates(std::span<const float> query, size_t k) const {
  return impl_ ? impl_->Candidates(query, k) : std::vector<uint32_t>{};
}

void ApproximateIndex::SetEfSearch(int ef_search) {
  options_.ef_search = ef_search;
  if (impl_) impl_->SetEfSearch(ef_search);
}

size_t ApproximateIndex::size() const { return impl_ ? impl_->size() : 0; }
int ApproximateIndex::dim() const { return impl_ ? impl_->dim() : 0; }
ApproximateIndexStats ApproximateIndex::stats() const { return impl_ ? impl_->stats() : ApproximateIndexStats{}; }

std::vector<ScoredIndex> RescoreTopN(ItemVectors items, std::span<const float> query,
                                     std::span<const uint32_t> candidates, uint32_t n) {
  assert(query.size() == static_cast<size_t>(items.dim));
  const Eigen::Map<const Eigen::VectorXf> x(query.data(), items.dim);
  std::vector<ScoredIndex> scored;
  scored.reserve(candidates.size());
  for (uint32_t i : candidates) {
    if (i >= items.num_items) continue;
    const Eigen::Map<const Eigen::VectorXf> q(items.factors + size_t{i} * items.dim, items.dim);
    scored.push_back({ItemIndex(i), items.bias[i] + q.dot(x)});
  }
  auto better = [](const ScoredIndex& a, const ScoredIndex& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  };
  const size_t keep = std::min<size_t>(n, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(), better);
  scored.resize(keep);
  return scored;
}

}  // namespace streamrec::serving
