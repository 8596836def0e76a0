// The RocksDB batch write: 1000 user records (dim 64, 50 recent and 200 seen
// items, ~1.3 KB each) per batch, as the pipeline writes them once per
// consumed batch:
//   FeatureStoreWrite  state::FeatureStore::Write (validation, encoding,
//                      one WriteBatch with the offsets and batch counter)
//   RocksDbWriteBatch  raw rocksdb::WriteBatch of the same pre-encoded bytes
//                      under the same keys into a default-options DB
// Both with the write-ahead log on and sync off (the store's default). Keys
// cycle through 100k users, so the database reaches a steady size and
// compaction runs as it would in production.

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "micro/models.h"
#include "streamrec/state/feature_store.h"

namespace streamrec::bench {
namespace {

constexpr uint32_t kDim = 64;
constexpr size_t kBatch = 1000;
constexpr uint32_t kUserPool = 100000;

// Temporary directories removed at exit.
class ScratchDirs {
 public:
  ~ScratchDirs() {
    std::error_code ec;
    for (const auto& d : dirs_) std::filesystem::remove_all(d, ec);
  }
  std::string Make(const char* tag) {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/streamrec-bench-" + tag + "-XXXXXX";
    const char* made = mkdtemp(pattern.data());
    if (made == nullptr) return {};
    dirs_.emplace_back(made);
    return dirs_.back();
  }

 private:
  std::vector<std::string> dirs_;
};
ScratchDirs& Scratch() {
  static ScratchDirs dirs;
  return dirs;
}

struct Records {
  std::vector<std::string> ids;
  std::vector<state::StoredUser> users;
  std::vector<std::string> encoded;
};

const Records& SampleRecords() {
  static const Records records = [] {
    Records r;
    CounterRng rng(5);
    for (uint32_t u = 0; u < kUserPool; ++u) {
      state::StoredUser user;
      user.index = UserIndex(u);
      user.row.key = Mix64(u);
      user.row.event_count = 100;
      user.row.last_ts_ms = 1732350000000 + u;
      for (uint32_t k = 0; k < kDim; ++k) user.row.factors.push_back(static_cast<float>(rng.NextDouble() - 0.5));
      for (uint32_t k = 0; k < 50; ++k) user.row.recent_items.push_back(rng.NextBelow(100000));
      uint32_t item = rng.NextBelow(100);
      for (uint32_t k = 0; k < 200; ++k) {
        user.row.seen_items.push_back(item);
        item += 1 + rng.NextBelow(500);
      }
      r.ids.push_back(fmt::format("u{}", u));
      r.encoded.push_back(*state::EncodeUser(user, kDim));
      r.users.push_back(std::move(user));
      if (u >= 20000) break;  // 20k distinct rows, reused under 100k keys
    }
    return r;
  }();
  return records;
}

void BM_FeatureStoreWrite(benchmark::State& state) {
  const Records& records = SampleRecords();
  // One store for every run of this benchmark, so later runs meet the
  // compaction debt of earlier ones, as a long-running pipeline does.
  static auto store = [] {
    state::StoreOptions options;
    options.dir = Scratch().Make("store");
    options.fingerprint.dim = kDim;
    return state::FeatureStore::Open(options);
  }();
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  static uint32_t next = 0;
  static int64_t offset = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    state::StoreBatch batch;
    batch.users.reserve(kBatch);
    for (size_t k = 0; k < kBatch; ++k) {
      const uint32_t u = next++ % kUserPool;
      const size_t row = u % records.users.size();
      state::StoredUser user = records.users[row];
      user.index = UserIndex(u);
      batch.users.push_back({fmt::format("u{}", u), std::move(user)});
      bytes += records.encoded[row].size();
    }
    batch.index_limits = state::IndexLimits{kUserPool, 100000};
    offset += static_cast<int64_t>(kBatch);
    batch.offsets.push_back({"events", PartitionId(0), KafkaOffset(offset)});
    state.ResumeTiming();
    auto seq = (*store)->Write(batch);
    if (!seq.ok()) {
      state.SkipWithError(seq.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatch));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_FeatureStoreWrite)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RocksDbWriteBatch(benchmark::State& state) {
  const Records& records = SampleRecords();
  static rocksdb::Status s;
  static std::unique_ptr<rocksdb::DB> db = [] {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    s = rocksdb::DB::Open(options, Scratch().Make("rocksdb"), &raw);
    return std::unique_ptr<rocksdb::DB>(raw);
  }();
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (uint32_t u = 0; u < kUserPool; ++u) k.push_back(fmt::format("u{}", u));
    return k;
  }();
  static uint32_t next = 0;
  size_t bytes = 0;
  rocksdb::WriteOptions write_options;  // WAL on, sync off
  for (auto _ : state) {
    rocksdb::WriteBatch batch;
    for (size_t k = 0; k < kBatch; ++k) {
      const uint32_t u = next++ % kUserPool;
      const std::string& value = records.encoded[u % records.encoded.size()];
      batch.Put(keys[u], value);
      bytes += value.size();
    }
    const rocksdb::Status w = db->Write(write_options, &batch);
    if (!w.ok()) {
      state.SkipWithError(w.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatch));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_RocksDbWriteBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace streamrec::bench
