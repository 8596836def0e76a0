// Memory: the learner's resident memory and the store's size per million
// users and per million items. One process phase, run first (before other
// phases have grown and freed the heap):
//   items  the catalog applied as `items` records (vectors, bias, counts,
//          id map): RSS and heap growth / items
//   users  every user with learner.cold_start_events clicks (vector, recent
//          and seen items, id map): RSS and heap growth / users
// and two stores written in the pipeline's record format, one holding only
// the items and one only the users, each reopened (RocksDB replays its WAL
// into lz4 SST files) and measured like `du`.
// Then `bounded`: waves of new users an hour of stream time apart under
// learner.user_ttl=1h; live users and RSS after each wave show that state
// stays bounded when users come and go (expired users' slots are reused).

#include <fmt/format.h>

#include "e2e/common.h"
#include "e2e/phases.h"
#include "model_store.h"
#include "streamrec/base/allocator.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/state/feature_store.h"

namespace streamrec::bench {
namespace {

// Writes rows [0, count) of one kind in chunks, closes, reopens, measures.
template <typename AddRow>
Result<DirUsage> WriteStore(const apps::Settings& settings, const std::string& dir, const state::IndexLimits& limits,
                            uint32_t count, AddRow&& add_row) {
  {
    auto store = state::FeatureStore::Open(apps::StoreOptionsFor(settings, dir));
    if (!store.ok()) return store.status();
    constexpr uint32_t kChunk = 20000;
    for (uint32_t first = 0; first < count; first += kChunk) {
      state::StoreBatch batch;
      batch.index_limits = limits;
      for (uint32_t r = first; r < std::min(count, first + kChunk); ++r) add_row(r, batch);
      auto seq = (*store)->Write(batch);
      if (!seq.ok()) return seq.status();
    }
  }
  {
    // Reopening replays the WAL into SST files, as after any restart.
    auto store = state::FeatureStore::Open(apps::StoreOptionsFor(settings, dir));
    if (!store.ok()) return store.status();
  }
  return MeasureDir(dir);
}

}  // namespace

// `total_users` distinct users in 5 waves an hour of stream time apart,
// each user with `per_user` clicks, under a one-hour TTL.
Json BoundedByTtl(const online_learner::IsgdOptions& options, uint32_t total_users) {
  constexpr int kWaves = 5;
  constexpr int64_t kHourMs = 3600 * 1000;
  constexpr uint32_t kItems = 10000;
  const uint32_t per_wave = total_users / kWaves;
  Progress("memory: {} users in {} waves under a 1 h TTL", per_wave * kWaves, kWaves);
  online_learner::ExpiryOptions expiry;
  expiry.user_ttl_ms = kHourMs;
  online_learner::Learner learner(options, 1, expiry);
  const SyntheticStream stream({per_wave * kWaves, kItems, 37});
  for (uint32_t i = 0; i < kItems; ++i) learner.ApplyItem({SyntheticStream::ItemId(i), true, {}, {}, {}});
  const int per_user = std::max(options.cold_start_events, 1);
  const int64_t ts0 = WallMs() - 30 * 86400000LL;
  Json waves = Json::array();
  uint64_t k = 0;
  for (int w = 0; w < kWaves; ++w) {
    const int64_t wave_ts = ts0 + w * 2 * kHourMs;  // past the TTL of the wave before
    for (uint32_t n = 0; n < per_wave; ++n) {
      const uint32_t u = static_cast<uint32_t>(w) * per_wave + n;
      for (int e = 0; e < per_user; ++e, ++k) {
        schemas::Event event = stream.EventFor(k, u, wave_ts + static_cast<int64_t>(n) * 10 + e);
        event.event_id.reset();
        event.type = schemas::EventType::kClick;
        learner.Apply(event);
      }
    }
    learner.TakeExpiredUsers();
    ReleaseFreeMemory();
    const ProcessMemory m = ReadProcessMemory();
    waves.push_back({{"wave", w + 1},
                     {"users_seen", static_cast<uint64_t>(w + 1) * per_wave},
                     {"users_live", learner.users().live_count()},
                     {"user_slots", learner.users().size()},
                     {"rss_bytes", m.rss}});
  }
  return Json{{"ttl_ms", kHourMs}, {"waves", waves}};
}

Result<Json> RunMemoryBench(const Flags& flags, const std::vector<std::string>& sets) {
  auto users = flags.GetInt("memory-users", 1000000);
  auto items = flags.GetInt("memory-items", 1000000);
  if (!users.ok()) return users.status();
  if (!items.ok()) return items.status();
  TempDir dir("memory");
  auto settings = MakeSettings(sets, "127.0.0.1:9", dir.Sub("unused"), "unused");
  if (!settings.ok()) return settings.status();
  const auto n_users = static_cast<uint32_t>(*users);
  const auto n_items = static_cast<uint32_t>(*items);
  const SyntheticStream stream({n_users, n_items, 31});

  online_learner::IsgdOptions options = settings->learner.isgd;
  options.negatives = 1;  // memory does not depend on it; time does
  const int per_user = std::max(options.cold_start_events, 1);

  Json out;
  out["dim"] = options.dim;
  out["users"] = n_users;
  out["items"] = n_items;
  out["events_per_user"] = per_user;
  out["settings"] = DescribeSettings(*settings);

  Progress("memory: {} items, {} users", n_items, n_users);
  ReleaseFreeMemory();
  const ProcessMemory m0 = ReadProcessMemory();
  const uint64_t h0 = HeapAllocatedBytes();
  auto learner = std::make_unique<online_learner::Learner>(options, 1);
  for (uint32_t i = 0; i < n_items; ++i) learner->ApplyItem({SyntheticStream::ItemId(i), true, {}, {}, {}});
  const ProcessMemory m1 = ReadProcessMemory();
  const uint64_t h1 = HeapAllocatedBytes();
  const int64_t ts0 = WallMs() - 86400000;
  uint64_t k = 0;
  for (uint32_t u = 0; u < n_users; ++u) {
    for (int e = 0; e < per_user; ++e, ++k) {
      schemas::Event event = stream.EventFor(k, u, ts0 + e);
      event.event_id.reset();
      event.type = schemas::EventType::kClick;
      learner->Apply(event);
    }
  }
  const ProcessMemory m2 = ReadProcessMemory();
  const uint64_t h2 = HeapAllocatedBytes();
  const double per_m_items = 1e6 / n_items, per_m_users = 1e6 / n_users;
  out["rss_bytes_per_million_items"] = static_cast<double>(m1.rss - m0.rss) * per_m_items;
  out["heap_bytes_per_million_items"] = static_cast<double>(h1 - h0) * per_m_items;
  out["rss_bytes_per_million_users"] = static_cast<double>(m2.rss - m1.rss) * per_m_users;
  out["heap_bytes_per_million_users"] = static_cast<double>(h2 - h1) * per_m_users;
  out["factor_bytes_per_million_items"] = 2.0 * options.dim * sizeof(float) * 1e6;  // q_i and y_i
  out["factor_bytes_per_million_users"] = 1.0 * options.dim * sizeof(float) * 1e6;   // p_u

  online_learner::IsgdModel& model = learner->model();
  model.TakeDirtyUsers();
  model.TakeDirtyItems();
  const state::IndexLimits limits{learner->users().size(), learner->items().size()};
  Progress("memory: writing stores");
  auto item_store = WriteStore(*settings, dir.Sub("items"), limits, n_items, [&](uint32_t i, state::StoreBatch& b) {
    b.items.push_back({std::string(learner->items().Name(i)), {ItemIndex(i), model.ExportItem(ItemIndex(i))}});
  });
  if (!item_store.ok()) return item_store.status();
  auto user_store = WriteStore(*settings, dir.Sub("users"), limits, n_users, [&](uint32_t u, state::StoreBatch& b) {
    b.users.push_back({std::string(learner->users().Name(u)), {UserIndex(u), model.ExportUser(UserIndex(u))}});
  });
  if (!user_store.ok()) return user_store.status();
  out["store_bytes_per_million_items"] = static_cast<double>(item_store->allocated) * per_m_items;
  out["store_bytes_per_million_users"] = static_cast<double>(user_store->allocated) * per_m_users;
  out["store_apparent_bytes_per_million_items"] = static_cast<double>(item_store->apparent) * per_m_items;
  out["store_apparent_bytes_per_million_users"] = static_cast<double>(user_store->apparent) * per_m_users;
  learner.reset();
  ReleaseFreeMemory();

  auto ttl_users = flags.GetInt("memory-ttl-users", 1000000);
  if (!ttl_users.ok()) return ttl_users.status();
  if (*ttl_users > 0) out["bounded"] = BoundedByTtl(options, static_cast<uint32_t>(*ttl_users));
  return out;
}

}  // namespace streamrec::bench
