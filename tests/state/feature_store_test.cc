#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "state_test_util.h"
#include "streamrec/state/feature_store.h"
#include "support/test_support.h"

namespace streamrec::state {
namespace {

using streamrec::testing::TempDir;
using testing::OpenStore;
using testing::RandomItemRow;
using testing::RandomUserRow;
using testing::RawDb;

constexpr uint32_t kDim = 4;


// A batch with `users` users and `items` items, all rows drawn from `seed`.
StoreBatch SampleBatch(uint64_t seed, uint32_t users = 5, uint32_t items = 6) {
  std::mt19937_64 rng(seed);
  StoreBatch batch;
  batch.index_limits = IndexLimits{users, items};
  for (uint32_t u = 0; u < users; ++u) {
    batch.users.push_back({"u" + std::to_string(u), {UserIndex(u), RandomUserRow(rng, kDim, items)}});
  }
  for (uint32_t i = 0; i < items; ++i) {
    batch.items.push_back({"sku-" + std::to_string(i), {ItemIndex(i), RandomItemRow(rng, kDim)}});
  }
  batch.sampler = online_learner::SamplerRow{{0, 1, 1, 2}, 9};
  batch.offsets.push_back({"events", PartitionId(0), KafkaOffset(10)});
  batch.offsets.push_back({"events", PartitionId(3), KafkaOffset(7)});
  return batch;
}

void RequireStatus(const Status& status, StatusCode code, std::string_view needle) {
  INFO(status.ToString());
  REQUIRE(status.code() == code);
  CHECK(status.message().find(needle) != std::string::npos);
}

TEST_CASE("A store reopened after close holds everything written", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const StoreBatch batch = SampleBatch(1);
  StoreDigest before;
  {
    auto store = OpenStore(dir, kDim);
    StoreBatch first = batch;
    first.pending_adds.push_back({"u1", 1000});
    first.source = "cluster-a/events";
    auto seq = store->Write(first);
    REQUIRE_RESULT_OK(seq);
    CHECK(*seq == 1);
    auto digest = store->Digest();
    REQUIRE_RESULT_OK(digest);
    before = *digest;
  }
  auto store = OpenStore(dir, kDim);
  for (const auto& put : batch.users) {
    auto user = store->ReadUser(put.id);
    REQUIRE_RESULT_OK(user);
    CHECK(*user == put.user);
  }
  for (const auto& put : batch.items) {
    auto item = store->ReadItem(put.id);
    REQUIRE_RESULT_OK(item);
    CHECK(*item == put.item);
  }
  auto offsets = store->ReadOffsets("events");
  REQUIRE_RESULT_OK(offsets);
  CHECK(*offsets == std::map<PartitionId, KafkaOffset>{{PartitionId(0), KafkaOffset(10)},
                                                        {PartitionId(3), KafkaOffset(7)}});
  auto pending = store->ReadPending();
  REQUIRE_RESULT_OK(pending);
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0].user_id == "u1");
  CHECK((*pending)[0].entry == PendingEntry{1000, 1});
  auto source = store->ReadSource();
  REQUIRE_RESULT_OK(source);
  CHECK(*source == std::optional<std::string>("cluster-a/events"));
  auto digest = store->Digest();
  REQUIRE_RESULT_OK(digest);
  CHECK(digest->all == before.all);
  CHECK(digest->counts.users == 5);
  CHECK(digest->counts.items == 6);
  CHECK(digest->counts.offsets == 2);
  CHECK(digest->counts.pending == 1);

  // The batch sequence continues across a reopen.
  auto seq = store->Write(StoreBatch{});
  REQUIRE_RESULT_OK(seq);
  CHECK(*seq == 2);
  RequireStatus(store->ReadUser("nobody").status(), StatusCode::kNotFound, "no user 'nobody'");
  RequireStatus(store->ReadItem("nothing").status(), StatusCode::kNotFound, "no item 'nothing'");
}

TEST_CASE("Opening with another fingerprint says exactly what differs", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  OpenStore(dir, 32).reset();

  StoreOptions options;
  options.dir = dir;
  options.fingerprint.dim = 64;
  auto store = FeatureStore::Open(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
  CHECK(store.status().message() ==
        "store at " + dir + " was made with learner.dim=32, config says 64; use a new state.dir or --set learner.dim=32");

  options.fingerprint = {32, "string-v2"};
  store = FeatureStore::Open(options);
  CHECK(store.status().message() ==
        "store at " + dir + " was made with id scheme 'string-v1', this build uses 'string-v2'; use a new state.dir");

  options.fingerprint = {32, "string-v1"};
  REQUIRE_RESULT_OK(FeatureStore::Open(options));
}

TEST_CASE("Paths that cannot hold a store are refused naming the path", "[state]") {
  TempDir tmp;
  StoreOptions options;

  SECTION("a directory with other files") {
    options.dir = tmp.Sub("other");
    std::filesystem::create_directories(options.dir);
    std::ofstream(options.dir + "/notes.txt") << "hello";
    RequireStatus(FeatureStore::Open(options).status(), StatusCode::kFailedPrecondition,
                  options.dir + " is not a streamrec store");
  }
  SECTION("a regular file") {
    options.dir = tmp.Sub("file");
    std::ofstream(options.dir) << "x";
    RequireStatus(FeatureStore::Open(options).status(), StatusCode::kFailedPrecondition,
                  options.dir + " is not a directory");
  }
  SECTION("a directory that cannot be created") {
    std::ofstream(tmp.Sub("file")) << "x";
    options.dir = tmp.Sub("file") + "/store";
    RequireStatus(FeatureStore::Open(options).status(), StatusCode::kIoError,
                  "store directory " + options.dir + ": Not a directory");
  }
  SECTION("a missing store without create_if_missing") {
    options.dir = tmp.Sub("missing");
    options.create_if_missing = false;
    RequireStatus(FeatureStore::Open(options).status(), StatusCode::kNotFound, "no store at " + options.dir);
  }
  SECTION("another program's RocksDB database") {
    options.dir = tmp.Sub("foreign");
    rocksdb::Options raw;
    raw.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(raw, options.dir, &db).ok());
    delete db;
    RequireStatus(FeatureStore::Open(options).status(), StatusCode::kFailedPrecondition,
                  options.dir + " holds a RocksDB database that is not a streamrec store");
  }
  SECTION("an empty state.dir") {
    RequireStatus(FeatureStore::Open(options).status(), StatusCode::kInvalidArgument, "state.dir is empty");
  }
}

TEST_CASE("A store is locked while open, and read-only opens coexist and refuse writes", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto store = OpenStore(dir, kDim);
  REQUIRE_RESULT_OK(store->Write(SampleBatch(2)));

  StoreOptions options;
  options.dir = dir;
  options.fingerprint.dim = kDim;
  RequireStatus(FeatureStore::Open(options).status(), StatusCode::kFailedPrecondition, "locked");

  options.read_only = true;
  auto reader = FeatureStore::Open(options);
  REQUIRE_RESULT_OK(reader);
  auto user = (*reader)->ReadUser("u0");
  REQUIRE_RESULT_OK(user);
  RequireStatus((*reader)->Write(StoreBatch{}).status(), StatusCode::kFailedPrecondition, "read-only");
  RequireStatus((*reader)->Checkpoint(tmp.Sub("cp")), StatusCode::kFailedPrecondition, "read-only");
}

TEST_CASE("An invalid batch writes nothing", "[state]") {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("store"), kDim);
  REQUIRE_RESULT_OK(store->Write(SampleBatch(3)));
  auto before = store->Digest();
  REQUIRE_RESULT_OK(before);

  StoreBatch bad = SampleBatch(4);
  SECTION("wrong factor count") {
    bad.users[2].user.row.factors.push_back(1.f);
    RequireStatus(store->Write(bad).status(), StatusCode::kInvalidArgument, "user 'u2': user index 2: factors has 5");
  }
  SECTION("index beyond the limits") {
    bad.items[0].item.index = ItemIndex(6);
    RequireStatus(store->Write(bad).status(), StatusCode::kInvalidArgument, "not below the item index limit 6");
  }
  SECTION("limits shrinking") {
    bad.index_limits = IndexLimits{1, 1};
    bad.users.clear();
    bad.items.clear();
    bad.sampler.reset();
    RequireStatus(store->Write(bad).status(), StatusCode::kInvalidArgument, "may only grow");
  }
  SECTION("a forgotten user marked pending") {
    bad.erased_users.push_back("gone");
    bad.pending_adds.push_back({"gone", 5});
    RequireStatus(store->Write(bad).status(), StatusCode::kInvalidArgument, "forgotten in this batch");
  }
  SECTION("a negative offset") {
    bad.offsets.push_back({"events", PartitionId(1), KafkaOffset(-1)});
    RequireStatus(store->Write(bad).status(), StatusCode::kInvalidArgument, "must be >= 0");
  }
  auto after = store->Digest();
  REQUIRE_RESULT_OK(after);
  CHECK(after->all == before->all);
  auto seq = store->Write(StoreBatch{});
  REQUIRE_RESULT_OK(seq);
  CHECK(*seq == 2);  // the failed batch consumed no sequence number
}

TEST_CASE("Offsets are kept per topic and partition", "[state]") {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("store"), kDim);
  StoreBatch batch;
  for (int32_t p : {70000, 0, 256, 1, 2}) batch.offsets.push_back({"events", PartitionId(p), KafkaOffset(p + 1)});
  // Topics that share a prefix with "events" must not leak into its scan.
  batch.offsets.push_back({"event", PartitionId(0), KafkaOffset(5)});
  batch.offsets.push_back({"events2", PartitionId(0), KafkaOffset(6)});
  batch.offsets.push_back({"events.dlq", PartitionId(0), KafkaOffset(7)});
  REQUIRE_RESULT_OK(store->Write(batch));
  StoreBatch later;
  later.offsets.push_back({"events", PartitionId(1), KafkaOffset(100)});
  REQUIRE_RESULT_OK(store->Write(later));

  auto events = store->ReadOffsets("events");
  REQUIRE_RESULT_OK(events);
  std::vector<std::pair<int32_t, int64_t>> got;
  for (const auto& [p, o] : *events) got.emplace_back(p.value(), o.value());
  CHECK(got == std::vector<std::pair<int32_t, int64_t>>{{0, 1}, {1, 100}, {2, 3}, {256, 257}, {70000, 70001}});
  auto event = store->ReadOffsets("event");
  REQUIRE_RESULT_OK(event);
  CHECK(event->size() == 1);
  auto none = store->ReadOffsets("items");
  REQUIRE_RESULT_OK(none);
  CHECK(none->empty());
  CHECK(store->ReadOffsets("").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Pending clears spare users touched by a newer batch", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto store = OpenStore(dir, kDim);
  StoreBatch first;
  first.pending_adds = {{"u1", 100}, {"u2", 200}};
  auto s1 = store->Write(first);
  REQUIRE_RESULT_OK(s1);
  StoreBatch second;
  second.pending_adds = {{"u1", 300}};
  auto s2 = store->Write(second);
  REQUIRE_RESULT_OK(s2);

  // The refresher published lists computed after batch 1.
  StoreBatch clear;
  clear.pending_clears = {{"u1", *s1}, {"u2", *s1}, {"never-pending", *s1}};
  REQUIRE_RESULT_OK(store->Write(clear));
  auto pending = store->ReadPending();
  REQUIRE_RESULT_OK(pending);
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0].user_id == "u1");
  CHECK((*pending)[0].entry == PendingEntry{300, *s2});

  store.reset();
  store = OpenStore(dir, kDim);
  clear.pending_clears = {{"u1", *s2}};
  REQUIRE_RESULT_OK(store->Write(clear));
  pending = store->ReadPending();
  REQUIRE_RESULT_OK(pending);
  CHECK(pending->empty());
}

TEST_CASE("A forgotten user's owed tombstone is its only key until cleared", "[state]") {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("store"), kDim);
  StoreBatch batch = SampleBatch(5);
  batch.pending_adds = {{"u3", 1}};
  REQUIRE_RESULT_OK(store->Write(batch));
  StoreBatch forget;
  forget.erased_users = {"u3"};
  forget.pending_adds = {{"u3", 7, /*tombstone=*/true}};
  auto seq = store->Write(forget);
  REQUIRE_RESULT_OK(seq);
  RequireStatus(store->ReadUser("u3").status(), StatusCode::kNotFound, "u3");
  auto pending = store->ReadPending();
  REQUIRE_RESULT_OK(pending);
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0].entry == PendingEntry{7, *seq, true});
  // A pending list for a user forgotten in the same batch stays refused.
  StoreBatch bad;
  bad.erased_users = {"u4"};
  bad.pending_adds = {{"u4", 1}};
  RequireStatus(store->Write(bad).status(), StatusCode::kInvalidArgument, "forgotten in this batch");
  StoreBatch acknowledged;
  acknowledged.pending_clears = {{"u3", *seq}};
  REQUIRE_RESULT_OK(store->Write(acknowledged));
  pending = store->ReadPending();
  REQUIRE_RESULT_OK(pending);
  CHECK(pending->empty());
}

TEST_CASE("Erasing a user leaves no key of that user", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto store = OpenStore(dir, kDim);
    StoreBatch batch = SampleBatch(5);
    batch.pending_adds = {{"u3", 1}, {"u4", 2}};
    REQUIRE_RESULT_OK(store->Write(batch));
    StoreBatch forget;
    forget.erased_users = {"u3"};
    REQUIRE_RESULT_OK(store->Write(forget));
    RequireStatus(store->ReadUser("u3").status(), StatusCode::kNotFound, "u3");
  }
  RawDb raw(dir);
  REQUIRE(raw.status().ok());
  const auto keys = raw.AllKeys();
  CHECK(std::count(keys.begin(), keys.end(), std::pair<std::string, std::string>{"users", "u4"}) == 1);
  for (const auto& [cf, key] : keys) {
    INFO(cf << "/" << key);
    CHECK(key.find("u3") == std::string::npos);
  }
}

TEST_CASE("Corrupt stored records are reported, not crashed on", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  REQUIRE_RESULT_OK(OpenStore(dir, kDim)->Write(SampleBatch(6)));
  {
    RawDb raw(dir);
    REQUIRE(raw.status().ok());
    REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("users"), "u2", std::string("\x01\x02\x00", 3)).ok());
  }
  auto store = OpenStore(dir, kDim);
  RequireStatus(store->ReadUser("u2").status(), StatusCode::kCorruption, "users record 'u2': truncated at index");
  REQUIRE_RESULT_OK(store->ReadUser("u1"));

  online_learner::IsgdOptions options;
  options.dim = kDim;
  online_learner::IsgdModel model(options);
  online_learner::IdMap users, items;
  const Status loaded = store->LoadModel(model, users, items);
  RequireStatus(loaded, StatusCode::kCorruption, "users record 'u2'");
  CHECK(loaded.message().find(dir) != std::string::npos);
}

TEST_CASE("LoadModel checks references to item indices", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  REQUIRE_RESULT_OK(OpenStore(dir, kDim)->Write(SampleBatch(7)));
  {
    // A well-formed record whose seen item is beyond the item index limit.
    RawDb raw(dir);
    std::mt19937_64 rng(1);
    StoredUser user{UserIndex(0), RandomUserRow(rng, kDim, 3)};
    user.row.seen_items = {1, 99};
    REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("users"), "u0", *EncodeUser(user, kDim)).ok());
  }
  auto store = OpenStore(dir, kDim);
  online_learner::IsgdOptions options;
  options.dim = kDim;
  online_learner::IsgdModel model(options);
  online_learner::IdMap users, items;
  RequireStatus(store->LoadModel(model, users, items), StatusCode::kCorruption,
                "users record 'u0': seen item 99 is not below the index limit 6");

  online_learner::IsgdOptions wrong = options;
  wrong.dim = kDim + 1;
  online_learner::IsgdModel wrong_model(wrong);
  online_learner::IdMap u2, i2;
  RequireStatus(store->LoadModel(wrong_model, u2, i2), StatusCode::kFailedPrecondition, "learner.dim=5");
}

TEST_CASE("The digest depends on content only, not on write history", "[state]") {
  TempDir tmp;
  const StoreBatch final_batch = SampleBatch(8);

  auto direct = OpenStore(tmp.Sub("a"), kDim);
  REQUIRE_RESULT_OK(direct->Write(final_batch));

  const std::string winding_dir = tmp.Sub("b");
  {
    // Same final content reached through overwrites, deletes, pending
    // churn and many small batches, then compacted.
    auto winding = OpenStore(winding_dir, kDim);
    StoreBatch noise = SampleBatch(99);
    noise.users.push_back({"temp", {UserIndex(4), noise.users[0].user.row}});
    noise.offsets = {{"events", PartitionId(0), KafkaOffset(3)}};
    noise.pending_adds = {{"u1", 5}};
    REQUIRE_RESULT_OK(winding->Write(noise));
    StoreBatch erase;
    erase.erased_users = {"temp"};
    REQUIRE_RESULT_OK(winding->Write(erase));
    for (const auto& put : final_batch.users) {
      StoreBatch one;
      one.users.push_back(put);
      REQUIRE_RESULT_OK(winding->Write(one));
    }
    StoreBatch rest = final_batch;
    rest.users.clear();
    REQUIRE_RESULT_OK(winding->Write(rest));
  }
  {
    RawDb raw(winding_dir);
    REQUIRE(raw.status().ok());
    for (const char* cf : RawDb::kFamilies) {
      REQUIRE(raw.db()->CompactRange(rocksdb::CompactRangeOptions(), raw.cf(cf), nullptr, nullptr).ok());
    }
  }
  auto winding = OpenStore(winding_dir, kDim);
  auto a = direct->Digest();
  auto b = winding->Digest();
  REQUIRE_RESULT_OK(a);
  REQUIRE_RESULT_OK(b);
  CHECK(a->model == b->model);
  CHECK(a->offsets == b->offsets);
  CHECK(a->all == b->all);
  CHECK(a->model.size() == 32);
  CHECK(b->counts.pending == 1);  // pending is not digested

  // One changed float changes the model digest, and only it.
  StoreBatch nudge;
  nudge.items.push_back(final_batch.items[3]);
  nudge.items[0].item.row.factors[1] += 1e-6f;
  REQUIRE_RESULT_OK(winding->Write(nudge));
  auto c = winding->Digest();
  REQUIRE_RESULT_OK(c);
  CHECK(c->model != a->model);
  CHECK(c->offsets == a->offsets);
  StoreBatch moved;
  moved.offsets = {{"events", PartitionId(3), KafkaOffset(8)}};
  REQUIRE_RESULT_OK(direct->Write(moved));
  auto d = direct->Digest();
  REQUIRE_RESULT_OK(d);
  CHECK(d->model == a->model);
  CHECK(d->offsets != a->offsets);
}

// Item rows are rewritten every batch (each sampled negative dirties one):
// updated in place, the items memtable holds one entry per item instead of
// one per write, so it never fills and flushes (before: a sort of ~120k
// entries every 0.65 s at 25k events/s). Its hash memtable must still be
// read in key order by LoadModel and Digest.
TEST_CASE("Rewritten item rows are updated in place and read back in full", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  constexpr int kRewrites = 40;
  const StoreBatch last = SampleBatch(kRewrites);
  {
    auto store = OpenStore(dir, kDim);
    for (int k = 1; k <= kRewrites; ++k) REQUIRE_RESULT_OK(store->Write(SampleBatch(k)));
    auto items = store->IntProperty("items", "rocksdb.num-entries-active-mem-table");
    REQUIRE_RESULT_OK(items);
    CHECK(*items == last.items.size());
    auto contexts = store->IntProperty("item_context", "rocksdb.num-entries-active-mem-table");
    REQUIRE_RESULT_OK(contexts);
    CHECK(*contexts == last.items.size());
    // Users keep appending (their rows change size): one entry per write.
    auto users = store->IntProperty("users", "rocksdb.num-entries-active-mem-table");
    REQUIRE_RESULT_OK(users);
    CHECK(*users == kRewrites * last.users.size());
    RequireStatus(store->IntProperty("itemz", "rocksdb.num-entries-active-mem-table").status(),
                  StatusCode::kNotFound, "no column family 'itemz'");
    RequireStatus(store->IntProperty("items", "rocksdb.no-such").status(), StatusCode::kNotFound,
                  "'rocksdb.no-such'");

    for (const auto& put : last.items) {
      auto item = store->ReadItem(put.id);
      REQUIRE_RESULT_OK(item);
      CHECK(*item == put.item);
    }
    online_learner::IsgdOptions options;
    options.dim = kDim;
    online_learner::IsgdModel model(options);
    online_learner::IdMap user_ids, item_ids;
    REQUIRE_OK(store->LoadModel(model, user_ids, item_ids));
    REQUIRE(item_ids.live_count() == last.items.size());
    for (const auto& put : last.items) CHECK(model.ExportItem(put.item.index) == put.item.row);
  }
  auto direct = OpenStore(tmp.Sub("direct"), kDim);
  REQUIRE_RESULT_OK(direct->Write(last));
  // Reopened, the write-ahead log replays every rewrite in order.
  auto reopened = OpenStore(dir, kDim);
  auto a = direct->Digest();
  auto b = reopened->Digest();
  REQUIRE_RESULT_OK(a);
  REQUIRE_RESULT_OK(b);
  CHECK(b->counts.items == last.items.size());
  CHECK(a->model == b->model);
}

TEST_CASE("The dedup window survives a reopen, outside the model digest", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  online_learner::DedupWindow window(3);
  StoreDigest plain, with_window;
  {
    auto store = OpenStore(dir, kDim);
    StoreBatch batch = SampleBatch(11);
    REQUIRE_RESULT_OK(store->Write(batch));
    auto digest = store->Digest();
    REQUIRE_RESULT_OK(digest);
    plain = *digest;
    // Two batches: the second evicts the first batch's oldest ids.
    for (const char* id : {"e1", "e2"}) REQUIRE(window.Admit(id));
    StoreBatch first;
    AppendDedupChanges(window, first);
    CHECK(first.dedup_adds.size() == 2);
    REQUIRE_RESULT_OK(store->Write(first));
    for (const char* id : {"e3", "e4", "e5"}) REQUIRE(window.Admit(id));
    StoreBatch second;
    AppendDedupChanges(window, second);
    CHECK(second.dedup_evictions == std::vector<uint64_t>{0, 1});
    REQUIRE_RESULT_OK(store->Write(second));
    digest = store->Digest();
    REQUIRE_RESULT_OK(digest);
    with_window = *digest;
  }
  CHECK(with_window.model == plain.model);
  CHECK(with_window.dedup != plain.dedup);
  CHECK(with_window.all != plain.all);
  CHECK(with_window.counts.dedup == 3);
  CHECK(with_window.counts.meta == plain.counts.meta);

  auto store = OpenStore(dir, kDim);
  online_learner::DedupWindow restored(3);
  REQUIRE_OK(store->LoadDedupWindow(restored));
  CHECK(restored.Export() == window.Export());
  CHECK_FALSE(restored.Admit("e4"));
  CHECK(restored.Admit("e1"));
  // A window configured smaller keeps the newest ids and deletes the rest.
  online_learner::DedupWindow smaller(1);
  REQUIRE_OK(store->LoadDedupWindow(smaller));
  CHECK_FALSE(smaller.Admit("e5"));
  CHECK(smaller.Admit("e4"));
}

TEST_CASE("A corrupt dedup record is reported", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto store = OpenStore(dir, kDim);
    StoreBatch batch;
    batch.dedup_adds = {{0, 42}};
    REQUIRE_RESULT_OK(store->Write(batch));
  }
  {
    RawDb raw(dir);
    REQUIRE(raw.status().ok());
    std::string key = "dedup/";
    key.append(8, '\0');
    REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("meta"), key, std::string("\x07", 1)).ok());
  }
  online_learner::DedupWindow window(10);
  RequireStatus(OpenStore(dir, kDim)->LoadDedupWindow(window), StatusCode::kCorruption,
                "unknown version byte 7");
}

// Bytes the store's newest write-ahead log holds: what a write appended.
uintmax_t WalBytes(const std::string& dir) {
  uintmax_t newest = 0;
  std::string newest_name;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".log" && name > newest_name) {
      newest_name = name;
      newest = entry.file_size();
    }
  }
  return newest;
}

std::vector<std::string> SamplerSegmentKeys(const std::string& dir) {
  RawDb raw(dir);
  REQUIRE(raw.status().ok());
  std::vector<std::string> keys;
  for (const auto& [cf, key] : raw.AllKeys()) {
    if (cf == "meta" && key.starts_with("sampler/")) keys.push_back(key);
  }
  return keys;
}

online_learner::SamplerRow LoadedSampler(FeatureStore& store) {
  online_learner::IsgdOptions options;
  options.dim = kDim;
  online_learner::IsgdModel model(options);
  online_learner::IdMap users, items;
  REQUIRE_OK(store.LoadModel(model, users, items));
  return model.ExportSampler();
}

// Bug: every batch rewrote the whole popularity-sampler ring (up to
// learner.sampler_window items, 400 KB by default) although a batch pushes
// into one or two of its segments.
TEST_CASE("The sampler ring is written by segment: a batch writes the segments it changed", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  constexpr uint32_t kItems = 3000;
  constexpr uint32_t kRing = 10 * kSamplerSegmentSlots;  // 40 KB of items
  StoreBatch first;
  first.index_limits = IndexLimits{1, kItems};
  first.sampler = online_learner::SamplerRow{{}, kRing + 7};
  for (uint32_t k = 0; k < kRing; ++k) first.sampler->ring.push_back(k % kItems);
  StoreBatch second;
  second.sampler = first.sampler;
  second.sampler->ring[3 * kSamplerSegmentSlots + 5] = 42;  // one push, into segment 3
  second.sampler->pushes += 1;
  {
    auto store = OpenStore(dir, kDim);
    REQUIRE_RESULT_OK(store->Write(first));
    const uintmax_t before = WalBytes(dir);
    REQUIRE_RESULT_OK(store->Write(second));
    const uintmax_t written = WalBytes(dir) - before;
    INFO("the second write appended " << written << " bytes to the WAL");
    CHECK(written >= 4 * kSamplerSegmentSlots);      // segment 3
    CHECK(written < 2 * 4 * kSamplerSegmentSlots);   // and not the other nine
  }
  CHECK(SamplerSegmentKeys(dir).size() == 10);
  auto store = OpenStore(dir, kDim);
  CHECK(LoadedSampler(*store) == *second.sampler);
  // A shorter ring (a smaller sampler_window) leaves no segment behind.
  StoreBatch third;
  third.sampler = online_learner::SamplerRow{{1, 2, 3}, 3};
  REQUIRE_RESULT_OK(store->Write(third));
  CHECK(LoadedSampler(*store) == *third.sampler);
  store.reset();
  CHECK(SamplerSegmentKeys(dir).size() == 1);
}

TEST_CASE("A store keeping the sampler ring in one record loads it and moves it to segments", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  StoreBatch batch = SampleBatch(3);
  batch.sampler = online_learner::SamplerRow{{}, 5000};
  for (uint32_t k = 0; k < 2500; ++k) batch.sampler->ring.push_back(k % 6);
  REQUIRE_RESULT_OK(OpenStore(dir, kDim)->Write(batch));
  {
    // Rewrite it as a store from before segments kept it.
    RawDb raw(dir);
    REQUIRE(raw.status().ok());
    for (const auto& [cf, key] : raw.AllKeys()) {
      if (cf == "meta" && key.starts_with("sampler/")) REQUIRE(raw.db()->Delete({}, raw.cf("meta"), key).ok());
    }
    REQUIRE(raw.db()->Put({}, raw.cf("meta"), "sampler", *EncodeSampler(*batch.sampler)).ok());
  }
  REQUIRE(SamplerSegmentKeys(dir).empty());
  auto store = OpenStore(dir, kDim);
  CHECK(LoadedSampler(*store) == *batch.sampler);
  auto one_record = store->Digest();
  REQUIRE_RESULT_OK(one_record);

  StoreBatch same_ring;
  same_ring.sampler = batch.sampler;
  REQUIRE_RESULT_OK(store->Write(same_ring));
  store.reset();
  CHECK(SamplerSegmentKeys(dir).size() == 3);
  store = OpenStore(dir, kDim);
  CHECK(LoadedSampler(*store) == *batch.sampler);
  auto segmented = store->Digest();
  REQUIRE_RESULT_OK(segmented);
  CHECK(segmented->model == one_record->model);
}

TEST_CASE("A checkpoint opens as a store with the same digest", "[state]") {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("store"), kDim);
  StoreBatch batch = SampleBatch(9);
  batch.pending_adds = {{"u0", 42}};
  REQUIRE_RESULT_OK(store->Write(batch));
  const std::string target = tmp.Sub("backups/cp1");
  REQUIRE_OK(store->Checkpoint(target));
  RequireStatus(store->Checkpoint(target), StatusCode::kInvalidArgument, "already exists");

  // Writes after the checkpoint do not reach it.
  auto at_checkpoint = store->Digest();
  REQUIRE_RESULT_OK(at_checkpoint);
  StoreBatch later;
  later.offsets = {{"events", PartitionId(0), KafkaOffset(999)}};
  REQUIRE_RESULT_OK(store->Write(later));

  auto copy = OpenStore(target, kDim);
  auto digest = copy->Digest();
  REQUIRE_RESULT_OK(digest);
  CHECK(digest->all == at_checkpoint->all);
  auto pending = copy->ReadPending();
  REQUIRE_RESULT_OK(pending);
  CHECK(pending->size() == 1);
}

// Bug: a sampled negative or a context item rewrote the item's whole record,
// context and factors (~550 bytes at dim 64, ~27 per event), which doubled
// the WAL bytes and flushes of the store writer at 5k events/s.
TEST_CASE("An item's row and context are written apart, each only when changed", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const StoreBatch first = SampleBatch(11);
  std::mt19937_64 rng(99);
  const online_learner::ItemRow fresh = RandomItemRow(rng, kDim);
  {
    auto store = OpenStore(dir, kDim);
    REQUIRE_RESULT_OK(store->Write(first));
    StoreBatch second;
    online_learner::ItemRow row_only = fresh, context_only;
    row_only.context.clear();
    context_only.context = fresh.context;
    second.items.push_back({"sku-0", {ItemIndex(0), row_only}, {true, false}});
    second.items.push_back({"sku-1", {ItemIndex(1), context_only}, {false, true}});
    REQUIRE_RESULT_OK(store->Write(second));

    StoreBatch nothing;
    nothing.items.push_back({"sku-2", {ItemIndex(2), fresh}, {false, false}});
    RequireStatus(store->Write(nothing).status(), StatusCode::kInvalidArgument, "item 'sku-2': put of no part");
    StoreBatch short_context;
    short_context.items.push_back({"sku-2", {ItemIndex(2), row_only}, {true, true}});
    RequireStatus(store->Write(short_context).status(), StatusCode::kInvalidArgument, "context has 0 values");
  }
  online_learner::ItemRow expected0 = fresh, expected1 = first.items[1].item.row;
  expected0.context = first.items[0].item.row.context;
  expected1.context = fresh.context;
  auto store = OpenStore(dir, kDim);
  auto item0 = store->ReadItem("sku-0");
  auto item1 = store->ReadItem("sku-1");
  REQUIRE_RESULT_OK(item0);
  REQUIRE_RESULT_OK(item1);
  CHECK(item0->row == expected0);
  CHECK(item1->row == expected1);
  online_learner::IsgdOptions options;
  options.dim = kDim;
  online_learner::IsgdModel model(options);
  online_learner::IdMap users, items;
  REQUIRE_OK(store->LoadModel(model, users, items));
  CHECK(model.ExportItem(ItemIndex(0)) == expected0);
  CHECK(model.ExportItem(ItemIndex(1)) == expected1);
  CHECK(model.ExportItem(ItemIndex(2)) == first.items[2].item.row);
  auto digest = store->Digest();
  REQUIRE_RESULT_OK(digest);
  CHECK(digest->counts.items == 6);
  CHECK(digest->counts.item_contexts == 6);
}

TEST_CASE("An item row without its context, or a context without its row, is corruption", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  REQUIRE_RESULT_OK(OpenStore(dir, kDim)->Write(SampleBatch(12)));
  const auto load = [&dir] {
    auto store = OpenStore(dir, kDim);
    online_learner::IsgdOptions options;
    options.dim = kDim;
    online_learner::IsgdModel model(options);
    online_learner::IdMap users, items;
    return store->LoadModel(model, users, items);
  };
  REQUIRE_OK(load());
  {
    RawDb raw(dir);
    REQUIRE(raw.status().ok());
    REQUIRE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("item_context"), "sku-3").ok());
  }
  RequireStatus(load(), StatusCode::kCorruption, "items record 'sku-3' has no item_context record");
  RequireStatus(OpenStore(dir, kDim)->ReadItem("sku-3").status(), StatusCode::kCorruption,
                "items record 'sku-3' has no item_context record");
  {
    RawDb raw(dir);
    REQUIRE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("items"), "sku-3").ok());
    std::mt19937_64 rng(1);
    std::string context;
    REQUIRE_OK(AppendItemContext({ItemIndex(0), RandomItemRow(rng, kDim)}, kDim, context));
    REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("item_context"), "sku-4a", context).ok());
  }
  RequireStatus(load(), StatusCode::kCorruption, "item_context record 'sku-4a' has no items record");
  {
    RawDb raw(dir);
    REQUIRE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("item_context"), "sku-4a").ok());
    REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("item_context"), "sku-zz", std::string("\x01", 1)).ok());
  }
  RequireStatus(load(), StatusCode::kCorruption, "item_context record 'sku-zz' has no items record");
}

// Format 1 kept each item's context inside its items record, with no
// item_context family: `streamrec run` on such a store must go on from it.
TEST_CASE("A format 1 store is upgraded by a writable open, refused by a read-only one", "[state]") {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  StoreDigest written;
  {
    auto store = OpenStore(dir, kDim);
    REQUIRE_RESULT_OK(store->Write(SampleBatch(13)));
    auto digest = store->Digest();
    REQUIRE_RESULT_OK(digest);
    written = *digest;
  }
  {
    // Back to format 1: each context appended to its row (a version 1
    // record), the family dropped, the format record 1.
    RawDb raw(dir);
    REQUIRE(raw.status().ok());
    std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator(rocksdb::ReadOptions(), raw.cf("item_context")));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string row;
      REQUIRE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("items"), it->key(), &row).ok());
      row[0] = static_cast<char>(kItemWithContextRecordVersion);
      row += it->value().ToString().substr(1);
      REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("items"), it->key(), row).ok());
    }
    REQUIRE(it->status().ok());
    it.reset();
    REQUIRE(raw.db()->Put(rocksdb::WriteOptions(), raw.cf("meta"), "format_version", EncodeCounter(1)).ok());
    REQUIRE(raw.db()->DropColumnFamily(raw.cf("item_context")).ok());
  }
  StoreOptions read_only;
  read_only.dir = dir;
  read_only.fingerprint.dim = kDim;
  read_only.read_only = true;
  RequireStatus(FeatureStore::Open(read_only).status(), StatusCode::kFailedPrecondition,
                "has format 1 (before item contexts had their own column family)");

  auto store = OpenStore(dir, kDim);
  auto digest = store->Digest();
  REQUIRE_RESULT_OK(digest);
  CHECK(digest->all == written.all);
  store.reset();
  REQUIRE_RESULT_OK(FeatureStore::Open(read_only));
}

}  // namespace
}  // namespace streamrec::state
