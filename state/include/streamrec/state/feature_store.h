#pragma once

// FeatureStore: the RocksDB store that makes the in-memory model durable.
//
// The learner's model is pure memory (online_learner/); after each consumed
// batch the pipeline collects what changed into a StoreBatch and writes it
// here with Write(): one RocksDB WriteBatch holding the changed user and item
// rows, the sampler ring, forgotten users, pending users and the next offset
// of every partition in the batch. Offsets and state therefore never disagree:
// a restart seeks to the stored offsets and finds exactly the state they
// describe. On start, LoadModel() rebuilds the model and its id maps.
//
// Column families (state/README.md has the full key layout and record formats):
//   users    external user id  -> StoredUser   (index + UserRow)
//   items    external item id  -> StoredItem   (index + ItemRow but its context)
//   item_context external item id -> the item's context vector
//   ids      "next_index"      -> IndexLimits  (index high-water marks)
//   offsets  topic + partition -> next offset
//   meta     format version, fingerprint, sampler ring, consumed source, batch
//            seq, and the learner's dedup window (one key per event id hash)
//   pending  external user id  -> PendingEntry (list not yet published)
//
// Lifecycle: Open() a directory (creating it when allowed), use, destroy. The
// directory is locked while open: one process at a time (read_only opens may
// coexist with a writer).
// Thread-safety: every method may be called from any thread; Write() and
// Checkpoint() calls are serialised internally. Reads see one batch boundary,
// except that item rows not yet flushed are updated in place: a LoadModel or
// Digest beside a Write may see a newer item row than the rest. Nothing throws.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/base/status.h"
#include "streamrec/online_learner/id_map.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/state/records.h"

namespace streamrec::state {

// Version of the store's layout (column families, keys), kept in meta. A
// store with a larger version was written by a newer build and is refused.
// Format 2 moved item contexts to item_context; a writable open upgrades a
// format 1 store in place, a read-only open refuses it.
inline constexpr uint32_t kStoreFormatVersion = 2;

struct StoreOptions {
  // Directory of the store (config key state.dir). Required.
  std::string dir;
  // Create the directory and an empty store when none exists.
  // Default: true.
  bool create_if_missing = true;
  // Open without taking the lock and refuse writes: for `inspect` and digests
  // next to a running pipeline. Implies create_if_missing = false.
  // Default: false.
  bool read_only = false;
  // The structural keys the store is bound to. Opening an existing store with
  // a different fingerprint fails with a message naming what differs.
  // Default: dim 64, id scheme "string-v1".
  Fingerprint fingerprint;
  // fsync the write-ahead log on every Write(). With false, a write is in the
  // OS page cache when Write() returns: a process crash (even kill -9) loses
  // nothing, a machine crash or power cut may lose the last batches. Because
  // offsets live in the same batch as the state, a lost batch is simply
  // consumed again: state and offsets never disagree either way.
  // Default: false.
  bool sync = false;
  // Shared LRU block cache for reads (inspect, LoadModel, pending).
  // Default: 32 MiB.
  size_t block_cache_bytes = 32u << 20;
};

// One consumed batch's changes, written atomically by FeatureStore::Write().
// Within a batch, erasures and pending clears apply first and everything else
// after, so a user forgotten and then seen again in the same batch ends up
// with its new state.
struct StoreBatch {
  struct UserPut {
    std::string id;
    StoredUser user;
  };
  struct ItemPut {
    std::string id;
    // Only the parts to write need be filled (IsgdModel::ExportItem).
    StoredItem item;
    // Which of the item's records to write: its row, its context, or both
    // (a new item must have both).
    online_learner::ItemParts parts;
  };
  struct PendingAdd {
    std::string user_id;
    int64_t event_ts_ms = 0;  // event time of the user's newest event in the batch
    // A tombstone is owed (the user is forgotten in this batch), not a list.
    bool tombstone = false;
  };
  // Deletes the pending entry of `user_id` unless a batch newer than
  // `up_to_batch_seq` touched the user again since (so a publish of an older
  // list never clears a newer touch).
  struct PendingClear {
    std::string user_id;
    uint64_t up_to_batch_seq = 0;
  };
  struct OffsetPut {
    std::string topic;
    PartitionId partition;
    KafkaOffset next;  // the next offset to consume
  };

  std::vector<UserPut> users;
  std::vector<ItemPut> items;
  // The whole sampler ring when it changed; the store writes only the
  // segments of it that differ from what it holds (records.h).
  std::optional<online_learner::SamplerRow> sampler;
  std::optional<IndexLimits> index_limits;
  // Forgotten users: their users and pending keys are deleted (a tombstone
  // pending add for them is written after the deletion).
  std::vector<std::string> erased_users;
  // Retired items (learner.item_retire): their items and item_context keys
  // are deleted. The index stays below the item limit and LoadModel retires
  // the empty slot.
  std::vector<std::string> erased_items;
  std::vector<PendingAdd> pending_adds;
  std::vector<PendingClear> pending_clears;
  std::vector<OffsetPut> offsets;
  // The learner's dedup window: ids admitted (put) and evicted (deleted) by
  // this batch, so a redelivered event is still dropped after a restart.
  std::vector<online_learner::DedupWindow::Entry> dedup_adds;
  std::vector<uint64_t> dedup_evictions;  // positions
  // Identity of the consumed source (e.g. broker cluster id + topic), set by
  // the pipeline so a store reused against another source is detected.
  std::optional<std::string> source;
  // The learner's stream time (newest event ts applied), kept in meta when
  // expiry is on so a restarted learner scans for idle users exactly where
  // an uninterrupted one does (online_learner/expiry.h).
  std::optional<int64_t> stream_time_ms;
};

// Appends the model's changes since the last call to `batch`: every dirty
// user and item with its external id (rows whose id was erased from the map,
// i.e. forgotten users, are skipped: the caller lists them in
// batch.erased_users), the sampler ring if it changed, and the id maps'
// index limits. Clears the model's dirty marks.
void AppendModelChanges(online_learner::IsgdModel& model, const online_learner::IdMap& user_ids,
                        const online_learner::IdMap& item_ids, StoreBatch& batch);

// Appends the dedup window's changes since the last call (DedupWindow::
// TakeChanges) to `batch`.
void AppendDedupChanges(online_learner::DedupWindow& window, StoreBatch& batch);

struct PendingUser {
  std::string user_id;
  PendingEntry entry;
};

// A digest of a store's logical content: equal content gives equal digests,
// whatever the write history or compaction. Each digest is 32 hex digits
// (two independent 64-bit hashes) over every key and value, in key order.
struct StoreDigest {
  // users, items, item_context, ids and the model records of meta (the sampler): what
  // `evaluate --state` and the streaming pipeline must agree on.
  std::string model;
  // The offsets column family.
  std::string offsets;
  // The learner's dedup window (meta's dedup/ keys). Kept out of `model`:
  // it is processing state, not the model, and `evaluate --state` writes
  // none, so `model` stays comparable between evaluate and the pipeline.
  std::string dedup;
  // model, offsets and dedup together.
  std::string all;
  // Keys per column family (pending and meta included, though not digested:
  // pending is transient, and meta's other keys describe the store, not the
  // model); `meta` excludes the dedup keys, counted in `dedup`.
  struct Counts {
    uint64_t users = 0, items = 0, item_contexts = 0, ids = 0, offsets = 0, meta = 0, pending = 0, dedup = 0;
  } counts;
};

class FeatureStore {
 public:
  // Opens (or creates) the store at options.dir. Fails with a message naming
  // the path when the directory is not a streamrec store, cannot be created
  // or locked, or was made with another fingerprint or a newer format.
  [[nodiscard]] static Result<std::unique_ptr<FeatureStore>> Open(const StoreOptions& options);

  ~FeatureStore();
  FeatureStore(const FeatureStore&) = delete;
  FeatureStore& operator=(const FeatureStore&) = delete;

  const std::string& dir() const;
  const Fingerprint& fingerprint() const;

  // Applies `batch` as one atomic WriteBatch (all or nothing, even across
  // kill -9) and returns its batch sequence number, which stamps its pending
  // entries. The batch is validated first (non-empty ids, factor counts,
  // finite values, indices below the index limits, offsets >= 0); an invalid
  // batch writes nothing.
  [[nodiscard]] Result<uint64_t> Write(const StoreBatch& batch);

  // Rebuilds a freshly constructed model and empty id maps from the store:
  // ids at their stored indices, every row, the sampler ring and the index
  // limits. An item index below the limit without a row (a retired item)
  // becomes a retired slot (IsgdModel::RetireItem). The model's dimension must be the store's. Afterwards nothing in
  // the model is dirty. References to item indices are checked, so corrupt
  // records give Corruption, not an out-of-range index inside the model. On
  // error the model and maps hold part of the store: discard them.
  [[nodiscard]] Status LoadModel(online_learner::IsgdModel& model, online_learner::IdMap& user_ids,
                                 online_learner::IdMap& item_ids) const;

  // Rebuilds the learner's dedup window from the store (DedupWindow::Import:
  // a window configured smaller than the stored one keeps the newest ids and
  // deletes the others with the next Write).
  [[nodiscard]] Status LoadDedupWindow(online_learner::DedupWindow& window) const;

  // One record, for `inspect`; NotFound when absent.
  [[nodiscard]] Result<StoredUser> ReadUser(std::string_view user_id) const;
  [[nodiscard]] Result<StoredItem> ReadItem(std::string_view item_id) const;

  // The stored next offset of every partition of `topic` (empty for a new store).
  [[nodiscard]] Result<std::map<PartitionId, KafkaOffset>> ReadOffsets(std::string_view topic) const;

  // Users whose lists are owed, in user id order.
  [[nodiscard]] Result<std::vector<PendingUser>> ReadPending() const;

  // The stream time a batch recorded (StoreBatch::stream_time_ms), if any.
  [[nodiscard]] Result<std::optional<int64_t>> ReadStreamTime() const;

  // The consumed source's identity, if one was recorded.
  [[nodiscard]] Result<std::optional<std::string>> ReadSource() const;

  [[nodiscard]] Result<StoreDigest> Digest() const;

  // RocksDB's integer property `property` (e.g. "rocksdb.num-entries-active-mem-table")
  // of column family `family` (users, items, item_context, ids, offsets, meta, pending), for
  // diagnostics: NotFound names an unknown family or property.
  [[nodiscard]] Result<uint64_t> IntProperty(std::string_view family, std::string_view property) const;

  // Writes a consistent copy of the whole store (state and offsets from the
  // same batch) to `target_dir`, which must not exist. SST files are
  // hard-linked when on the same filesystem. The copy opens as a store.
  [[nodiscard]] Status Checkpoint(const std::string& target_dir);

 private:
  struct Impl;
  explicit FeatureStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrec::state
