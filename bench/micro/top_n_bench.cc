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

#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <vector>

#include "micro/models.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::bench {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr uint32_t kTopN = 10;
constexpr uint32_t kItemBlock = 4096;  // as serving/src/top_n.cc

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

}  // namespace
}  // namespace streamrec::bench
