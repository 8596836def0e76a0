// Top-N for 1 user and for batches of 64/256 users against 10k/100k/1M items
// (serving::TopN on a warm model of that many items, dim 64; and at the
// default dim 128 for 100k items and the small batches the pipeline's
// refresher forms at 1k events/s), beside its references of the same shape,
// built with the same -march:
//   GemmFull     one Eigen GEMM users x dim x items into a users x items matrix
//   GemmBlocked  the same product in item blocks of 4096 into one reused
//                buffer (TopN's own blocking, without bias and selection)
//   Gemv         one user: the item matrix times the user vector
//   MemoryPass   the sum of every float of the item matrix: the bandwidth
//                floor of any exact scoring of one user
// Rates: items_per_second counts users; GFLOPs = 2 * users * items * dim.
//
// serving.index=sq8 against exact, both over an ItemSnapshot (the refresh
// worker's path), 64 and 256 users x 100k items at dim 64 and 128:
//   Sq8TopN      TopNQuantized: int8 scores over every item (the fastest
//                kernel this CPU runs), the `candidates` best per user (100,
//                the default, and 50) re-scored exactly. Counter recall@10:
//                against exact TopN.
//   SnapshotTopN exact TopN of the same users on the same snapshot.
//   Int8Scores   the int8 kernel alone over every item, by kernel (0
//                portable, 1 AVX-512 VNNI; skipped where not supported).
// Data: 0 = the warm model's items and users (as TopN above), 1 = the
// learned-like catalog of models.h.

#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "micro/models.h"
#include "streamrec/serving/item_snapshot.h"
#include "streamrec/serving/quantized_items.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::bench {
namespace {

constexpr uint32_t kTopN = 10;
constexpr uint32_t kItemBlock = 4096;  // as serving/src/top_n.cc
constexpr uint32_t kCandidates = 50;  // serving.index_candidates' default

struct Shape {
  uint32_t items;
  uint32_t users;
  int dim;
};
Shape ShapeOf(const benchmark::State& state) {
  return {static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1)),
          static_cast<int>(state.range(2))};
}

online_learner::IsgdModel& ModelFor(uint32_t items, int dim) { return WarmModel({items, 256, dim, 16}); }

void SetRates(benchmark::State& state, uint32_t items, uint32_t users, int dim) {
  state.SetItemsProcessed(state.iterations() * users);
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * users * items * dim * 1e-9 * state.iterations(),
                                                benchmark::Counter::kIsRate);
  state.counters["ms_per_user"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * users * 1e-3, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// User vectors as TopN computes them (p_u + context), users x dim.
RowMajor UserMatrix(const online_learner::IsgdModel& model, uint32_t users) {
  const int dim = model.dim();
  RowMajor u(users, dim);
  for (uint32_t k = 0; k < users; ++k) {
    model.EffectiveUserVector(UserIndex(k), {u.row(k).data(), static_cast<size_t>(dim)});
  }
  return u;
}

// Args: items, users, dim.
void BM_TopN(benchmark::State& state) {
  const auto [items, users, dim] = ShapeOf(state);
  const online_learner::IsgdModel& model = ModelFor(items, dim);
  std::vector<UserIndex> batch;
  for (uint32_t k = 0; k < users; ++k) batch.emplace_back(k);
  for (auto _ : state) {
    auto lists = serving::TopN(model, batch, kTopN);
    benchmark::DoNotOptimize(lists.data());
  }
  SetRates(state, items, users, dim);
}

void BM_GemmFull(benchmark::State& state) {
  const auto [items, users, dim] = ShapeOf(state);
  const online_learner::IsgdModel& model = ModelFor(items, dim);
  const RowMajor u = UserMatrix(model, users);
  Eigen::Map<const RowMajor> q(model.ItemMatrix(), items, dim);
  RowMajor scores(users, items);
  for (auto _ : state) {
    scores.noalias() = u * q.transpose();
    benchmark::DoNotOptimize(scores.data());
    benchmark::ClobberMemory();
  }
  SetRates(state, items, users, dim);
}

void BM_GemmBlocked(benchmark::State& state) {
  const auto [items, users, dim] = ShapeOf(state);
  const online_learner::IsgdModel& model = ModelFor(items, dim);
  const RowMajor u = UserMatrix(model, users);
  RowMajor scores;
  for (auto _ : state) {
    for (uint32_t begin = 0; begin < items; begin += kItemBlock) {
      const uint32_t block = std::min(kItemBlock, items - begin);
      Eigen::Map<const RowMajor> q(model.ItemMatrix() + size_t{begin} * dim, block, dim);
      scores.noalias() = u * q.transpose();
      benchmark::DoNotOptimize(scores.data());
      benchmark::ClobberMemory();
    }
  }
  SetRates(state, items, users, dim);
}

// One user: matrix-vector over the whole item matrix. Args: items, dim.
void BM_Gemv(benchmark::State& state) {
  const auto items = static_cast<uint32_t>(state.range(0));
  const auto dim = static_cast<int>(state.range(1));
  const online_learner::IsgdModel& model = ModelFor(items, dim);
  const RowMajor u = UserMatrix(model, 1);
  Eigen::Map<const RowMajor> q(model.ItemMatrix(), items, dim);
  Eigen::VectorXf scores(items);
  const Eigen::VectorXf r = u.row(0).transpose();
  for (auto _ : state) {
    scores.noalias() = q * r;
    benchmark::DoNotOptimize(scores.data());
    benchmark::ClobberMemory();
  }
  SetRates(state, items, 1, dim);
}

// Reads every float of the item matrix once. Args: items, dim.
void BM_MemoryPass(benchmark::State& state) {
  const auto items = static_cast<uint32_t>(state.range(0));
  const auto dim = static_cast<int>(state.range(1));
  const online_learner::IsgdModel& model = ModelFor(items, dim);
  Eigen::Map<const Eigen::VectorXf> all(model.ItemMatrix(), Eigen::Index{items} * dim);
  for (auto _ : state) {
    float sum = all.sum();
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * int64_t{items} * dim * int64_t{sizeof(float)});
  SetRates(state, items, 1, dim);
}

// A snapshot with its int8 copy, and warm users' queries over it.
struct SnapshotCase {
  serving::ItemSnapshot snapshot;
  std::vector<std::vector<float>> vectors;
  std::vector<serving::UserQuery> queries;
  std::vector<serving::UserList> exact;  // TopN's lists, for recall
};

SnapshotCase& SnapshotCaseFor(uint32_t items, uint32_t users, int dim, bool learned_like, bool sorted = false) {
  static std::map<std::tuple<uint32_t, uint32_t, int, bool, bool>, std::unique_ptr<SnapshotCase>> cache;
  auto& slot = cache[{items, users, dim, learned_like, sorted}];
  if (slot) return *slot;
  slot = std::make_unique<SnapshotCase>(SnapshotCase{serving::ItemSnapshot(dim, /*quantized=*/true), {}, {}});
  SnapshotCase& c = *slot;
  if (learned_like) {
    Catalog catalog(items, dim, /*uniform=*/false);
    for (uint32_t i = 0; i < items; ++i) {
      const float* row = catalog.factors.row(i).data();
      c.snapshot.Apply({ItemIndex(i), "", catalog.bias[i], 1, true, {row, row + dim}});
    }
    for (uint32_t u = 0; u < users; ++u) {
      const Eigen::VectorXf x = catalog.User();
      c.vectors.emplace_back(x.data(), x.data() + dim);
    }
  } else {
    const online_learner::IsgdModel& model = ModelFor(items, dim);
    for (uint32_t i = 0; i < items; ++i) {
      auto row = model.ExportItem(ItemIndex(i));
      c.snapshot.Apply({ItemIndex(i), "", row.bias, row.count, row.available, std::move(row.factors)});
    }
    const RowMajor u = UserMatrix(model, users);
    for (uint32_t k = 0; k < users; ++k) c.vectors.emplace_back(u.row(k).data(), u.row(k).data() + dim);
  }
  for (uint32_t k = 0; k < users; ++k) c.queries.push_back({UserIndex(k), false, c.vectors[k], {}});
  if (sorted) {
    // As the refresh worker does: the int8 copy's scan order for users of
    // the mean norm.
    double norms = 0;
    for (const auto& x : c.vectors) norms += Eigen::Map<const Eigen::VectorXf>(x.data(), dim).norm();
    c.snapshot.RefreshScanOrder(static_cast<float>(norms / users));
  }
  c.exact = serving::TopN(c.snapshot, c.queries, kTopN);
  return c;
}

// recall@10 of `approx` against exact TopN.
double Recall(const std::vector<serving::UserList>& approx, const std::vector<serving::UserList>& exact) {
  serving::ListOverlap overlap;
  for (size_t k = 0; k < exact.size(); ++k) overlap.Add(exact[k].items, approx[k].items);
  return overlap.recall();
}

// Args: items, users, dim, data, candidates, order (0: item order, 1:
// sorted by the bound as the refresh worker keeps it, so the kernel skips).
void BM_Sq8TopN(benchmark::State& state) {
  const auto [items, users, dim] = ShapeOf(state);
  SnapshotCase& c = SnapshotCaseFor(items, users, dim, state.range(3) != 0, state.range(5) != 0);
  const auto candidates = static_cast<uint32_t>(state.range(4));
  std::vector<serving::UserList> lists;
  for (auto _ : state) {
    lists = serving::TopNQuantized(c.snapshot, c.queries, kTopN, candidates);
    benchmark::DoNotOptimize(lists.data());
  }
  SetRates(state, items, users, dim);
  state.counters["recall@10"] = Recall(lists, c.exact);
}

void BM_SnapshotTopN(benchmark::State& state) {
  const auto [items, users, dim] = ShapeOf(state);
  SnapshotCase& c = SnapshotCaseFor(items, users, dim, state.range(3) != 0);
  for (auto _ : state) {
    auto lists = serving::TopN(c.snapshot, c.queries, kTopN);
    benchmark::DoNotOptimize(lists.data());
  }
  SetRates(state, items, users, dim);
}

// Args: items, users, dim, kernel.
void BM_Int8Scores(benchmark::State& state) {
  const auto [items, users, dim] = ShapeOf(state);
  const auto kernel = state.range(3) == 0 ? serving::Int8Kernel::kPortable : serving::Int8Kernel::kAvx512Vnni;
  if (!serving::Int8KernelSupported(kernel)) {
    state.SkipWithError("kernel not supported on this CPU");
    return;
  }
  SnapshotCase& c = SnapshotCaseFor(items, users, dim, false);
  serving::QuantizedUsers quantized(dim, users);
  for (uint32_t k = 0; k < users; ++k) quantized.Set(k, c.vectors[k]);
  // TopN's item block: the score block stays within 1 MiB (L2).
  const auto block = static_cast<uint32_t>(std::clamp<size_t>((size_t{1} << 18) / users, 256, kItemBlock));
  std::vector<float> scores(size_t{block} * quantized.padded_count());
  for (auto _ : state) {
    for (uint32_t begin = 0; begin < items; begin += block) {
      serving::Int8Scores(kernel, quantized, *c.snapshot.quantized(), begin, std::min(block, items - begin),
                          scores.data(), quantized.padded_count());
      benchmark::DoNotOptimize(scores.data());
    }
  }
  SetRates(state, items, users, dim);
}

// Exact TopN takes no candidates (0) and has no scan order (0).
void SnapshotShapes(benchmark::internal::Benchmark* b, std::initializer_list<int64_t> user_counts,
                    std::initializer_list<int64_t> candidates, std::initializer_list<int64_t> orders) {
  b->ArgNames({"items", "users", "dim", "data", "candidates", "order"});
  for (int64_t data : {0, 1}) {
    for (int64_t dim : {64, 128}) {
      for (int64_t users : user_counts) {
        for (int64_t k : candidates) {
          for (int64_t order : orders) b->Args({100000, users, dim, data, k, order});
        }
      }
    }
  }
  b->Unit(benchmark::kMillisecond);
}
// sq8 also at the refresher's rounds under 5k events/s (whole groups of 16).
void Sq8Shapes(benchmark::internal::Benchmark* b) { SnapshotShapes(b, {16, 32, 64, 256}, {kCandidates, 100}, {0, 1}); }
void ExactShapes(benchmark::internal::Benchmark* b) { SnapshotShapes(b, {64, 256}, {0}, {0}); }
void KernelShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"items", "users", "dim", "kernel"});
  for (int64_t kernel : {0, 1}) {
    for (int64_t dim : {64, 128}) b->Args({100000, 256, dim, kernel});
    b->Args({100000, 16, 64, kernel});
  }
  b->Unit(benchmark::kMillisecond);
}

// The shapes at dim 64, and at the default dim 128 the catalog of the
// freshness bench with the batch sizes its refresher forms.
void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"items", "users", "dim"});
  for (int64_t items : {10000, 100000, 1000000}) {
    for (int64_t users : {1, 64, 256}) b->Args({items, users, 64});
  }
  for (int64_t users : {1, 8, 32, 256}) b->Args({100000, users, 128});
  // Refresher rounds at 1k events/s: a handful of users (SmallBatchScores).
  for (int64_t users : {2, 4, 8, 16, 32}) b->Args({100000, users, 64});
  b->Unit(benchmark::kMillisecond);
}
void PassShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"items", "dim"});
  for (int64_t items : {10000, 100000, 1000000}) b->Args({items, 64});
  b->Args({100000, 128});
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_TopN)->Apply(Shapes);
BENCHMARK(BM_GemmFull)->Apply(Shapes);
BENCHMARK(BM_GemmBlocked)->Apply(Shapes);
BENCHMARK(BM_Gemv)->Apply(PassShapes);
BENCHMARK(BM_MemoryPass)->Apply(PassShapes);
BENCHMARK(BM_Sq8TopN)->Apply(Sq8Shapes);
BENCHMARK(BM_SnapshotTopN)->Apply(ExactShapes);
BENCHMARK(BM_Int8Scores)->Apply(KernelShapes);

}  // namespace
}  // namespace streamrec::bench
