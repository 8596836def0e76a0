#pragma once

// Random rows, opening a store, and raw RocksDB access shared by the state
// tests.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "streamrec/state/feature_store.h"
#include "streamrec/state/records.h"
#include "support/test_support.h"

namespace streamrec::state::testing {

// A store at `dir` (created if missing) for models of `dim` factors.
inline std::unique_ptr<FeatureStore> OpenStore(const std::string& dir, uint32_t dim) {
  StoreOptions options;
  options.dir = dir;
  options.fingerprint.dim = dim;
  auto store = FeatureStore::Open(options);
  REQUIRE_RESULT_OK(store);
  return std::move(*store);
}

inline online_learner::UserRow RandomUserRow(std::mt19937_64& rng, uint32_t dim, uint32_t num_items) {
  online_learner::UserRow row;
  std::uniform_real_distribution<float> f(-3.f, 3.f);
  row.key = rng();
  row.event_count = static_cast<uint32_t>(rng());
  row.last_ts_ms = static_cast<int64_t>(rng());
  for (uint32_t k = 0; k < dim; ++k) row.factors.push_back(f(rng));
  const size_t recent = rng() % 8;
  for (size_t k = 0; k < recent; ++k) row.recent_items.push_back(static_cast<uint32_t>(rng() % num_items));
  for (uint32_t i = 0; i < num_items; ++i) {
    if (rng() % 3 == 0) row.seen_items.push_back(i);
  }
  return row;
}

inline online_learner::ItemRow RandomItemRow(std::mt19937_64& rng, uint32_t dim) {
  online_learner::ItemRow row;
  std::uniform_real_distribution<float> f(-3.f, 3.f);
  row.key = rng();
  row.bias = f(rng);
  row.count = static_cast<uint32_t>(rng());
  row.available = rng() % 2 == 0;
  row.last_ts_ms = static_cast<int64_t>(rng());
  for (uint32_t k = 0; k < dim; ++k) row.factors.push_back(f(rng));
  for (uint32_t k = 0; k < dim; ++k) row.context.push_back(f(rng));
  return row;
}

// A RocksDB handle on a closed store's directory with all its column
// families, for tests that read or damage the raw bytes behind FeatureStore.
class RawDb {
 public:
  static constexpr const char* kFamilies[] = {"default", "users", "items",   "ids",
                                              "offsets", "meta",  "pending", "item_context"};

  explicit RawDb(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : kFamilies) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    status_ = rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles_, &db);
    db_.reset(db);
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  const rocksdb::Status& status() const { return status_; }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (size_t k = 0; k < handles_.size(); ++k) {
      if (name == kFamilies[k]) return handles_[k];
    }
    return nullptr;
  }
  // Every (family, key) in the database.
  std::vector<std::pair<std::string, std::string>> AllKeys() {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t k = 0; k < handles_.size(); ++k) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[k]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(kFamilies[k], it->key().ToString());
    }
    return out;
  }

 private:
  rocksdb::Status status_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace streamrec::state::testing
