#include "streamrec/state/feature_store.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <mutex>
#include <span>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "streamrec/base/logging.h"
#include "streamrec/schemas/codec.h"
#include "digest.h"
#include "keys.h"
#include "rocksdb_status.h"

namespace streamrec::state {

using internal::FromRocks;
namespace fs = std::filesystem;

namespace {

enum Cf : size_t { kUsers = 0, kItems, kIds, kOffsets, kMeta, kPending, kItemContext, kNumCfs };
static_assert(internal::kColumnFamilies.size() == kNumCfs);

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

rocksdb::CompressionType ChooseCompression(std::string_view cf) {
  // User and item rows are mostly float vectors, which LZ4 cannot shrink: a
  // flushed items file measured 56.6 MB for 56.7 MB of rows, a users file
  // was larger than its rows. Compressing them only costs the flushes and
  // compactions CPU (a few % of all of it at 5k events/s). The other column
  // families hold ids and keys, which do compress. Fall back to none if this
  // librocksdb was built without LZ4.
  if (cf == internal::kCfUsers || cf == internal::kCfItems || cf == internal::kCfItemContext) {
    return rocksdb::kNoCompression;
  }
  const auto supported = rocksdb::GetSupportedCompressions();
  return std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()
             ? rocksdb::kLZ4Compression
             : rocksdb::kNoCompression;
}

rocksdb::DBOptions MakeDbOptions(bool create) {
  rocksdb::DBOptions db;
  db.create_if_missing = create;
  // Only a store we create gets our column families made for it; an
  // existing directory must already have them (checked before opening), so a
  // foreign RocksDB is never silently turned into a streamrec store.
  db.create_missing_column_families = create;
  db.paranoid_checks = true;
  // Two cores on the reference machine: one flush and one compaction.
  db.max_background_jobs = 2;
  // One thread writes (the store writer), so concurrent memtable inserts
  // gain nothing; the items column family's vector memtable needs them off.
  db.allow_concurrent_memtable_write = false;
  // Flushes and compactions are throughput work: at a lower CPU priority
  // (nice 19) they yield to the threads that learn, write the WAL and
  // publish lists, whose latency they otherwise spike (a 64 MiB flush burst
  // was the p99 of freshness at 1k events/s). They still get every idle
  // cycle, and a memtable that cannot flush stalls writes, so they cannot
  // fall behind unboundedly. Env::Default is process-wide; setting it again
  // is harmless.
  rocksdb::Env* env = rocksdb::Env::Default();
  env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow).PermitUncheckedError();
  env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH, rocksdb::CpuPriority::kLow).PermitUncheckedError();
  // All column families share one memtable budget. The small ones (offsets,
  // meta, ids) are written every batch, so an unflushed one would pin old WAL
  // files; capping the WAL makes RocksDB flush them and recycle the log.
  db.db_write_buffer_size = size_t{160} << 20;
  db.max_total_wal_size = uint64_t{256} << 20;
  // RocksDB's own LOG files: keep a few small ones for post-mortems.
  db.max_log_file_size = size_t{4} << 20;
  db.keep_log_file_num = 3;
  return db;
}

// Hash buckets of the items memtable (8 bytes each): a catalogue of up to
// ~100k items has about one row per bucket.
constexpr size_t kItemMemtableBuckets = 100000;

rocksdb::ColumnFamilyOptions MakeCfOptions(std::string_view cf, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  // Level compaction (the default) with dynamic level sizes keeps space
  // amplification near 1.1x for a store that is mostly overwrites of the
  // same keys.
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.compression = ChooseCompression(cf);
  // Room for three memtables waiting on a flush before writes stop. With
  // RocksDB's default (two), a freshness run at 5k events/s logged "[items]
  // Stopping writes because we have 2 immutable memtables": flushes run at
  // nice 19 and wait while the CPU is busy, and every stop showed as
  // latency (A/B pairs, p99 435/607 ms -> 54/225 ms).
  o.max_write_buffer_number = 4;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  const bool point_lookups = cf == internal::kCfUsers || cf == internal::kCfItems || cf == internal::kCfItemContext ||
                             cf == internal::kCfPending;
  if (point_lookups) {
    // inspect, ReadUser/ReadItem and the conditional pending clears are
    // point lookups, often of absent keys: a 10 bits/key Bloom filter (~1%
    // false positives) answers most misses without reading a block.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
    // RocksDB's default size: a memtable holding a few versions of each
    // user row flushes each once.
    o.write_buffer_size = size_t{64} << 20;
    if (cf == internal::kCfItems || cf == internal::kCfItemContext) {
      // Item rows are rewritten all the time (an event dirties its item and
      // every sampled negative: 17 rows by default; the user's context items
      // get their context records, 10 by default) and have a fixed size,
      // so each rewrite overwrites its row in the memtable: it holds one
      // entry per item and never fills, where appending every version had
      // the flush thread sorting ~120k entries every 0.65 s at 25k events/s
      // (a third of a core; ingest bench, 10k items). Finding the row is a hash lookup: the whole id
      // is the "prefix" (ids are at most kMaxIdBytes) of a hashed memtable;
      // a skip-list search per put was 40% of the writer's time. The cost:
      // iterators must ask for total order (Scan does), and a read running
      // beside a Write may see rows newer than its snapshot.
      o.inplace_update_support = true;
      o.prefix_extractor.reset(rocksdb::NewCappedPrefixTransform(schemas::kMaxIdBytes));
      o.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(kItemMemtableBuckets));
    } else if (cf == internal::kCfUsers) {
      // User rows are written once per event and read back only by a
      // restart, inspect or a digest. A skip list pays a cache-missing
      // search per insert; a vector appends and is sorted once, at flush, on
      // a background thread (at nice 19, off the latency path). A point read
      // of an unflushed vector sorts a copy, which those rare readers can
      // pay. `pending` stays a skip list: every acknowledged list reads it.
      o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    }
  } else {
    // ids, offsets and meta hold a handful of keys.
    o.write_buffer_size = size_t{1} << 20;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

bool IsDirNonEmpty(const fs::path& dir) {
  std::error_code ec;
  return fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

// `ro` in total order: without it an iterator over the items column family
// walks one bucket of its hashed memtable (MakeCfOptions), not every row.
rocksdb::ReadOptions TotalOrder(rocksdb::ReadOptions ro) {
  ro.total_order_seek = true;
  return ro;
}

// The read view of one call: a snapshot, so multi-CF reads (LoadModel,
// Digest) see one batch boundary even while Write() runs on another thread,
// except for item rows still in the memtable, which are updated in place
// (MakeCfOptions). Nothing reads them while the pipeline writes.
class SnapshotRead {
 public:
  explicit SnapshotRead(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {
    options_.snapshot = snapshot_;
  }
  ~SnapshotRead() { db_->ReleaseSnapshot(snapshot_); }
  SnapshotRead(const SnapshotRead&) = delete;
  SnapshotRead& operator=(const SnapshotRead&) = delete;
  const rocksdb::ReadOptions& options() const { return options_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

Status MissingContext(std::string_view item_id) {
  return Status::Corruption(
      fmt::format("items record '{}' has no {} record", PrintableKey(item_id), internal::kCfItemContext));
}

// The item_context records in key order, matched one by one to the items
// records read in key order (both families are keyed by id): a row without
// its context, or a context without its row, is corruption.
class ItemContexts {
 public:
  ItemContexts(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::ReadOptions& ro, uint32_t dim)
      : it_(db->NewIterator(TotalOrder(ro), cf)), dim_(dim) {
    it_->SeekToFirst();
  }

  // The context of the item at `item_id`.
  Result<std::vector<float>> Next(std::string_view item_id) {
    if (it_->Valid() && ToView(it_->key()) < item_id) return Orphan();
    if (!it_->Valid() || ToView(it_->key()) != item_id) {
      STREAMREC_RETURN_IF_ERROR(IteratorStatus());
      return MissingContext(item_id);
    }
    auto context = DecodeItemContext(item_id, ToView(it_->value()), dim_);
    it_->Next();
    return context;
  }

  // After the last item: no context may be left over.
  Status End() const { return it_->Valid() ? Orphan() : IteratorStatus(); }

 private:
  Status Orphan() const {
    return Status::Corruption(
        fmt::format("{} record '{}' has no items record", internal::kCfItemContext, PrintableKey(ToView(it_->key()))));
  }
  Status IteratorStatus() const { return FromRocks(it_->status(), "scanning item_context"); }

  std::unique_ptr<rocksdb::Iterator> it_;
  uint32_t dim_;
};

}  // namespace

struct FeatureStore::Impl {
  StoreOptions options;
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // by Cf
  rocksdb::WriteOptions write_options;

  std::mutex write_mu;  // serialises Write() and Checkpoint()
  // Write()'s batch, kept between writes so its buffer is reused: a batch
  // of thousands of rows grew a fresh one by doubling, with page faults.
  rocksdb::WriteBatch write_batch;  // guarded by write_mu
  // The batch's encoded user and item rows, one buffer reused likewise
  // (a string per row was a malloc and a free each, ~10 per event).
  std::string encoded_rows;               // guarded by write_mu
  std::vector<size_t> encoded_row_ends;  // guarded by write_mu
  uint64_t format_version = kStoreFormatVersion;  // as stored (CheckMeta)
  uint64_t batch_seq = 0;  // last written batch; guarded by write_mu
  IndexLimits limits;      // as stored; guarded by write_mu
  // The sampler ring as its stored segments hold it, so a write puts only
  // the segments that differ; empty until segments exist (a new store, or
  // one that kept the ring in one record). Guarded by write_mu.
  std::optional<online_learner::SamplerRow> stored_sampler;

  ~Impl() {
    if (db == nullptr) return;
    for (auto* h : handles) {
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    // Every batch is already in the WAL, so a failed close loses nothing;
    // it is logged rather than reported because destructors cannot fail.
    const rocksdb::Status s = db->Close();
    if (!s.ok()) Logger(kLogState)->warn("closing store at {}: {}", options.dir, s.ToString());
    delete db;
  }

  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles[c]; }

  // A value at `key`, or nullopt when absent.
  Result<std::optional<std::string>> Get(const rocksdb::ReadOptions& ro, Cf c, std::string_view key) const {
    std::string value;
    const rocksdb::Status s = db->Get(ro, cf(c), ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) {
      return FromRocks(s, fmt::format("reading {} '{}' from store at {}", internal::kColumnFamilies[c],
                                      PrintableKey(key), options.dir));
    }
    return std::optional<std::string>(std::move(value));
  }

  // Calls fn(key, value) -> Status for every key of `c` in key order,
  // stopping at the first error.
  template <typename Fn>
  Status Scan(const rocksdb::ReadOptions& ro, Cf c, Fn&& fn) const {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(TotalOrder(ro), cf(c)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      STREAMREC_RETURN_IF_ERROR(fn(ToView(it->key()), ToView(it->value())));
    }
    return FromRocks(it->status(), fmt::format("scanning {} in store at {}", internal::kColumnFamilies[c],
                                               options.dir));
  }

  Result<bool> AllEmpty() const {
    for (size_t c = 0; c < kNumCfs; ++c) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(TotalOrder({}), handles[c]));
      it->SeekToFirst();
      if (it->Valid()) return false;
      STREAMREC_RETURN_IF_ERROR(FromRocks(it->status(), fmt::format("reading store at {}", options.dir)));
    }
    return true;
  }

  // The sampler ring, from its head and segments or (older stores) its one
  // record; `segmented` says which.
  struct StoredSampler {
    online_learner::SamplerRow row;
    bool segmented = false;
  };
  Result<std::optional<StoredSampler>> ReadSampler(const rocksdb::ReadOptions& ro) const {
    auto raw = Get(ro, kMeta, internal::kMetaSampler);
    if (!raw.ok()) return raw.status();
    if (!raw->has_value()) return std::optional<StoredSampler>();
    auto record = DecodeSamplerRecord(internal::kMetaSampler, **raw);
    if (!record.ok()) return record.status();
    if (auto* whole = std::get_if<online_learner::SamplerRow>(&*record)) {
      return std::optional<StoredSampler>(StoredSampler{std::move(*whole), false});
    }
    const SamplerHead head = std::get<SamplerHead>(*record);
    StoredSampler sampler{{{}, head.pushes}, true};
    std::vector<uint32_t>& ring = sampler.row.ring;
    ring.reserve(head.ring_size);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(kMeta)));
    const rocksdb::Slice prefix = ToSlice(internal::kMetaSamplerSegmentPrefix);
    uint32_t expected = 0;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view key = ToView(it->key());
      auto items = DecodeSamplerSegment(key, ToView(it->value()));
      if (!items.ok()) return items.status();
      // Segments come in order, each full but the last.
      if (internal::SamplerSegmentOf(key) != expected || ring.size() != size_t{expected} * kSamplerSegmentSlots ||
          items->size() > kSamplerSegmentSlots) {
        return Status::Corruption(fmt::format("meta record '{}': not segment {} of the sampler ring, or misfilled",
                                              PrintableKey(key), expected));
      }
      ring.insert(ring.end(), items->begin(), items->end());
      ++expected;
    }
    STREAMREC_RETURN_IF_ERROR(FromRocks(it->status(), fmt::format("scanning meta in store at {}", options.dir)));
    if (ring.size() != head.ring_size) {
      return Status::Corruption(fmt::format("meta: the sampler ring holds {} items in its segments, its head says {}",
                                            ring.size(), head.ring_size));
    }
    return std::optional<StoredSampler>(std::move(sampler));
  }

  // Puts into `wb` the segments of `now` that differ from stored_sampler,
  // deletes segments beyond its end, and puts its head. ValidateBatch
  // checked the ring's shape; item limits are checked here, for the
  // segments written.
  Status PutSampler(const online_learner::SamplerRow& now, const IndexLimits& new_limits, rocksdb::WriteBatch& wb,
                    rocksdb::Status& s) const;

  Status Initialize();
  Status CheckMeta();
  // Format 1 kept each item's context inside its row: moves the contexts to
  // item_context, in one synced batch with the new format version.
  Status UpgradeFromFormat1();
  // Checks `batch` and encodes its user rows, then each item's row and/or
  // context (as its parts say), onto `rows`; record k ends at row_ends[k].
  Status ValidateBatch(const StoreBatch& batch, const IndexLimits& limits, std::string& rows,
                       std::vector<size_t>& row_ends) const;
};

Status FeatureStore::Impl::PutSampler(const online_learner::SamplerRow& now, const IndexLimits& new_limits,
                                      rocksdb::WriteBatch& wb, rocksdb::Status& s) const {
  auto keep = [&s](rocksdb::Status next) {
    if (s.ok()) s = std::move(next);
  };
  const std::span<const uint32_t> ring = now.ring;
  const std::span<const uint32_t> before =
      stored_sampler ? std::span<const uint32_t>(stored_sampler->ring) : std::span<const uint32_t>();
  const auto segment_of = [](std::span<const uint32_t> r, size_t k) {
    const size_t begin = std::min(r.size(), k * kSamplerSegmentSlots);
    return r.subspan(begin, std::min<size_t>(kSamplerSegmentSlots, r.size() - begin));
  };
  const size_t segments = (ring.size() + kSamplerSegmentSlots - 1) / kSamplerSegmentSlots;
  const size_t segments_before =
      stored_sampler ? (before.size() + kSamplerSegmentSlots - 1) / kSamplerSegmentSlots : 0;
  for (size_t k = 0; k < segments; ++k) {
    const std::span<const uint32_t> items = segment_of(ring, k);
    const std::span<const uint32_t> was = segment_of(before, k);
    if (k < segments_before && std::equal(items.begin(), items.end(), was.begin(), was.end())) continue;
    for (uint32_t i : items) {
      if (i >= new_limits.next_item) {
        return Status::InvalidArgument(
            fmt::format("sampler: item {} is not below the item index limit {}", i, new_limits.next_item));
      }
    }
    keep(wb.Put(cf(kMeta), internal::SamplerSegmentKey(static_cast<uint32_t>(k)), EncodeSamplerSegment(items)));
  }
  for (size_t k = segments; k < segments_before; ++k) {
    keep(wb.Delete(cf(kMeta), internal::SamplerSegmentKey(static_cast<uint32_t>(k))));
  }
  auto head = EncodeSamplerHead({now.pushes, static_cast<uint32_t>(ring.size())});
  if (!head.ok()) return head.status();
  keep(wb.Put(cf(kMeta), ToSlice(internal::kMetaSampler), *head));
  return Status::Ok();
}

namespace {

// Makes sure options.dir is a directory we may open as a store and says
// whether it already holds one.
Result<bool> PrepareDir(const StoreOptions& options) {
  const fs::path dir(options.dir);
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IoError(fmt::format("cannot access store directory {}: {}", options.dir, ec.message()));
  }
  if (!fs::exists(st)) {
    if (options.read_only || !options.create_if_missing) {
      return Status::NotFound(fmt::format("no store at {} (the directory does not exist)", options.dir));
    }
    fs::create_directories(dir, ec);
    if (ec) {
      return Status::IoError(fmt::format("cannot create store directory {}: {}", options.dir, ec.message()));
    }
    return false;
  }
  if (!fs::is_directory(st)) {
    return Status::FailedPrecondition(
        fmt::format("{} is not a directory, so it cannot hold a store; set state.dir to a directory", options.dir));
  }
  if (fs::exists(dir / "CURRENT", ec)) return true;
  if (IsDirNonEmpty(dir)) {
    return Status::FailedPrecondition(
        fmt::format("{} is not a streamrec store (it holds other files and no RocksDB database); "
                    "use an empty or new state.dir",
                    options.dir));
  }
  if (options.read_only || !options.create_if_missing) {
    return Status::NotFound(fmt::format("no store at {} (the directory is empty)", options.dir));
  }
  return false;
}

// Opening for writes needs room: a new WAL and MANIFEST, and the replay of
// the last WAL flushed into SST files. Debian's librocksdb aborts on an
// assertion when such a write fails inside Open (measured on a full tmpfs),
// so a disk without room is refused first, with a message that says so.
constexpr uintmax_t kMinFreeBytesToOpen = uintmax_t{8} << 20;

Status CheckFreeSpace(const std::string& dir) {
  std::error_code ec;
  const fs::space_info space = fs::space(dir, ec);
  if (ec || space.available >= kMinFreeBytesToOpen) return Status::Ok();
  return Status::IoError(fmt::format(
      "the disk holding the store at {} is full ({} KiB free; opening it needs {} MiB); free space and restart", dir,
      space.available >> 10, kMinFreeBytesToOpen >> 20));
}

// An existing database must have exactly our column families (plus RocksDB's
// "default"), else it belongs to something else; a format 1 store lacks
// item_context and is upgraded by a writable open. Says whether it lacks it.
Result<bool> CheckColumnFamilies(const StoreOptions& options) {
  std::vector<std::string> names;
  const rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.dir, &names);
  STREAMREC_RETURN_IF_ERROR(FromRocks(s, fmt::format("reading column families of store at {}", options.dir)));
  std::vector<std::string_view> missing;
  for (std::string_view cf : internal::kColumnFamilies) {
    if (std::find(names.begin(), names.end(), cf) == names.end()) missing.push_back(cf);
  }
  if (missing.size() == internal::kColumnFamilies.size()) {
    return Status::FailedPrecondition(
        fmt::format("{} holds a RocksDB database that is not a streamrec store (no '{}' column family); "
                    "use another state.dir",
                    options.dir, internal::kCfMeta));
  }
  if (missing.size() == 1 && missing.front() == internal::kCfItemContext) return true;
  if (!missing.empty()) {
    return Status::Corruption(fmt::format("store at {} is damaged or foreign: column families {} are missing",
                                          options.dir, fmt::join(missing, ", ")));
  }
  return false;
}

}  // namespace

Status FeatureStore::Impl::Initialize() {
  rocksdb::WriteBatch wb;
  const std::string format = EncodeCounter(kStoreFormatVersion);
  const std::string fingerprint = EncodeFingerprint(options.fingerprint);
  STREAMREC_RETURN_IF_ERROR(FromRocks(wb.Put(cf(kMeta), ToSlice(internal::kMetaFormatVersion), format), "init"));
  STREAMREC_RETURN_IF_ERROR(FromRocks(wb.Put(cf(kMeta), ToSlice(internal::kMetaFingerprint), fingerprint), "init"));
  // Synced whatever options.sync says: creation is rare, and a store must
  // never exist on disk without its fingerprint.
  rocksdb::WriteOptions wo;
  wo.sync = true;
  STREAMREC_RETURN_IF_ERROR(
      FromRocks(db->Write(wo, &wb), fmt::format("initialising new store at {}", options.dir)));
  Logger(kLogState)->info("created store at {} (dim {}, id scheme {})", options.dir, options.fingerprint.dim,
                          options.fingerprint.id_scheme);
  return Status::Ok();
}

Status FeatureStore::Impl::CheckMeta() {
  const rocksdb::ReadOptions ro;
  auto format = Get(ro, kMeta, internal::kMetaFormatVersion);
  if (!format.ok()) return format.status();
  if (!format->has_value()) {
    // Column families exist but meta was never written: a creation that was
    // interrupted. Safe to finish only if nothing else was written either.
    auto empty = AllEmpty();
    if (!empty.ok()) return empty.status();
    if (!*empty) {
      return Status::Corruption(
          fmt::format("store at {} has data but no format record in meta; it is damaged", options.dir));
    }
    if (options.read_only) {
      return Status::FailedPrecondition(fmt::format("store at {} was never initialised", options.dir));
    }
    return Initialize();
  }
  auto version = DecodeCounter(internal::kMetaFormatVersion, **format);
  if (!version.ok()) return version.status().WithContext(fmt::format("store at {}", options.dir));
  if (*version > kStoreFormatVersion) {
    return Status::FailedPrecondition(
        fmt::format("store at {} has format version {}, this build reads up to {}; use a newer streamrec "
                    "or a new state.dir",
                    options.dir, *version, kStoreFormatVersion));
  }
  if (*version == 0) {
    return Status::Corruption(fmt::format("store at {} has format version 0", options.dir));
  }
  format_version = *version;

  auto raw = Get(ro, kMeta, internal::kMetaFingerprint);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) {
    return Status::Corruption(fmt::format("store at {} has no fingerprint in meta; it is damaged", options.dir));
  }
  auto stored = DecodeFingerprint(internal::kMetaFingerprint, **raw);
  if (!stored.ok()) return stored.status().WithContext(fmt::format("store at {}", options.dir));
  const Fingerprint& want = options.fingerprint;
  std::vector<std::string> differences;
  std::string fixes = "use a new state.dir";
  if (stored->dim != want.dim) {
    differences.push_back(fmt::format("learner.dim={}, config says {}", stored->dim, want.dim));
    fixes += fmt::format(" or --set learner.dim={}", stored->dim);
  }
  if (stored->id_scheme != want.id_scheme) {
    differences.push_back(
        fmt::format("id scheme '{}', this build uses '{}'", stored->id_scheme, want.id_scheme));
  }
  if (!differences.empty()) {
    return Status::FailedPrecondition(fmt::format("store at {} was made with {}; {}", options.dir,
                                                  fmt::join(differences, " and "), fixes));
  }

  auto seq = Get(ro, kMeta, internal::kMetaBatchSeq);
  if (!seq.ok()) return seq.status();
  if (seq->has_value()) {
    auto decoded = DecodeCounter(internal::kMetaBatchSeq, **seq);
    if (!decoded.ok()) return decoded.status().WithContext(fmt::format("store at {}", options.dir));
    batch_seq = *decoded;
  }
  auto limits_raw = Get(ro, kIds, internal::kIdsNextIndex);
  if (!limits_raw.ok()) return limits_raw.status();
  if (limits_raw->has_value()) {
    auto decoded = DecodeIndexLimits(internal::kIdsNextIndex, **limits_raw);
    if (!decoded.ok()) return decoded.status().WithContext(fmt::format("store at {}", options.dir));
    limits = *decoded;
  }
  return Status::Ok();
}

Status FeatureStore::Impl::UpgradeFromFormat1() {
  const uint32_t dim = options.fingerprint.dim;
  const std::string where = fmt::format("upgrading store at {} from format 1", options.dir);
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  std::string row, context;
  uint64_t items = 0;
  const auto split_row = [&](std::string_view key, std::string_view value) -> Status {
    auto item = DecodeItem(key, value, dim);
    if (!item.ok()) return item.status();
    row.clear();
    context.clear();
    Status encoded = AppendItem(*item, dim, row);
    if (encoded.ok()) encoded = AppendItemContext(*item, dim, context);
    if (!encoded.ok()) return encoded.WithContext(fmt::format("item '{}'", PrintableKey(key)));
    if (s.ok()) s = wb.Put(cf(kItems), ToSlice(key), row);
    if (s.ok()) s = wb.Put(cf(kItemContext), ToSlice(key), context);
    ++items;
    return Status::Ok();
  };
  STREAMREC_RETURN_IF_ERROR(Scan({}, kItems, split_row).WithContext(where));
  if (s.ok()) s = wb.Put(cf(kMeta), ToSlice(internal::kMetaFormatVersion), EncodeCounter(kStoreFormatVersion));
  // Synced like creation: the format record must never describe rows it
  // does not match.
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (s.ok()) s = db->Write(wo, &wb);
  STREAMREC_RETURN_IF_ERROR(FromRocks(s, where));
  format_version = kStoreFormatVersion;
  Logger(kLogState)->info("upgraded store at {} to format {}: moved the context vectors of {} items to {}", options.dir,
                          kStoreFormatVersion, items, internal::kCfItemContext);
  return Status::Ok();
}

Result<std::unique_ptr<FeatureStore>> FeatureStore::Open(const StoreOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("state.dir is empty: set it to the store's directory");
  if (options.fingerprint.dim == 0) return Status::InvalidArgument("learner.dim must be positive");
  auto exists = PrepareDir(options);
  if (!exists.ok()) return exists.status();
  if (!options.read_only) STREAMREC_RETURN_IF_ERROR(CheckFreeSpace(options.dir));
  bool lacks_item_context = false;
  if (*exists) {
    auto lacks = CheckColumnFamilies(options);
    if (!lacks.ok()) return lacks.status();
    lacks_item_context = *lacks;
  }
  if (lacks_item_context && options.read_only) {
    return Status::FailedPrecondition(
        fmt::format("store at {} has format 1 (before item contexts had their own column family) and a read-only "
                    "open cannot upgrade it; open it once for writing (e.g. `streamrec run` with this state.dir), "
                    "which upgrades it in place",
                    options.dir));
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  impl->write_options.sync = options.sync;
  // WAL stays on: it is what makes an acknowledged batch survive kill -9.
  impl->write_options.disableWAL = false;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           MakeCfOptions(rocksdb::kDefaultColumnFamilyName, impl->cache));
  for (std::string_view cf : internal::kColumnFamilies) {
    descriptors.emplace_back(std::string(cf), MakeCfOptions(cf, impl->cache));
  }
  rocksdb::DBOptions db_options = MakeDbOptions(!*exists);
  if (lacks_item_context) db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  const rocksdb::Status s =
      options.read_only ? rocksdb::DB::OpenForReadOnly(db_options, options.dir, descriptors, &handles, &impl->db)
                        : rocksdb::DB::Open(db_options, options.dir, descriptors, &handles, &impl->db);
  STREAMREC_RETURN_IF_ERROR(FromRocks(s, fmt::format("opening store at {}", options.dir)));
  // RocksDB requires the default family to be opened; nothing is stored in
  // it, so its handle is released at once.
  impl->db->DestroyColumnFamilyHandle(handles.front()).PermitUncheckedError();
  impl->handles.assign(handles.begin() + 1, handles.end());

  STREAMREC_RETURN_IF_ERROR(impl->CheckMeta());
  if (impl->format_version > 1 && lacks_item_context) {
    return Status::Corruption(fmt::format("store at {} is damaged: format {} but no column family {}", options.dir,
                                          impl->format_version, internal::kCfItemContext));
  }
  if (impl->format_version == 1) {
    if (options.read_only) {
      return Status::FailedPrecondition(
          fmt::format("store at {} was left at format 1 by an upgrade cut short; open it once for writing to finish it",
                      options.dir));
    }
    STREAMREC_RETURN_IF_ERROR(impl->UpgradeFromFormat1());
  }
  if (!options.read_only) {
    auto sampler = impl->ReadSampler(rocksdb::ReadOptions());
    if (!sampler.ok()) return sampler.status().WithContext(fmt::format("store at {}", options.dir));
    if (*sampler && (*sampler)->segmented) impl->stored_sampler = std::move((*sampler)->row);
  }
  Logger(kLogState)->debug("opened store at {} (batch {}, {} users, {} items ever)", options.dir,
                           impl->batch_seq, impl->limits.next_user, impl->limits.next_item);
  return std::unique_ptr<FeatureStore>(new FeatureStore(std::move(impl)));
}

FeatureStore::FeatureStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureStore::~FeatureStore() = default;

const std::string& FeatureStore::dir() const { return impl_->options.dir; }
const Fingerprint& FeatureStore::fingerprint() const { return impl_->options.fingerprint; }

Status FeatureStore::Impl::ValidateBatch(const StoreBatch& batch, const IndexLimits& new_limits, std::string& rows,
                                         std::vector<size_t>& row_ends) const {
  const uint32_t dim = options.fingerprint.dim;
  if (new_limits.next_user < limits.next_user || new_limits.next_item < limits.next_item) {
    return Status::InvalidArgument(fmt::format(
        "index limits may only grow (stored users {} items {}, batch users {} items {})", limits.next_user,
        limits.next_item, new_limits.next_user, new_limits.next_item));
  }
  for (const auto& put : batch.users) {
    // Formatted only for an error: this runs for every stored row.
    const auto what = [&put] { return fmt::format("user '{}'", PrintableKey(put.id)); };
    if (put.id.empty()) return Status::InvalidArgument("a user put has an empty id");
    if (put.user.index.value() >= new_limits.next_user) {
      return Status::InvalidArgument(fmt::format("{}: index {} is not below the user index limit {}", what(),
                                                 put.user.index.value(), new_limits.next_user));
    }
    for (uint32_t i : put.user.row.recent_items) {
      if (i >= new_limits.next_item) {
        return Status::InvalidArgument(fmt::format("{}: recent item {} is not below the item index limit {}",
                                                   what(), i, new_limits.next_item));
      }
    }
    for (uint32_t i : put.user.row.seen_items) {
      if (i >= new_limits.next_item) {
        return Status::InvalidArgument(fmt::format("{}: seen item {} is not below the item index limit {}",
                                                   what(), i, new_limits.next_item));
      }
    }
    if (Status s = AppendUser(put.user, dim, rows); !s.ok()) return s.WithContext(what());
    row_ends.push_back(rows.size());
  }
  for (const auto& put : batch.items) {
    const auto what = [&put] { return fmt::format("item '{}'", PrintableKey(put.id)); };
    if (put.id.empty()) return Status::InvalidArgument("an item put has an empty id");
    if (put.item.index.value() >= new_limits.next_item) {
      return Status::InvalidArgument(fmt::format("{}: index {} is not below the item index limit {}", what(),
                                                 put.item.index.value(), new_limits.next_item));
    }
    if (!put.parts.row && !put.parts.context) return Status::InvalidArgument(fmt::format("{}: put of no part", what()));
    if (put.parts.row) {
      if (Status s = AppendItem(put.item, dim, rows); !s.ok()) return s.WithContext(what());
      row_ends.push_back(rows.size());
    }
    if (put.parts.context) {
      if (Status s = AppendItemContext(put.item, dim, rows); !s.ok()) return s.WithContext(what());
      row_ends.push_back(rows.size());
    }
  }
  // Its items are checked against the limits segment by segment, as written
  // (PutSampler): unchanged segments passed when they were.
  if (batch.sampler && batch.sampler->ring.size() > batch.sampler->pushes) {
    return Status::InvalidArgument(fmt::format("sampler: ring holds {} items but only {} were pushed",
                                               batch.sampler->ring.size(), batch.sampler->pushes));
  }
  if (batch.sampler && batch.sampler->ring.size() > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument("sampler: the ring holds more items than a store records");
  }
  std::unordered_set<std::string_view> erased;
  for (const auto& id : batch.erased_users) {
    if (id.empty()) return Status::InvalidArgument("an erased user has an empty id");
    erased.insert(id);
  }
  for (const auto& id : batch.erased_items) {
    if (id.empty()) return Status::InvalidArgument("an erased item has an empty id");
  }
  if (batch.stream_time_ms && *batch.stream_time_ms < 0) {
    return Status::InvalidArgument(fmt::format("stream time {} is negative", *batch.stream_time_ms));
  }
  std::unordered_set<std::string_view> put_users;
  for (const auto& put : batch.users) put_users.insert(put.id);
  for (const auto& add : batch.pending_adds) {
    if (add.user_id.empty()) return Status::InvalidArgument("a pending user has an empty id");
    // A forgotten user must leave no key behind but its owed tombstone; a
    // pending list is only legitimate if the user came back (has a row) in
    // this same batch.
    if (erased.contains(add.user_id) && !add.tombstone && !put_users.contains(add.user_id)) {
      return Status::InvalidArgument(fmt::format("user '{}' is forgotten in this batch but marked pending",
                                                 PrintableKey(add.user_id)));
    }
  }
  for (const auto& clear : batch.pending_clears) {
    if (clear.user_id.empty()) return Status::InvalidArgument("a pending clear has an empty id");
  }
  for (size_t k = 1; k < batch.dedup_adds.size(); ++k) {
    if (batch.dedup_adds[k].position <= batch.dedup_adds[k - 1].position) {
      return Status::InvalidArgument("dedup window entries must have ascending positions");
    }
  }
  for (const auto& off : batch.offsets) {
    if (off.topic.empty() || off.topic.size() > internal::kMaxTopicBytes) {
      return Status::InvalidArgument(fmt::format("offset topic must have 1 to {} bytes", internal::kMaxTopicBytes));
    }
    if (off.partition.value() < 0 || off.next.value() < 0) {
      return Status::InvalidArgument(fmt::format("offset {}[{}] = {}: partition and offset must be >= 0",
                                                 off.topic, off.partition.value(), off.next.value()));
    }
  }
  return Status::Ok();
}

namespace {
}  // namespace

Result<uint64_t> FeatureStore::Write(const StoreBatch& batch) {
  Impl& m = *impl_;
  if (m.options.read_only) {
    return Status::FailedPrecondition(fmt::format("store at {} is open read-only", m.options.dir));
  }
  std::lock_guard lock(m.write_mu);
  const IndexLimits new_limits = batch.index_limits.value_or(m.limits);
  m.encoded_rows.clear();
  m.encoded_row_ends.clear();
  STREAMREC_RETURN_IF_ERROR(m.ValidateBatch(batch, new_limits, m.encoded_rows, m.encoded_row_ends));
  const auto encoded_row = [&m](size_t k) {
    const size_t begin = k == 0 ? 0 : m.encoded_row_ends[k - 1];
    return rocksdb::Slice(m.encoded_rows.data() + begin, m.encoded_row_ends[k] - begin);
  };
  const uint64_t seq = m.batch_seq + 1;

  // WriteBatch::Put/Delete only fail on oversized batches; any such status
  // is carried to the final check through `s`.
  rocksdb::WriteBatch& wb = m.write_batch;
  wb.Clear();
  rocksdb::Status s;
  auto keep = [&s](rocksdb::Status next) {
    if (s.ok()) s = std::move(next);
  };
  // Deletions first, so anything put below (a user forgotten and seen again
  // in this batch) survives.
  for (const auto& id : batch.erased_users) {
    keep(wb.Delete(m.cf(kUsers), ToSlice(id)));
    keep(wb.Delete(m.cf(kPending), ToSlice(id)));
  }
  for (const auto& id : batch.erased_items) {
    keep(wb.Delete(m.cf(kItems), ToSlice(id)));
    keep(wb.Delete(m.cf(kItemContext), ToSlice(id)));
  }
  // Holding write_mu makes this read-then-delete atomic with respect to
  // other batches: no batch can re-touch the user in between.
  for (const auto& clear : batch.pending_clears) {
    auto current = m.Get(rocksdb::ReadOptions(), kPending, clear.user_id);
    if (!current.ok()) return current.status();
    if (!current->has_value()) continue;
    auto entry = DecodePending(clear.user_id, **current);
    if (!entry.ok()) return entry.status();
    if (entry->batch_seq <= clear.up_to_batch_seq) keep(wb.Delete(m.cf(kPending), ToSlice(clear.user_id)));
  }
  size_t record = 0;
  for (const auto& put : batch.users) keep(wb.Put(m.cf(kUsers), ToSlice(put.id), encoded_row(record++)));
  for (const auto& put : batch.items) {
    if (put.parts.row) keep(wb.Put(m.cf(kItems), ToSlice(put.id), encoded_row(record++)));
    if (put.parts.context) keep(wb.Put(m.cf(kItemContext), ToSlice(put.id), encoded_row(record++)));
  }
  if (batch.sampler) STREAMREC_RETURN_IF_ERROR(m.PutSampler(*batch.sampler, new_limits, wb, s));
  if (batch.index_limits) keep(wb.Put(m.cf(kIds), ToSlice(internal::kIdsNextIndex), EncodeIndexLimits(new_limits)));
  if (batch.stream_time_ms) {
    keep(wb.Put(m.cf(kMeta), ToSlice(internal::kMetaStreamTime),
                EncodeCounter(static_cast<uint64_t>(*batch.stream_time_ms))));
  }
  if (batch.source) keep(wb.Put(m.cf(kMeta), ToSlice(internal::kMetaSource), EncodeString(*batch.source)));
  for (uint64_t position : batch.dedup_evictions) keep(wb.Delete(m.cf(kMeta), internal::DedupKey(position)));
  for (const auto& entry : batch.dedup_adds) {
    keep(wb.Put(m.cf(kMeta), internal::DedupKey(entry.position), EncodeDedupEntry(entry.hash)));
  }
  for (const auto& add : batch.pending_adds) {
    keep(wb.Put(m.cf(kPending), ToSlice(add.user_id), EncodePending({add.event_ts_ms, seq, add.tombstone})));
  }
  for (const auto& off : batch.offsets) {
    keep(wb.Put(m.cf(kOffsets), internal::OffsetKey(off.topic, off.partition), EncodeOffset(off.next)));
  }
  keep(wb.Put(m.cf(kMeta), ToSlice(internal::kMetaBatchSeq), EncodeCounter(seq)));
  if (s.ok()) s = m.db->Write(m.write_options, &wb);
  STREAMREC_RETURN_IF_ERROR(FromRocks(s, fmt::format("writing batch {} to store at {}", seq, m.options.dir)));
  m.batch_seq = seq;
  m.limits = new_limits;
  if (batch.sampler) m.stored_sampler = *batch.sampler;
  return seq;
}

void AppendModelChanges(online_learner::IsgdModel& model, const online_learner::IdMap& user_ids,
                        const online_learner::IdMap& item_ids, StoreBatch& batch) {
  for (UserIndex u : model.TakeDirtyUsers()) {
    const std::string_view id = user_ids.Name(u.value());
    // An erased name is a forgotten user: its key is deleted, not rewritten.
    if (id.empty()) continue;
    batch.users.push_back({std::string(id), {u, model.ExportUser(u)}});
  }
  for (const online_learner::DirtyItem& dirty : model.TakeDirtyItems()) {
    const std::string_view id = item_ids.Name(dirty.item.value());
    if (id.empty()) continue;
    batch.items.push_back({std::string(id), {dirty.item, model.ExportItem(dirty.item, dirty.parts)}, dirty.parts});
  }
  if (model.TakeSamplerDirty()) batch.sampler = model.ExportSampler();
  batch.index_limits = IndexLimits{user_ids.size(), item_ids.size()};
}

void AppendDedupChanges(online_learner::DedupWindow& window, StoreBatch& batch) {
  online_learner::DedupWindow::Changes changes = window.TakeChanges();
  batch.dedup_adds = std::move(changes.added);
  batch.dedup_evictions = std::move(changes.evicted);
}

Status FeatureStore::LoadModel(online_learner::IsgdModel& model, online_learner::IdMap& user_ids,
                               online_learner::IdMap& item_ids) const {
  const Impl& m = *impl_;
  const uint32_t dim = m.options.fingerprint.dim;
  if (model.options().dim < 0 || static_cast<uint32_t>(model.options().dim) != dim) {
    return Status::FailedPrecondition(fmt::format("the model has learner.dim={}, the store at {} has {}",
                                                  model.options().dim, m.options.dir, dim));
  }
  if (model.NumUsers() != 0 || model.NumItems() != 0 || user_ids.size() != 0 || item_ids.size() != 0) {
    return Status::FailedPrecondition("LoadModel needs a fresh model and empty id maps");
  }
  const SnapshotRead snap(m.db);
  const auto& ro = snap.options();
  const std::string where = fmt::format("loading store at {}", m.options.dir);

  IndexLimits limits;
  auto limits_raw = m.Get(ro, kIds, internal::kIdsNextIndex);
  if (!limits_raw.ok()) return limits_raw.status();
  if (limits_raw->has_value()) {
    auto decoded = DecodeIndexLimits(internal::kIdsNextIndex, **limits_raw);
    if (!decoded.ok()) return decoded.status().WithContext(where);
    limits = *decoded;
  }
  auto bad_ref = [&](std::string_view cf, std::string_view key, std::string_view field, uint32_t value,
                     uint32_t limit) {
    return Status::Corruption(fmt::format("{}: {} record '{}': {} {} is not below the index limit {}", where, cf,
                                          PrintableKey(key), field, value, limit));
  };

  // Items first: user rows and the sampler refer to item indices, which are
  // checked against the limit so the model never sees an out-of-range one.
  // Both item families are keyed by id, so one pass walks them side by side.
  std::vector<bool> item_taken(limits.next_item);
  ItemContexts contexts(m.db, m.cf(kItemContext), ro, dim);
  STREAMREC_RETURN_IF_ERROR(m.Scan(ro, kItems, [&](std::string_view key, std::string_view value) -> Status {
    auto item = DecodeItem(key, value, dim);
    if (!item.ok()) return item.status().WithContext(where);
    auto context = contexts.Next(key);
    if (!context.ok()) return context.status().WithContext(where);
    item->row.context = std::move(*context);
    const uint32_t i = item->index.value();
    if (key.empty()) return Status::Corruption(fmt::format("{}: an item has an empty id", where));
    if (i >= limits.next_item) return bad_ref("items", key, "index", i, limits.next_item);
    if (item_taken[i]) {
      return Status::Corruption(
          fmt::format("{}: items record '{}': index {} is used twice", where, PrintableKey(key), i));
    }
    item_taken[i] = true;
    item_ids.Restore(key, i);
    model.ImportItem(item->index, item->row);
    return Status::Ok();
  }));
  STREAMREC_RETURN_IF_ERROR(contexts.End().WithContext(where));

  std::vector<bool> user_taken(limits.next_user);
  STREAMREC_RETURN_IF_ERROR(m.Scan(ro, kUsers, [&](std::string_view key, std::string_view value) -> Status {
    auto user = DecodeUser(key, value, dim);
    if (!user.ok()) return user.status().WithContext(where);
    const uint32_t u = user->index.value();
    if (key.empty()) return Status::Corruption(fmt::format("{}: a user has an empty id", where));
    if (u >= limits.next_user) return bad_ref("users", key, "index", u, limits.next_user);
    if (user_taken[u]) {
      return Status::Corruption(
          fmt::format("{}: users record '{}': index {} is used twice", where, PrintableKey(key), u));
    }
    for (uint32_t i : user->row.recent_items) {
      if (i >= limits.next_item) return bad_ref("users", key, "recent item", i, limits.next_item);
    }
    for (uint32_t i : user->row.seen_items) {
      if (i >= limits.next_item) return bad_ref("users", key, "seen item", i, limits.next_item);
    }
    user_taken[u] = true;
    user_ids.Restore(key, u);
    model.ImportUser(user->index, user->row);
    return Status::Ok();
  }));

  auto sampler = m.ReadSampler(ro);
  if (!sampler.ok()) return sampler.status().WithContext(where);
  if (*sampler) {
    for (uint32_t i : (*sampler)->row.ring) {
      if (i >= limits.next_item) return bad_ref("meta", internal::kMetaSampler, "item", i, limits.next_item);
    }
    model.ImportSampler((*sampler)->row);
  }

  // Restore each id map's size (IdMap::size(), the next index it hands out)
  // even when its largest indices belong to forgotten users, so a restarted
  // run numbers new ids exactly as an uninterrupted one. IdMap has no
  // resize, so an index is claimed with a placeholder and freed again; ""
  // cannot clash with a real id, since empty ids are never stored.
  auto restore_size = [](online_learner::IdMap& ids, uint32_t size) {
    if (ids.size() >= size) return;
    ids.Restore("", size - 1);
    ids.Erase("");
  };
  restore_size(user_ids, limits.next_user);
  restore_size(item_ids, limits.next_item);
  // A free item index is a retired item (its row was deleted): the slot an
  // uninterrupted run holds is retired, not a fresh available item, and the
  // model's item count (uniform negatives draw below it) must match.
  for (uint32_t i = 0; i < limits.next_item; ++i) {
    if (!item_taken[i]) model.RetireItem(ItemIndex(i));
  }

  // Imports are not changes: the first batch after a restart must hold only
  // what that batch changed.
  model.TakeDirtyUsers();
  model.TakeDirtyItems();
  (void)model.TakeSamplerDirty();
  return Status::Ok();
}

Status FeatureStore::LoadDedupWindow(online_learner::DedupWindow& window) const {
  const Impl& m = *impl_;
  std::vector<online_learner::DedupWindow::Entry> entries;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.cf(kMeta)));
  const rocksdb::Slice prefix = ToSlice(internal::kMetaDedupPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = ToView(it->key());
    const auto position = internal::DedupKeyPosition(key);
    if (!position) {
      return Status::Corruption(
          fmt::format("meta key '{}' in store at {} is malformed", PrintableKey(key), m.options.dir));
    }
    auto hash = DecodeDedupEntry(key, ToView(it->value()));
    if (!hash.ok()) return hash.status().WithContext(fmt::format("loading store at {}", m.options.dir));
    entries.push_back({*position, *hash});
  }
  STREAMREC_RETURN_IF_ERROR(
      FromRocks(it->status(), fmt::format("reading the dedup window from store at {}", m.options.dir)));
  window.Import(entries);
  return Status::Ok();
}

Result<StoredUser> FeatureStore::ReadUser(std::string_view user_id) const {
  auto raw = impl_->Get(rocksdb::ReadOptions(), kUsers, user_id);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) {
    return Status::NotFound(fmt::format("no user '{}' in store at {}", PrintableKey(user_id), impl_->options.dir));
  }
  return DecodeUser(user_id, **raw, impl_->options.fingerprint.dim);
}

Result<StoredItem> FeatureStore::ReadItem(std::string_view item_id) const {
  const SnapshotRead snap(impl_->db);
  auto raw = impl_->Get(snap.options(), kItems, item_id);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) {
    return Status::NotFound(fmt::format("no item '{}' in store at {}", PrintableKey(item_id), impl_->options.dir));
  }
  const uint32_t dim = impl_->options.fingerprint.dim;
  auto item = DecodeItem(item_id, **raw, dim);
  if (!item.ok()) return item.status();
  auto raw_context = impl_->Get(snap.options(), kItemContext, item_id);
  if (!raw_context.ok()) return raw_context.status();
  if (!raw_context->has_value()) return MissingContext(item_id);
  auto context = DecodeItemContext(item_id, **raw_context, dim);
  if (!context.ok()) return context.status();
  item->row.context = std::move(*context);
  return item;
}

Result<std::map<PartitionId, KafkaOffset>> FeatureStore::ReadOffsets(std::string_view topic) const {
  const Impl& m = *impl_;
  if (topic.empty() || topic.size() > internal::kMaxTopicBytes) {
    return Status::InvalidArgument(fmt::format("offset topic must have 1 to {} bytes", internal::kMaxTopicBytes));
  }
  std::map<PartitionId, KafkaOffset> out;
  const std::string prefix = internal::OffsetKeyPrefix(topic);
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.cf(kOffsets)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = ToView(it->key());
    const auto partition = internal::OffsetKeyPartition(key, prefix.size());
    if (!partition) {
      return Status::Corruption(fmt::format("offsets key '{}' in store at {} is malformed", PrintableKey(key),
                                            m.options.dir));
    }
    auto next = DecodeOffset(key, ToView(it->value()));
    if (!next.ok()) return next.status();
    out.emplace(*partition, *next);
  }
  STREAMREC_RETURN_IF_ERROR(FromRocks(it->status(), fmt::format("reading offsets from store at {}", m.options.dir)));
  return out;
}

Result<std::vector<PendingUser>> FeatureStore::ReadPending() const {
  std::vector<PendingUser> out;
  STREAMREC_RETURN_IF_ERROR(
      impl_->Scan(rocksdb::ReadOptions(), kPending, [&](std::string_view key, std::string_view value) -> Status {
        auto entry = DecodePending(key, value);
        if (!entry.ok()) return entry.status();
        out.push_back({std::string(key), *entry});
        return Status::Ok();
      }));
  return out;
}

Result<std::optional<int64_t>> FeatureStore::ReadStreamTime() const {
  auto raw = impl_->Get(rocksdb::ReadOptions(), kMeta, internal::kMetaStreamTime);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<int64_t>();
  auto value = DecodeCounter(internal::kMetaStreamTime, **raw);
  if (!value.ok()) return value.status();
  if (*value > static_cast<uint64_t>(INT64_MAX)) {
    return Status::Corruption(fmt::format("store at {}: meta stream_time {} is out of range", impl_->options.dir, *value));
  }
  return std::optional<int64_t>(static_cast<int64_t>(*value));
}

Result<std::optional<std::string>> FeatureStore::ReadSource() const {
  auto raw = impl_->Get(rocksdb::ReadOptions(), kMeta, internal::kMetaSource);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<std::string>();
  auto source = DecodeString(internal::kMetaSource, **raw);
  if (!source.ok()) return source.status();
  return std::optional<std::string>(std::move(*source));
}

Result<uint64_t> FeatureStore::IntProperty(std::string_view family, std::string_view property) const {
  const auto* cf = std::find(internal::kColumnFamilies.begin(), internal::kColumnFamilies.end(), family);
  if (cf == internal::kColumnFamilies.end()) {
    return Status::NotFound(fmt::format("no column family '{}' in a store (one of {})", family,
                                        fmt::join(internal::kColumnFamilies, ", ")));
  }
  uint64_t value = 0;
  const auto handle = impl_->cf(static_cast<Cf>(cf - internal::kColumnFamilies.begin()));
  if (!impl_->db->GetIntProperty(handle, ToSlice(property), &value)) {
    return Status::NotFound(fmt::format("RocksDB has no integer property '{}'", property));
  }
  return value;
}

Result<StoreDigest> FeatureStore::Digest() const {
  const Impl& m = *impl_;
  const SnapshotRead snap(m.db);
  const auto& ro = snap.options();
  internal::Hasher128 model, offsets, dedup, all;
  StoreDigest digest;
  // Every section is framed by its name and closed by its key count, so
  // moving a key from one family to another changes the digest.
  auto digest_cf = [&](Cf c, internal::Hasher128& part, uint64_t* count) -> Status {
    for (auto* h : {&part, &all}) h->UpdateField(internal::kColumnFamilies[c]);
    STREAMREC_RETURN_IF_ERROR(m.Scan(ro, c, [&](std::string_view key, std::string_view value) -> Status {
      for (auto* h : {&part, &all}) {
        h->UpdateField(key);
        h->UpdateField(value);
      }
      ++*count;
      return Status::Ok();
    }));
    for (auto* h : {&part, &all}) h->UpdateU64(*count);
    return Status::Ok();
  };
  STREAMREC_RETURN_IF_ERROR(digest_cf(kUsers, model, &digest.counts.users));
  STREAMREC_RETURN_IF_ERROR(digest_cf(kItems, model, &digest.counts.items));
  STREAMREC_RETURN_IF_ERROR(digest_cf(kItemContext, model, &digest.counts.item_contexts));
  STREAMREC_RETURN_IF_ERROR(digest_cf(kIds, model, &digest.counts.ids));
  // Of meta only the model's record: the format, fingerprint, source and
  // batch sequence describe how the store was written, which differs between
  // `evaluate --state` (one batch) and the pipeline (many) on the same model.
  // The ring in its one-record form, however it is stored (segments or, in
  // older stores, that record), so digests compare across layouts.
  auto sampler = m.ReadSampler(ro);
  if (!sampler.ok()) return sampler.status();
  std::string sampler_record;
  if (*sampler) {
    auto encoded = EncodeSampler((*sampler)->row);
    if (!encoded.ok()) return encoded.status();
    sampler_record = std::move(*encoded);
  }
  for (auto* h : {&model, &all}) {
    h->UpdateField(internal::kCfMeta);
    h->UpdateField(internal::kMetaSampler);
    h->UpdateField(sampler_record);
  }
  STREAMREC_RETURN_IF_ERROR(digest_cf(kOffsets, offsets, &digest.counts.offsets));
  for (auto* h : {&dedup, &all}) h->UpdateField(internal::kMetaDedupPrefix);
  {
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.cf(kMeta)));
    const rocksdb::Slice prefix = ToSlice(internal::kMetaDedupPrefix);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      for (auto* h : {&dedup, &all}) {
        h->UpdateField(ToView(it->key()));
        h->UpdateField(ToView(it->value()));
      }
      ++digest.counts.dedup;
    }
    STREAMREC_RETURN_IF_ERROR(FromRocks(it->status(), fmt::format("scanning meta in store at {}", m.options.dir)));
    for (auto* h : {&dedup, &all}) h->UpdateU64(digest.counts.dedup);
  }
  auto count_only = [&](Cf c, uint64_t* count) {
    return m.Scan(ro, c, [&](std::string_view, std::string_view) -> Status {
      ++*count;
      return Status::Ok();
    });
  };
  STREAMREC_RETURN_IF_ERROR(count_only(kMeta, &digest.counts.meta));
  digest.counts.meta -= digest.counts.dedup;
  STREAMREC_RETURN_IF_ERROR(count_only(kPending, &digest.counts.pending));
  digest.model = model.Hex();
  digest.offsets = offsets.Hex();
  digest.dedup = dedup.Hex();
  digest.all = all.Hex();
  return digest;
}

Status FeatureStore::Checkpoint(const std::string& target_dir) {
  Impl& m = *impl_;
  if (m.options.read_only) {
    return Status::FailedPrecondition(
        fmt::format("store at {} is open read-only; a checkpoint needs a writable open", m.options.dir));
  }
  std::error_code ec;
  if (fs::exists(target_dir, ec)) {
    return Status::InvalidArgument(fmt::format("checkpoint target {} already exists; choose a new path", target_dir));
  }
  const fs::path parent = fs::absolute(target_dir, ec).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return Status::IoError(fmt::format("cannot create {}: {}", parent.string(), ec.message()));
  // Holding write_mu means no batch is half-way: the checkpoint's offsets
  // and state are those of one batch boundary.
  std::lock_guard lock(m.write_mu);
  rocksdb::Checkpoint* raw = nullptr;
  STREAMREC_RETURN_IF_ERROR(
      FromRocks(rocksdb::Checkpoint::Create(m.db, &raw), fmt::format("checkpointing store at {}", m.options.dir)));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0 flushes the memtables first, so the copy is
  // complete in its SST files and opens without replaying a WAL.
  return FromRocks(checkpoint->CreateCheckpoint(target_dir, 0),
                   fmt::format("checkpointing store at {} to {}", m.options.dir, target_dir));
}

}  // namespace streamrec::state
