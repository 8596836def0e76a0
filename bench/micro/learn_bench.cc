// The SGD step: IsgdModel::Learn on a warm model (one positive click, then
// `negatives` sampled negatives, with the default 10-item context), for
// dim 32/64/128 and 4/16/64 negatives. The model keeps learning across
// iterations, as it does in production.

#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "micro/models.h"

namespace streamrec::bench {
namespace {

constexpr uint32_t kItems = 100000;
constexpr uint32_t kUsers = 100000;

void LearnLoop(benchmark::State& state, online_learner::IsgdModel& model, int negatives, uint32_t users = kUsers,
               uint32_t items = kItems) {
  CounterRng rng(99);
  int64_t ts = 1800000000000;
  for (auto _ : state) {
    const uint32_t u = rng.NextBelow(users);
    const uint32_t i = rng.NextBelow(items);
    model.Learn({UserIndex(u), ItemIndex(i), Mix64(u), Mix64(0x1000000000ULL + i), schemas::EventType::kClick,
                 ts++, std::nullopt});
  }
  // The pipeline drains dirty marks once per batch; keep them from growing.
  model.TakeDirtyUsers();
  model.TakeDirtyItems();
  state.SetItemsProcessed(state.iterations());
  state.counters["steps_per_event"] = 1 + negatives;
  state.counters["ns_per_step"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * (1 + negatives) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Args: dim, negatives.
void BM_IsgdLearn(benchmark::State& state) {
  const int dim = static_cast<int>(state.range(0));
  const int negatives = static_cast<int>(state.range(1));
  online_learner::IsgdModel& model = WarmModel({kItems, kUsers, dim, negatives});
  LearnLoop(state, model, negatives);
}
BENCHMARK(BM_IsgdLearn)
    ->ArgNames({"dim", "neg"})
    ->ArgsProduct({{32, 64, 128}, {4, 16, 64}});

// The reference shape (1 positive + 5 negatives, dim 64) without the
// recent-items context: plain ISGD, on the large model above and on a small
// one (10k items and users: 7.5 MB of vectors, cache-resident), which
// separates the step's arithmetic from its cache misses.
void BM_IsgdLearnPlainMf(benchmark::State& state) {
  online_learner::IsgdOptions options;
  options.dim = static_cast<int>(state.range(0));
  options.negatives = static_cast<int>(state.range(1));
  options.context_items = 0;
  const auto size = static_cast<uint32_t>(state.range(2));
  static std::map<uint32_t, std::unique_ptr<online_learner::IsgdModel>> models;
  auto& model = models[size];
  if (!model) {
    model = std::make_unique<online_learner::IsgdModel>(options);
    for (uint32_t i = 0; i < size; ++i) model->AddItem(ItemIndex(i), Mix64(0x1000000000ULL + i));
    for (uint32_t u = 0; u < size; ++u) model->AddUser(UserIndex(u), Mix64(u));
  }
  LearnLoop(state, *model, options.negatives, size, size);
}
BENCHMARK(BM_IsgdLearnPlainMf)->ArgNames({"dim", "neg", "size"})->Args({64, 5, 100000})->Args({64, 5, 10000});

}  // namespace
}  // namespace streamrec::bench
