#pragma once

// ApproximateIndex: an approximate maximum-inner-product index (HNSW,
// hnswlib) over the item vectors, for when exact top-N over the whole
// catalog cannot keep up with the users to refresh. It proposes candidates;
// the caller re-scores them exactly with the current vectors and applies its
// exclusions (seen, unavailable), so it asks for more candidates than it
// serves (`ApproximateIndexOptions::candidates`, 50 for a top 10).
//
// Scores are score(u, i) = bias[i] + x_u . q_i. The bias is folded into the
// vectors (see `ApproximateIndexOptions::space`), so a huge-bias item is found
// like any other.
//
// Lifecycle: Build() from a snapshot of the item matrix, then Update() with
// the items whose vector or bias changed (and new ones) as the stream moves
// them. An item is re-inserted only once its vector drifted more than
// `relink_drift` since it was last indexed; below that the index keeps the
// indexed (stale) copy and the exact re-scoring corrects the order. New items
// are always inserted. Items are never removed (unavailable items stay in the
// index; the caller filters them).
//
// Ownership: the caller owns the item arrays; the index copies what it needs
// during Build/Update and keeps no pointer to them.
//
// Thread-safety: Candidates() may be called from several threads at once.
// Build() and Update() must not run concurrently with anything else on the
// same index (the refresher thread owns it and queries between updates).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "streamrec/serving/top_n.h"

namespace streamrec::serving {

// A read-only view of item vectors: `factors` is row-major num_items x dim,
// `bias` has num_items entries.
struct ItemVectors {
  const float* factors = nullptr;
  const float* bias = nullptr;
  uint32_t num_items = 0;
  int dim = 0;
};

struct ApproximateIndexOptions {
  // How the bias is folded into a metric hnswlib searches.
  enum class Space {
    // Items [q_i, b_i], queries [x_u, 1]; hnswlib's inner-product space.
    kInnerProduct,
    // Bachrach et al. 2014: items [q_i, b_i, sqrt(phi^2 - |q_i|^2 - b_i^2)],
    // queries [x_u, 1, 0], hnswlib's L2 space; the nearest item is the one of
    // highest score. phi = norm_headroom * the largest item norm at Build().
    kL2Transform,
  };
  // Default: kInnerProduct (better recall at equal query time on clustered,
  // learned-like vectors; see bench/micro/approximate_index_bench.cc).
  Space space = Space::kInnerProduct;

  // HNSW links per node (2*M on the base layer). More: better recall, more
  // memory and slower build. Default: 16
  int m = 16;
  // Candidate list size while inserting. Default: 100
  int ef_construction = 100;
  // Candidate list size while searching; a query uses max(ef_search, k).
  // Default: 128
  int ef_search = 128;
  // Candidates a caller should ask for per top-N list (not used by the index
  // itself; the refresher's setting for Candidates()' k). Default: 50
  int candidates = 50;
  // kL2Transform only: phi = norm_headroom * the largest item norm at
  // Build(), so items may grow that much before their transform saturates.
  // An item whose norm exceeds phi is indexed with a zero last coordinate
  // (it ranks lower than it should) and counted in over_norm_items(); Build()
  // again when that count grows. Default: 1.25
  float norm_headroom = 1.25F;
  // Re-insert a changed item once |v_now - v_indexed| exceeds relink_drift *
  // max(|v_indexed|, mean item norm at Build()), with v = [q_i, b_i]. 0
  // re-inserts every changed item. Default: 0.1
  float relink_drift = 0.1F;
  // Most items re-inserted per Update, those that drifted furthest first;
  // the others keep their stale copy in a backlog the next Updates take
  // first. 0 = no limit. Default: 64 (a re-insertion costs ~100 us).
  int max_relinks = 64;
  // Items of the largest norms of [q_i, b_i] are also scored exactly (with
  // their indexed copies) on every query, beside the graph search: MIPS top
  // lists are dominated by large norms, and a graph links such outliers
  // poorly, above all items that grew after Build (a huge-bias item is one).
  // Build() puts the `exact_head` items of largest norm there; Update() moves
  // a changed item in or out by the smallest of those norms. Cost per query:
  // head size x dim multiply-adds. 0 turns it off. Default: 256
  int exact_head = 256;
  // Threads inserting during Build() (hnswlib inserts in parallel).
  // Default: 1
  int build_threads = 1;
  // Seed of the level generator: equal seeds and inputs with one build
  // thread give equal indexes. Default: 100
  uint64_t seed = 100;
};

// Counters of the index's maintenance.
struct ApproximateIndexStats {
  uint64_t inserted = 0;        // new items added (Build and Update)
  uint64_t relinked = 0;        // changed items re-inserted (drift above relink_drift)
  uint64_t kept_stale = 0;      // changed items left with their indexed copy
  uint64_t over_norm_items = 0;  // kL2Transform: items indexed with a norm above phi
  uint64_t exact_head = 0;       // items scored exactly on every query (grows when norms grow: Build again)
};

class ApproximateIndex {
 public:
  explicit ApproximateIndex(ApproximateIndexOptions options = {});
  ~ApproximateIndex();
  ApproximateIndex(ApproximateIndex&&) noexcept;
  ApproximateIndex& operator=(ApproximateIndex&&) noexcept;
  ApproximateIndex(const ApproximateIndex&) = delete;
  ApproximateIndex& operator=(const ApproximateIndex&) = delete;

  // Indexes items 0..num_items-1 from scratch (drops the previous index).
  void Build(ItemVectors items);
  // `items` is the current snapshot (same dim as Build). `changed_items`
  // lists items whose vector or bias changed since the last Build/Update, and
  // new items (index >= size()); every item from size() to
  // items.num_items-1 is added whether listed or not. Duplicates are fine.
  void Update(ItemVectors items, std::span<const uint32_t> changed_items);
  // The (up to) k best items by the index's own copies of the vectors, best
  // first. `query` is the user vector x_u (dim floats). Empty before Build.
  std::vector<uint32_t> Candidates(std::span<const float> query, size_t k) const;

  // Changes ef_search for later queries (tuning without a rebuild). Not
  // concurrent with Candidates().
  void SetEfSearch(int ef_search);

  size_t size() const;  // items indexed
  int dim() const;      // dim of Build (0 before)
  const ApproximateIndexOptions& options() const { return options_; }
  ApproximateIndexStats stats() const;

 private:
  class Impl;
  ApproximateIndexOptions options_;
  std::unique_ptr<Impl> impl_;
};

// The top `n` of `candidates` by their exact current score bias[i] + query .
// q_i (ties by lower index): the re-scoring step after Candidates(). The
// caller removes excluded items from `candidates` first.
std::vector<ScoredIndex> RescoreTopN(ItemVectors items, std::span<const float> query,
                                     std::span<const uint32_t> candidates, uint32_t n);

}  // namespace streamrec::serving
