// serving::ApproximateIndex (HNSW over the item vectors, bias folded in)
// against exact scoring of one user, at 100k items, dim 64 and 128.
//
//   AnnQuery     one user: Candidates(x, 100) + RescoreTopN(.., 10) with the
//                exact current vectors. Counters: recall@10 against exact
//                top-10 (mean over 500 users), build_s (the index's Build, 2
//                threads), us_per_user. Uniform data at dim 128 only.
//                Args: dim, data (0 learned-like, 1 uniform), space (0 L2
//                transform, 1 inner product), ef_search.
//   ExactTop10   one user: Eigen GEMV over the whole item matrix + bias +
//                top-10 selection (what the approximate path replaces).
//   AnnStream    the stream's maintenance: per iteration one learned event's
//                worth of SGD nudges to 27 items, then Update() with them.
//                Counters: us_per_changed_item, relinked_share, and
//                recall_after: recall@10 on the moved vectors at the end.
//   AnnRelink    one item moved far (always re-inserted): the cost of one
//                re-insertion.
//
// Data: "learned-like" is what trained factor models look like: rank-16
// structure with 64 clusters of taste, small full-rank noise, a log-normal
// spread of item norms and N(0, 0.3) biases; users come from the same
// clusters. "uniform" is i.i.d. Gaussian vectors: HNSW's worst case and unlike
// trained embeddings, reported for honesty.
//
// AnnStream and AnnRelink run last (registration order) and move the cached
// learned-like catalogs in place.

#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "micro/models.h"
#include "streamrec/serving/approximate_index.h"

namespace streamrec::bench {
namespace {

using Space = serving::ApproximateIndexOptions::Space;

constexpr uint32_t kItems = 100000;
constexpr uint32_t kTop = 10;
constexpr size_t kCandidates = 100;
constexpr int kRecallUsers = 500;
constexpr int kItemsPerEvent = 27;  // 1 positive + negatives + context, as the learner moves them

// Exact top-10 of one user (GEMV + bias + selection): the reference.
std::vector<uint32_t> ExactTop(const Catalog& c, const Eigen::VectorXf& x, Eigen::VectorXf& scores) {
  scores.noalias() = c.factors * x;
  scores += c.bias;
  std::vector<uint32_t> idx(kTop);
  // Partial selection over a min-heap of the kTop best.
  std::vector<std::pair<float, uint32_t>> heap;
  heap.reserve(kTop + 1);
  auto worse = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) { return a.first > b.first; };
  for (uint32_t i = 0; i < kItems; ++i) {
    if (heap.size() == kTop && scores[i] <= heap.front().first) continue;
    heap.emplace_back(scores[i], i);
    std::push_heap(heap.begin(), heap.end(), worse);
    if (heap.size() > kTop) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.pop_back();
    }
  }
  std::sort_heap(heap.begin(), heap.end(), worse);
  for (size_t r = 0; r < kTop; ++r) idx[r] = heap[r].second;
  return idx;
}

double Recall(const serving::ApproximateIndex& index, Catalog& c) {
  Eigen::VectorXf scores(kItems);
  size_t hits = 0;
  std::mt19937 saved = c.rng;
  c.rng.seed(99);  // the same users for every configuration
  for (int u = 0; u < kRecallUsers; ++u) {
    const Eigen::VectorXf x = c.User();
    const auto exact = ExactTop(c, x, scores);
    const std::span<const float> q(x.data(), static_cast<size_t>(x.size()));
    const auto top = serving::RescoreTopN(c.View(), q, index.Candidates(q, kCandidates), kTop);
    for (const auto& s : top) hits += std::count(exact.begin(), exact.end(), s.item.value());
  }
  c.rng = saved;
  return static_cast<double>(hits) / (double{kRecallUsers} * kTop);
}

struct Fixture {
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<serving::ApproximateIndex> index;
  double build_s = 0;
};

Catalog& CatalogFor(int dim, bool uniform) {
  static std::map<std::pair<int, bool>, std::unique_ptr<Catalog>> cache;
  auto& slot = cache[{dim, uniform}];
  if (!slot) slot = std::make_unique<Catalog>(kItems, dim, uniform);
  return *slot;
}

Fixture& FixtureFor(int dim, bool uniform, Space space) {
  static std::map<std::tuple<int, bool, Space>, Fixture> cache;
  Fixture& f = cache[{dim, uniform, space}];
  if (!f.index) {
    Catalog& c = CatalogFor(dim, uniform);
    serving::ApproximateIndexOptions o;
    o.space = space;
    o.build_threads = 2;
    f.index = std::make_unique<serving::ApproximateIndex>(o);
    const auto start = std::chrono::steady_clock::now();
    f.index->Build(c.View());
    f.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return f;
}

void BM_AnnQuery(benchmark::State& state) {
  const auto dim = static_cast<int>(state.range(0));
  const bool uniform = state.range(1) != 0;
  const Space space = state.range(2) == 0 ? Space::kL2Transform : Space::kInnerProduct;
  const auto ef = static_cast<int>(state.range(3));
  Fixture& f = FixtureFor(dim, uniform, space);
  Catalog& c = CatalogFor(dim, uniform);
  f.index->SetEfSearch(ef);
  const double recall = Recall(*f.index, c);
  std::vector<Eigen::VectorXf> users;
  for (int u = 0; u < 256; ++u) users.push_back(c.User());
  size_t u = 0;
  for (auto _ : state) {
    const Eigen::VectorXf& x = users[u++ % users.size()];
    const std::span<const float> q(x.data(), static_cast<size_t>(dim));
    auto top = serving::RescoreTopN(c.View(), q, f.index->Candidates(q, kCandidates), kTop);
    benchmark::DoNotOptimize(top.data());
  }
  f.index->SetEfSearch(serving::ApproximateIndexOptions{}.ef_search);
  state.counters["recall@10"] = recall;
  state.counters["build_s"] = f.build_s;
  state.counters["us_per_user"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 1e-6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ExactTop10(benchmark::State& state) {
  const auto dim = static_cast<int>(state.range(0));
  Catalog& c = CatalogFor(dim, false);
  std::vector<Eigen::VectorXf> users;
  for (int u = 0; u < 256; ++u) users.push_back(c.User());
  Eigen::VectorXf scores(kItems);
  size_t u = 0;
  for (auto _ : state) {
    auto top = ExactTop(c, users[u++ % users.size()], scores);
    benchmark::DoNotOptimize(top.data());
  }
  state.counters["us_per_user"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 1e-6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One learned event's worth of SGD steps (lr 0.05, error in [-1, 1], a user
// of the data's clusters, L2 0.01) on 27 random items, then Update.
void BM_AnnStream(benchmark::State& state) {
  const auto dim = static_cast<int>(state.range(0));
  Fixture& f = FixtureFor(dim, false, Space::kInnerProduct);
  Catalog& c = CatalogFor(dim, false);
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> item(0, kItems - 1);
  std::uniform_real_distribution<float> err(-1.0F, 1.0F);
  std::vector<Eigen::VectorXf> users;
  for (int u = 0; u < 1024; ++u) users.push_back(c.User());
  const auto before = f.index->stats();
  std::vector<uint32_t> changed(kItemsPerEvent);
  size_t u = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const Eigen::VectorXf& x = users[u++ % users.size()];
    for (uint32_t& i : changed) {
      i = item(rng);
      const float e = err(rng);
      c.factors.row(i) += 0.05F * (e * x.transpose() - 0.01F * c.factors.row(i));
      c.bias[i] += 0.05F * e;
    }
    state.ResumeTiming();
    f.index->Update(c.View(), changed);
  }
  const auto after = f.index->stats();
  const double moved = static_cast<double>(state.iterations()) * kItemsPerEvent;
  state.counters["relinked_share"] = static_cast<double>(after.relinked - before.relinked) / moved;
  state.counters["us_per_changed_item"] =
      benchmark::Counter(moved * 1e-6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["recall_after"] = Recall(*f.index, c);
  state.counters["over_norm_items"] = static_cast<double>(after.over_norm_items);
}

// One item swapped with a far one and re-inserted: the price of a relink.
void BM_AnnRelink(benchmark::State& state) {
  const auto dim = static_cast<int>(state.range(0));
  Fixture& f = FixtureFor(dim, false, Space::kInnerProduct);
  Catalog& c = CatalogFor(dim, false);
  std::mt19937 rng(6);
  std::uniform_int_distribution<uint32_t> item(0, kItems - 1);
  const auto before = f.index->stats();
  for (auto _ : state) {
    state.PauseTiming();
    const uint32_t a = item(rng);
    const uint32_t b = item(rng);
    c.factors.row(a).swap(c.factors.row(b));
    std::swap(c.bias[a], c.bias[b]);
    const std::vector<uint32_t> changed = {a, b};
    state.ResumeTiming();
    f.index->Update(c.View(), changed);
  }
  const auto after = f.index->stats();
  const auto relinked = static_cast<double>(after.relinked - before.relinked);
  state.counters["us_per_relink"] = benchmark::Counter(relinked * 1e-6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["recall_after"] = Recall(*f.index, c);
}

void QueryArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dim", "uniform", "ip", "ef"});
  for (int64_t dim : {64, 128}) {
    for (int64_t space : {0, 1}) {
      for (int64_t ef : {100, 200}) b->Args({dim, 0, space, ef});
    }
  }
  // Uniform data at dim 128 only (one more 100k build), in the default space.
  b->Args({128, 1, 1, 100});
  b->Args({128, 1, 1, 400});
  b->Unit(benchmark::kMicrosecond)->MinTime(0.3);
}

BENCHMARK(BM_AnnQuery)->Apply(QueryArgs);
BENCHMARK(BM_ExactTop10)->ArgName("dim")->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
BENCHMARK(BM_AnnStream)->ArgName("dim")->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond)->Iterations(20000);
BENCHMARK(BM_AnnRelink)->ArgName("dim")->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond)->Iterations(2000);

}  // namespace
}  // namespace streamrec::bench
