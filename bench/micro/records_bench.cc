// State records (state/records.h): encode and decode of a user row (dim
// floats, 50 recent items, 200 seen items) and an item row (2 x dim floats),
// as the pipeline writes them once per dirty row per batch and LoadModel
// reads them at start.

#include <benchmark/benchmark.h>

#include "micro/models.h"
#include "streamrec/state/records.h"

namespace streamrec::bench {
namespace {

state::StoredUser SampleUser(uint32_t dim) {
  state::StoredUser user;
  user.index = UserIndex(12345);
  user.row.key = Mix64(12345);
  user.row.event_count = 250;
  user.row.last_ts_ms = 1732350000123;
  CounterRng rng(1);
  for (uint32_t k = 0; k < dim; ++k) user.row.factors.push_back(static_cast<float>(rng.NextDouble() - 0.5));
  for (uint32_t k = 0; k < 50; ++k) user.row.recent_items.push_back(rng.NextBelow(100000));
  for (uint32_t k = 0; k < 200; ++k) user.row.seen_items.push_back(k * 397 + 11);  // ascending
  return user;
}

state::StoredItem SampleItem(uint32_t dim) {
  state::StoredItem item;
  item.index = ItemIndex(777);
  item.row.key = Mix64(777);
  item.row.bias = 0.25f;
  item.row.count = 1000;
  item.row.last_ts_ms = 1732350000123;
  CounterRng rng(2);
  for (uint32_t k = 0; k < dim; ++k) {
    item.row.factors.push_back(static_cast<float>(rng.NextDouble() - 0.5));
    item.row.context.push_back(static_cast<float>(rng.NextDouble() - 0.5));
  }
  return item;
}

void BM_EncodeUser(benchmark::State& state) {
  const auto dim = static_cast<uint32_t>(state.range(0));
  const state::StoredUser user = SampleUser(dim);
  size_t bytes = 0;
  for (auto _ : state) {
    auto encoded = state::EncodeUser(user, dim);
    bytes = encoded->size();
    benchmark::DoNotOptimize(encoded->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["record_bytes"] = static_cast<double>(bytes);
}

void BM_DecodeUser(benchmark::State& state) {
  const auto dim = static_cast<uint32_t>(state.range(0));
  const std::string bytes = *state::EncodeUser(SampleUser(dim), dim);
  for (auto _ : state) {
    auto decoded = state::DecodeUser("u12345", bytes, dim);
    benchmark::DoNotOptimize(decoded->row.factors.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

void BM_EncodeItem(benchmark::State& state) {
  const auto dim = static_cast<uint32_t>(state.range(0));
  const state::StoredItem item = SampleItem(dim);
  size_t bytes = 0;
  for (auto _ : state) {
    auto encoded = state::EncodeItem(item, dim);
    bytes = encoded->size();
    benchmark::DoNotOptimize(encoded->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["record_bytes"] = static_cast<double>(bytes);
}

void BM_DecodeItem(benchmark::State& state) {
  const auto dim = static_cast<uint32_t>(state.range(0));
  const std::string bytes = *state::EncodeItem(SampleItem(dim), dim);
  for (auto _ : state) {
    auto decoded = state::DecodeItem("sku-777", bytes, dim);
    benchmark::DoNotOptimize(decoded->row.factors.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

// The pipeline's path from the model to bytes: ExportUser (copies the row
// out of the model) then EncodeUser.
void BM_ExportEncodeUser(benchmark::State& state) {
  const auto dim = static_cast<int>(state.range(0));
  online_learner::IsgdModel& model = WarmModel({10000, 1000, dim, 16});
  uint32_t u = 0;
  for (auto _ : state) {
    state::StoredUser user{UserIndex(u), model.ExportUser(UserIndex(u))};
    auto encoded = state::EncodeUser(user, static_cast<uint32_t>(dim));
    benchmark::DoNotOptimize(encoded->data());
    u = (u + 1) % 1000;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_EncodeUser)->ArgNames({"dim"})->Arg(64)->Arg(128);
BENCHMARK(BM_DecodeUser)->ArgNames({"dim"})->Arg(64)->Arg(128);
BENCHMARK(BM_EncodeItem)->ArgNames({"dim"})->Arg(64)->Arg(128);
BENCHMARK(BM_DecodeItem)->ArgNames({"dim"})->Arg(64)->Arg(128);
BENCHMARK(BM_ExportEncodeUser)->ArgNames({"dim"})->Arg(64)->Arg(128);

}  // namespace
}  // namespace streamrec::bench
