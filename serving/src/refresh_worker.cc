#include "streamrec/serving/refresh_worker.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>

#include "streamrec/base/logging.h"
#include "streamrec/base/thread_name.h"
#include "streamrec/serving/quantized_items.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::serving {
namespace {

using Clock = std::chrono::system_clock;
using Ranking = RefreshWorkerOptions::Ranking;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

// How often an idle worker serves Kafka's delivery reports, so the store's
// pending entries are cleared soon after a list is acknowledged.
constexpr std::chrono::milliseconds kIdlePoll{5};
// Catching up, the longest a round waits for the next batch (should batches
// stop without a Pace saying the backlog is gone).
constexpr std::chrono::milliseconds kPaceWait{1000};
// The index takes the items changed since its last update at most this
// often: re-insertions are costly (~100 us each, at most max_relinks per
// update), and the exact re-scoring of candidates uses current vectors.
constexpr std::chrono::milliseconds kIndexUpdateInterval{100};
// Most users an sq8 round takes (four kernel tiles) on the worker's own
// thread while the pipeline keeps up. Int8 scoring is compute bound per
// tile, so a bigger round saves little (the micro bench: 66 us a user at
// 64, 57 at 256, 100k items, dim 64) while every user in it waits for all
// of it: a 256-user round was the p99 of the ranking stage at 5k events/s.
// Exact rounds keep serving.refresh_batch, as each re-reads the float item
// matrix, which a big round shares; so do rounds run one per batch (inline,
// or catching up), where a cap would bound lists per batch.
constexpr size_t kSq8RoundUsers = 4 * kUserTile;

struct ForgetCommand {
  std::optional<UserIndex> user;
  std::string user_id;
  uint64_t batch_seq = 0;
};
using Command = std::variant<std::vector<DueUser>, ForgetCommand, std::vector<ItemUpdate>>;

}  // namespace

struct RefreshWorker::Impl {
  RefreshWorkerOptions options;
  ListObserver observer;

  // Shared with the caller's thread, under `mutex`.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<Command> commands;
  size_t commands_touching = 0;  // touches in `commands`
  bool finishing = false;
  bool stopping = false;
  bool catching_up = false;  // the last Pace's backlog
  uint64_t paces = 0;        // Pace calls
  RefreshReport report;
  Status error;
  size_t refresher_waiting = 0;

  // The worker's own (its thread, or RunInline's caller).
  std::unique_ptr<Publisher> publisher;
  Refresher refresher;
  ItemSnapshot snapshot;
  std::thread thread;
  // Ranking::kHnsw: the index once built; while it is built on its
  // own thread (from a copy of the snapshot), exact lists are served and
  // the items changed since the copy are collected for its first Update.
  std::optional<ApproximateIndex> index;
  bool index_ready = false;
  std::thread index_builder;
  std::atomic<bool> index_built{false};
  std::unique_ptr<ApproximateIndex> building;
  std::vector<float> build_factors;
  std::vector<float> build_bias;
  uint32_t indexed_items = 0;  // items the index holds (or will, once built)
  std::chrono::steady_clock::time_point index_updated;
  std::vector<uint32_t> index_changes;
  std::vector<uint8_t> index_changed;
  uint64_t approximate_since_check = 0;
  float user_norm = 0;    // Ranking::kSq8: see NoteUserNorms
  Int8ScanWork sq8_work;  // of the current round, added to `counters` under the mutex
  RefreshCounters counters;

  explicit Impl(RefreshWorkerOptions o)
      : options(std::move(o)),
        refresher(options.min_interval, options.gather),
        snapshot(options.dim, options.ranking == Ranking::kSq8),
        // sq8 has nothing to build: its int8 copy follows every applied row.
        index_ready(options.ranking == Ranking::kSq8) {
    counters.index_ready = index_ready;
  }

  void Push(Command command) {
    {
      std::lock_guard lock(mutex);
      if (auto* touches = std::get_if<std::vector<DueUser>>(&command)) commands_touching += touches->size();
      commands.push_back(std::move(command));
    }
    wake.notify_one();
  }

  Status Apply(Command& command) {
    if (auto* touches = std::get_if<std::vector<DueUser>>(&command)) {
      for (DueUser& touch : *touches) refresher.Touch(std::move(touch));
    } else if (auto* forget = std::get_if<ForgetCommand>(&command)) {
      if (forget->user) refresher.Forget(*forget->user);
      return publisher->PublishTombstone(forget->user_id, forget->batch_seq);
    } else {
      for (const ItemUpdate& update : std::get<std::vector<ItemUpdate>>(command)) {
        snapshot.Apply(update);
        if (options.ranking == Ranking::kHnsw) NoteChanged(update.item.value());
      }
    }
    return Status::Ok();
  }

  ItemVectors Vectors(uint32_t num_items) const {
    return {snapshot.ItemMatrix(), snapshot.ItemBias(), num_items, snapshot.dim()};
  }

  void NoteChanged(uint32_t item) {
    if (item >= indexed_items) return;  // not indexed yet: added as a new item
    if (index_changed.size() <= item) index_changed.resize(size_t{item} + 1, 0);
    if (index_changed[item] != 0) return;
    index_changed[item] = 1;
    index_changes.push_back(item);
  }

  // Starts the index build on its own thread from a copy of the snapshot;
  // once built, brings it up to date with the items changed since (and new
  // ones) before each round.
  void MaintainIndex() {
    if (options.ranking != Ranking::kHnsw || snapshot.NumItems() == 0) return;
    if (!index && !index_builder.joinable()) {
      indexed_items = snapshot.NumItems();
      const size_t floats = size_t{indexed_items} * static_cast<size_t>(snapshot.dim());
      build_factors.assign(snapshot.ItemMatrix(), snapshot.ItemMatrix() + floats);
      build_bias.assign(snapshot.ItemBias(), snapshot.ItemBias() + indexed_items);
      building = std::make_unique<ApproximateIndex>(options.index);
      Logger(kLogServing)->info("building the approximate index over {} items", indexed_items);
      index_builder = std::thread([this, items = indexed_items, dim = snapshot.dim()] {
        SetThreadName("sr-index-build");
        building->Build({build_factors.data(), build_bias.data(), items, dim});
        index_built.store(true);
      });
      return;
    }
    if (!index) {
      if (!index_built.load()) return;
      index_builder.join();
      index.emplace(std::move(*building));
      building.reset();
      build_factors = {};
      build_bias = {};
      index_ready = true;
      Logger(kLogServing)->info("approximate index ready: {} items", index->size());
      std::lock_guard lock(mutex);
      counters.index_ready = true;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - index_updated < kIndexUpdateInterval && indexed_items == snapshot.NumItems()) return;
    index_updated = now;
    index->Update(Vectors(snapshot.NumItems()), index_changes);
    indexed_items = static_cast<uint32_t>(index->size());
    for (uint32_t i : index_changes) index_changed[i] = 0;
    index_changes.clear();
  }

  // The approximate list of a warm user, or nothing when its candidates,
  // without the user's seen and unavailable items, cannot fill it.
  std::optional<std::vector<ScoredIndex>> ApproximateList(const UserQuery& q) const {
    std::vector<uint32_t> candidates = index->Candidates(q.vector, static_cast<size_t>(options.index.candidates));
    std::erase_if(candidates, [&](uint32_t i) {
      return !snapshot.IsAvailable(ItemIndex(i)) || std::binary_search(q.seen.begin(), q.seen.end(), i);
    });
    std::vector<ScoredIndex> list = RescoreTopN(Vectors(snapshot.NumItems()), q.vector, candidates, options.top_n);
    if (list.size() < options.top_n) return std::nullopt;
    return list;
  }

  // A moving average of warm users' norms: the scan order of the int8 copy
  // suits users of about this norm (QuantizedItems::Reorder).
  void NoteUserNorms(std::span<const UserQuery> queries) {
    double sum = 0;
    size_t warm = 0;
    for (const UserQuery& q : queries) {
      if (q.cold) continue;
      double squares = 0;
      for (float x : q.vector) squares += double{x} * x;
      sum += std::sqrt(squares);
      ++warm;
    }
    if (warm == 0) return;
    const auto mean = static_cast<float>(sum / static_cast<double>(warm));
    user_norm = user_norm == 0 ? mean : 0.9f * user_norm + 0.1f * mean;
  }

  // Lists for `queries`: exact, or approximate for warm users (sq8, or
  // through the index once it is ready), every recall_every-th approximate
  // one checked against exact.
  std::vector<UserList> Lists(std::span<const UserQuery> queries) {
    if (!index_ready) return TopN(snapshot, queries, options.top_n);
    std::vector<UserList> lists;
    std::vector<uint8_t> approximated(queries.size(), 0);
    if (options.ranking == Ranking::kSq8) {
      NoteUserNorms(queries);
      snapshot.RefreshScanOrder(user_norm);
      lists =
          TopNQuantized(snapshot, queries, options.top_n, static_cast<uint32_t>(options.index.candidates), &sq8_work);
      for (size_t k = 0; k < queries.size(); ++k) approximated[k] = queries[k].cold ? 0 : 1;
    } else {
      lists.resize(queries.size());
      for (size_t k = 0; k < queries.size(); ++k) {
        lists[k].user = queries[k].user;
        if (queries[k].cold) continue;
        if (std::optional<std::vector<ScoredIndex>> list = ApproximateList(queries[k])) {
          lists[k].items = std::move(*list);
          approximated[k] = 1;
        }
      }
    }
    std::vector<UserQuery> exact;
    std::vector<size_t> exact_at;
    std::vector<size_t> checked_at;  // approximate lists to compare with exact
    uint64_t approximate = 0;
    for (size_t k = 0; k < queries.size(); ++k) {
      if (approximated[k] != 0) {
        ++approximate;
        if (options.recall_every == 0 || ++approximate_since_check < options.recall_every) continue;
        approximate_since_check = 0;
        checked_at.push_back(k);
      } else if (options.ranking == Ranking::kSq8) {
        continue;  // cold: TopNQuantized served popularity, as TopN would
      }
      exact.push_back(queries[k]);
      exact_at.push_back(k);
    }
    std::vector<UserList> exact_lists = TopN(snapshot, exact, options.top_n);
    ListOverlap overlap;
    for (size_t e = 0; e < exact.size(); ++e) {
      const size_t k = exact_at[e];
      if (std::find(checked_at.begin(), checked_at.end(), k) == checked_at.end()) {
        lists[k] = std::move(exact_lists[e]);
        continue;
      }
      overlap.Add(exact_lists[e].items, lists[k].items);
    }
    std::lock_guard lock(mutex);
    counters.approximate_lists += approximate;
    counters.sq8_work += std::exchange(sq8_work, {});
    counters.recall_lists += checked_at.size();
    counters.recall_overlap.hits += overlap.hits;
    counters.recall_overlap.wanted += overlap.wanted;
    return lists;
  }

  // Lists of up to one batch of due users; false when none was due.
  Result<bool> RefreshDue(bool everything) {
    const int64_t now = NowMs();
    bool one_round_per_batch = !options.own_thread;
    {
      std::lock_guard lock(mutex);
      one_round_per_batch |= catching_up;
    }
    const bool small_rounds = index_ready && options.ranking == Ranking::kSq8 && !one_round_per_batch;
    std::vector<DueUser> due =
        refresher.TakeDue(now, small_rounds ? std::min(options.batch, kSq8RoundUsers) : options.batch, everything);
    if (due.empty()) return false;
    std::vector<UserQuery> queries(due.size());
    for (size_t k = 0; k < due.size(); ++k) queries[k] = {due[k].user, due[k].cold, due[k].vector, due[k].seen};
    const std::vector<UserList> lists = Lists(queries);
    std::vector<PublishedList> published;
    published.reserve(due.size());
    for (size_t k = 0; k < due.size(); ++k) {
      schemas::RecommendationList list;
      list.user_id = due[k].user_id;
      list.generated_at_ms = now;
      list.source_event_ts_ms = due[k].newest_event_ts_ms;
      list.model = lists[k].cold ? "popularity" : "isgd";
      list.seq = due[k].batch_seq;
      PublishedList& record = published.emplace_back(PublishedList{due[k].user, {}});
      for (const ScoredIndex& s : lists[k].items) {
        list.items.push_back({std::string(snapshot.Name(s.item)), s.score});
        record.items.push_back(s.item);
      }
      STREAMREC_RETURN_IF_ERROR(publisher->Publish(list));
      if (observer) observer(list, due[k]);
    }
    std::lock_guard lock(mutex);
    ++counters.rounds;
    counters.lists += published.size();
    for (PublishedList& p : published) report.published.push_back(std::move(p));
    return true;
  }

  void CollectDeliveries() {
    publisher->Poll(std::chrono::milliseconds(0));
    std::vector<Acknowledged> acknowledged = publisher->TakeAcknowledged();
    Status failed = publisher->TakeDeliveryError();
    std::lock_guard lock(mutex);
    for (Acknowledged& a : acknowledged) report.acknowledged.push_back(std::move(a));
    if (!failed.ok() && report.delivery_error.ok()) report.delivery_error = std::move(failed);
  }

  // One round: the commands given so far, then one batch of due users.
  // Returns whether a list was computed.
  Result<bool> Round(bool everything) {
    std::deque<Command> taken;
    {
      std::lock_guard lock(mutex);
      taken.swap(commands);
      commands_touching = 0;
    }
    for (Command& command : taken) STREAMREC_RETURN_IF_ERROR(Apply(command));
    MaintainIndex();
    auto refreshed = RefreshDue(everything);
    CollectDeliveries();
    std::lock_guard lock(mutex);
    refresher_waiting = refresher.waiting();
    return refreshed;
  }

  void Fail(Status s) {
    Logger(kLogServing)->error("refreshing lists: {}", s.ToString());
    std::lock_guard lock(mutex);
    if (error.ok()) error = std::move(s);
  }

  void ThreadMain() {
    while (true) {
      bool finish;
      {
        std::lock_guard lock(mutex);
        if (stopping) return;
        finish = finishing;
      }
      auto refreshed = Round(finish);
      if (!refreshed.ok()) {
        Fail(refreshed.status());
        return;
      }
      std::unique_lock lock(mutex);
      if (*refreshed) {
        if (!catching_up || finish) continue;
        // Catching up: the next round waits for the next batch.
        const uint64_t seen = paces;
        wake.wait_for(lock, kPaceWait, [&] { return paces != seen || !catching_up || stopping || finishing; });
        continue;
      }
      if (finish && commands.empty()) return;  // everything owed is published
      if (!commands.empty() || stopping || finishing) continue;
      // Sleep until a command arrives, the next user falls due, or it is
      // time to serve delivery reports.
      auto until = Clock::now() + kIdlePoll;
      if (auto next = refresher.NextDueMs()) {
        until = std::min(until, Clock::time_point(std::chrono::milliseconds(*next)));
      }
      wake.wait_until(lock, until, [&] { return !commands.empty() || stopping || finishing; });
    }
  }
};

RefreshWorker::RefreshWorker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RefreshWorker::~RefreshWorker() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->thread.joinable()) impl_->thread.join();
  // An index build cannot be interrupted: wait for it (seconds at most).
  if (impl_->index_builder.joinable()) impl_->index_builder.join();
}

Result<std::unique_ptr<RefreshWorker>> RefreshWorker::Create(RefreshWorkerOptions options, ListObserver observer) {
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->observer = std::move(observer);
  if (impl->options.ranking == Ranking::kSq8) {
    if (BestInt8Kernel() == Int8Kernel::kAvx512Vnni) {
      Logger(kLogServing)->info("serving.index=sq8: int8 first stage on AVX-512 VNNI");
    } else {
      Logger(kLogServing)->warn("serving.index=sq8 on a CPU without AVX-512 VNNI: the portable int8 kernel is "
                                "about as slow as exact scoring");
    }
  }
  auto publisher = Publisher::Create(impl->options.publisher);
  if (!publisher.ok()) return publisher.status();
  impl->publisher = std::move(*publisher);
  if (impl->options.own_thread) {
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] {
      SetThreadName("sr-refresh");
      raw->ThreadMain();
    });
  }
  return std::unique_ptr<RefreshWorker>(new RefreshWorker(std::move(impl)));
}

void RefreshWorker::Touch(DueUser touch) {
  std::vector<DueUser> touches;
  touches.push_back(std::move(touch));
  Touch(std::move(touches));
}

void RefreshWorker::Touch(std::vector<DueUser> touches) {
  if (!touches.empty()) impl_->Push(std::move(touches));
}

void RefreshWorker::Forget(std::optional<UserIndex> user, std::string user_id, uint64_t batch_seq) {
  impl_->Push(ForgetCommand{user, std::move(user_id), batch_seq});
}

void RefreshWorker::UpdateItems(std::vector<ItemUpdate> updates) {
  if (!updates.empty()) impl_->Push(std::move(updates));
}

void RefreshWorker::Pace(bool backlog) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->catching_up = backlog;
    ++impl_->paces;
  }
  impl_->wake.notify_one();
}

Status RefreshWorker::RunInline() {
  if (impl_->options.own_thread) return error();
  return impl_->Round(false).status();
}

Status RefreshWorker::Finish(std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  if (m.options.own_thread) {
    {
      std::lock_guard lock(m.mutex);
      m.finishing = true;
    }
    m.wake.notify_one();
    if (m.thread.joinable()) m.thread.join();
    STREAMREC_RETURN_IF_ERROR(error());
  } else {
    while (true) {
      auto refreshed = m.Round(true);
      if (!refreshed.ok()) return refreshed.status();
      if (!*refreshed) break;
    }
  }
  // The thread is gone: this thread owns the publisher now.
  Status flushed = m.publisher->Flush(timeout);
  m.CollectDeliveries();
  std::lock_guard lock(m.mutex);
  m.refresher_waiting = m.refresher.waiting();
  return flushed;
}

RefreshReport RefreshWorker::TakeReport() {
  std::lock_guard lock(impl_->mutex);
  return std::exchange(impl_->report, {});
}

size_t RefreshWorker::waiting() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->refresher_waiting + impl_->commands_touching;
}

RefreshCounters RefreshWorker::counters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

Status RefreshWorker::error() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->error;
}

}  // namespace streamrec::serving
