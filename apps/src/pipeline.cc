#include "pipeline.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "kafka_settings.h"
#include "kill_point.h"
#include "model_store.h"
#include "pipeline_backend.h"
#include "streamrec/base/logging.h"
#include "streamrec/base/thread_name.h"
#include "streamrec/ingest/ingestor.h"
#include "streamrec/kafka/producer.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/serving/published_lists.h"
#include "streamrec/serving/refresh_worker.h"
#include "streamrec/state/feature_store.h"

namespace streamrec::apps {
namespace {

using Clock = std::chrono::system_clock;
constexpr std::chrono::milliseconds kFlushTimeout{30000};
// How long `run` waits for a first answer from Kafka before it gives up.
constexpr std::chrono::milliseconds kConnectTimeout{10000};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

// An item's row as the refresh worker keeps it (no context vector).
serving::ItemUpdate ItemUpdateOf(ItemIndex item, std::string id, online_learner::ItemRow row) {
  return {item, std::move(id), row.bias, row.count, row.available, std::move(row.factors)};
}

// Writes store batches on its own thread, one at a time, so the next batch
// is polled and learned while the previous one is written (the write is most
// of a batch's cost: every sampled negative dirties its item's row).
class StoreWriter {
 public:
  explicit StoreWriter(state::FeatureStore& store) : store_(store), thread_([this] { Loop(); }) {}
  ~StoreWriter() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  // Starts writing `batch`; the previous result must have been taken.
  void Start(state::StoreBatch batch) {
    {
      std::lock_guard lock(mutex_);
      batch_ = std::move(batch);
      result_.reset();
    }
    changed_.notify_all();
  }
  // Waits for the write started last and returns its batch seq, handing the
  // batch back in `written`: its item factors are moved on to the refresh
  // worker, not copied, and the rest is freed on the thread that made it.
  Result<uint64_t> Wait(state::StoreBatch& written) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return result_.has_value(); });
    Result<uint64_t> result = std::move(*result_);
    result_.reset();
    written = std::move(written_);
    return result;
  }
  // Waits until no write is under way (its result stays to be taken).
  void WaitIdle() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !batch_.has_value(); });
  }

 private:
  void Loop() {
    SetThreadName("sr-store-write");
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return stop_ || batch_.has_value(); });
      if (stop_ && !batch_) return;
      const state::StoreBatch& batch = *batch_;
      lock.unlock();
      Result<uint64_t> result = store_.Write(batch);
      lock.lock();
      result_.emplace(std::move(result));
      written_ = std::move(*batch_);
      batch_.reset();
      changed_.notify_all();
    }
  }

  state::FeatureStore& store_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<state::StoreBatch> batch_;        // being written
  std::optional<Result<uint64_t>> result_;        // of the last write, until taken
  state::StoreBatch written_;                     // the last batch written, until taken
  bool stop_ = false;
  std::thread thread_;
};

// Stored offsets win over Kafka's. A read waits for the write under way, so
// a partition released in a rebalance is committed at its newest offset.
class StoreOffsets final : public ingest::OffsetSource {
 public:
  StoreOffsets(const state::FeatureStore& store, StoreWriter& writer) : store_(store), writer_(writer) {}
  std::optional<KafkaOffset> NextOffset(const std::string& topic, PartitionId partition) override {
    writer_.WaitIdle();
    auto offsets = store_.ReadOffsets(topic);
    if (offsets.ok()) {
      if (auto it = offsets->find(partition); it != offsets->end()) return it->second;
    } else {
      Logger(kLogApp)->error("reading stored offsets of {}: {}", topic, offsets.status().ToString());
    }
    return std::nullopt;
  }

 private:
  const state::FeatureStore& store_;
  StoreWriter& writer_;
};

// Asks the cluster for the events topic's metadata once, so a wrong or dead
// bootstrap address is one clear error within seconds; the consumer itself
// would retry forever without a word beyond librdkafka's log. Once running,
// a broker outage is waited out instead (docs/reliability.md).
Status CheckKafkaReachable(const Settings& settings) {
  kafka::ProducerOptions options;
  STREAMREC_RETURN_IF_ERROR(AddKafkaProperties(settings, KafkaRole::kProducer, options.config));
  // A probe must not create the topic it asks about.
  STREAMREC_RETURN_IF_ERROR(options.config.Set("allow.auto.create.topics", "false"));
  auto probe = kafka::Producer::Create(std::move(options));
  if (!probe.ok()) return probe.status();
  auto partitions = probe->PartitionCount(settings.pipeline.events_topic, kConnectTimeout);
  if (partitions.ok() || partitions.status().code() != StatusCode::kUnavailable) return Status::Ok();
  return Status::Unavailable(fmt::format(
      "cannot reach Kafka at {} within {} s ({}); check kafka.bootstrap.servers and that the broker is running",
      settings.kafka.bootstrap_servers, kConnectTimeout.count() / 1000, partitions.status().message()));
}

}  // namespace

struct Pipeline::Impl {
  Settings settings;
  std::unique_ptr<state::FeatureStore> store;
  std::unique_ptr<online_learner::Learner> learner;
  std::unique_ptr<StoreWriter> writer;
  std::unique_ptr<StoreOffsets> offsets;
  std::unique_ptr<ingest::Ingestor> ingestor;
  std::unique_ptr<serving::RefreshWorker> worker;
  std::atomic<bool> stop{false};
  std::shared_ptr<spdlog::logger> log = Logger(kLogApp);
  KillSwitch kill_switch;  // crash tests only (testing.kill_point)
  std::atomic<uint64_t> batches_written{0};  // read by the worker's kill point
  uint64_t last_batch_seq = 0;               // the store's, of the last write
  PipelineBackend* backend = nullptr;  // the HTTP server's, if attached

  // Lists acknowledged by Kafka, cleared from `pending` with the next write.
  std::vector<state::StoreBatch::PendingClear> acknowledged;
  // Items of each user's last published list (as the worker reports them),
  // so a list holding an item that becomes unavailable is refreshed.
  serving::PublishedLists published{1};
  // Partitions whose stored offset was checked against the broker.
  std::set<kafka::TopicPartition> verified;

  // What a batch owes once its store write is durable.
  struct Owed {
    struct Forgotten {
      std::string user_id;
      int64_t ts_ms = 0;  // the forget's event time
      std::optional<UserIndex> user;
    };
    std::map<std::string, int64_t> touched;  // user id -> newest event time
    std::vector<Forgotten> forgotten;
    std::vector<UserIndex> unlisted_users;  // lists holding a now-unavailable item
    kafka::OffsetMap next_offsets;
  };
  std::optional<Owed> in_flight;  // the batch being written
  // Offsets durable in the store but not yet committed to Kafka, and when
  // Kafka last was (commits are throttled: ingest.commit_interval).
  kafka::OffsetMap uncommitted;
  std::chrono::steady_clock::time_point last_commit;

  PipelineStats stats;  // the loop's own counters
  mutable std::mutex snapshot_mutex;
  PipelineStats snapshot;  // a copy for other threads, taken once per loop

  Status VerifyAssignment();
  // Learns a batch and starts writing it (after finishing the write before).
  Status ApplyBatch(ingest::Batch& batch);
  // Waits for the write in flight, then does what its batch owes once
  // durable: item rows, tombstones and touches to the worker, Kafka commit.
  Status FinishWrite();
  // The batch written and what it owes, once its write is durable.
  struct Written {
    uint64_t seq = 0;
    state::StoreBatch batch;
    Owed owed;
  };
  // Waits for the write in flight (there must be one).
  Result<Written> WaitForWrite();
  Status Deliver(Written written);
  Status WriteClears();
  // Commits `uncommitted` to Kafka: when `now`, or once the interval passed.
  void CommitToKafka(bool now);
  Status StartWorker(const ListCallback& on_list);
  serving::DueUser TouchOf(UserIndex user, int64_t event_ts_ms, uint64_t batch_seq, int64_t now_ms) const;
  void CollectReport();
  void UpdateStats();
  // Records the consumer has yet to read, over its partitions.
  int64_t Backlog() const;
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Result<std::unique_ptr<Pipeline>> Pipeline::Open(const Settings& settings) {
  auto impl = std::make_unique<Impl>();
  impl->settings = settings;
  impl->kill_switch = KillSwitch(settings.testing);
  impl->published = serving::PublishedLists(static_cast<uint32_t>(settings.serving.top_n));
  const PipelineOptions& p = settings.pipeline;

  auto store = state::FeatureStore::Open(StoreOptionsFor(settings, settings.state.dir));
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  impl->learner = std::make_unique<online_learner::Learner>(settings.learner.isgd, static_cast<size_t>(p.dedup_window),
                                                            settings.learner.expiry);
  STREAMREC_RETURN_IF_ERROR(impl->store->LoadModel(impl->learner->model(), impl->learner->users(),
                                                   impl->learner->items()));
  // Expiry scans follow stream time; resuming it keeps them where an
  // uninterrupted run has them.
  auto stream_time = impl->store->ReadStreamTime();
  if (!stream_time.ok()) return stream_time.status();
  if (*stream_time) impl->learner->RestoreStreamTime(**stream_time);
  // Ids seen before a stop or crash stay remembered: a redelivery of them
  // after the restart is still dropped.
  STREAMREC_RETURN_IF_ERROR(impl->store->LoadDedupWindow(impl->learner->dedup()));
  STREAMREC_RETURN_IF_ERROR(CheckKafkaReachable(settings));

  ingest::IngestOptions ingest_options;
  ingest_options.events_topic = p.events_topic;
  ingest_options.items_topic = p.items_topic;
  ingest_options.dlq_topic = p.dlq_topic;
  ingest_options.batch_max_events = static_cast<size_t>(p.batch_max_events);
  ingest_options.batch_max_wait = std::chrono::milliseconds(p.batch_max_ms);
  ingest_options.batch_linger = std::chrono::milliseconds(p.batch_linger_ms);
  ingest_options.parse.max_future_skew_ms = p.max_future_skew_ms;
  STREAMREC_RETURN_IF_ERROR(AddKafkaProperties(settings, KafkaRole::kConsumer, ingest_options.consumer_config));
  STREAMREC_RETURN_IF_ERROR(AddKafkaProperties(settings, KafkaRole::kProducer, ingest_options.producer_config));
  ingest_options.start = p.start == "earliest" ? ingest::StartPosition::kEarliest : ingest::StartPosition::kLatest;
  impl->writer = std::make_unique<StoreWriter>(*impl->store);
  impl->offsets = std::make_unique<StoreOffsets>(*impl->store, *impl->writer);
  auto ingestor = ingest::Ingestor::Create(ingest_options, *impl->offsets);
  if (!ingestor.ok()) return ingestor.status();
  impl->ingestor = std::move(*ingestor);

  impl->log->info("store {}: {} users, {} items", settings.state.dir, impl->learner->users().live_count(),
                  impl->learner->items().live_count());
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

// A stored offset beyond what the broker holds means the store was built
// against another broker or topic: consuming would silently mix two streams.
Status Pipeline::Impl::VerifyAssignment() {
  for (const kafka::TopicPartition& tp : ingestor->Assignment()) {
    if (verified.contains(tp)) continue;
    auto stored = store->ReadOffsets(tp.topic);
    if (!stored.ok()) return stored.status();
    auto it = stored->find(tp.partition);
    if (it != stored->end()) {
      auto marks = ingestor->QueryWatermarks(tp);
      if (!marks.ok()) return marks.status().WithContext("checking " + tp.topic + " against the store");
      if (it->second.value() > marks->high.value()) {
        return Status::FailedPrecondition(fmt::format(
            "the store at {} has consumed {}/{} up to offset {}, but the broker holds only {} records there: "
            "the store was made against another broker or topic. Use a new state.dir (or delete {}) to "
            "consume this broker from the start",
            settings.state.dir, tp.topic, tp.partition.value(), it->second.value(), marks->high.value(),
            settings.state.dir));
      }
    }
    verified.insert(tp);
  }
  return Status::Ok();
}

// The worker computes lists from its own copy of the items, a batch or so
// behind the learner: starts it with every item and the lists owed from
// before a stop or crash (those first).
Status Pipeline::Impl::StartWorker(const ListCallback& on_list) {
  serving::RefreshWorkerOptions options;
  options.dim = settings.learner.isgd.dim;
  options.top_n = static_cast<uint32_t>(settings.serving.top_n);
  options.batch = static_cast<size_t>(settings.serving.refresh_batch);
  options.min_interval = std::chrono::milliseconds(settings.serving.min_refresh_ms);
  options.gather = std::chrono::milliseconds(settings.serving.refresh_gather_ms);
  options.own_thread = settings.serving.refresh_thread;
  using Ranking = serving::RefreshWorkerOptions::Ranking;
  options.ranking = settings.serving.index == "hnsw"  ? Ranking::kHnsw
                    : settings.serving.index == "sq8" ? Ranking::kSq8
                                                      : Ranking::kExact;
  options.index.candidates = settings.serving.index_candidates;
  options.index.ef_search = settings.serving.index_ef;
  options.recall_every = static_cast<uint32_t>(settings.serving.index_recall_every);
  options.publisher.topic = settings.pipeline.recommendations_topic;
  STREAMREC_RETURN_IF_ERROR(AddKafkaProperties(settings, KafkaRole::kProducer, options.publisher.producer_config));
  auto observer = [this, on_list](const schemas::RecommendationList& list, const serving::DueUser& due) {
    kill_switch.Reached(KillPoint::kMidPublish, batches_written.load());
    if (on_list) on_list(list, due.touched_at_ms);
    if (backend) backend->OnList(list, due.touched_at_ms, NowMs());
  };
  auto created = serving::RefreshWorker::Create(std::move(options), observer);
  if (!created.ok()) return created.status().WithContext("creating the recommendations producer");
  worker = std::move(*created);

  const online_learner::IsgdModel& model = learner->model();
  std::vector<serving::ItemUpdate> items;
  items.reserve(model.NumItems());
  for (uint32_t i = 0; i < model.NumItems(); ++i) {
    items.push_back(ItemUpdateOf(ItemIndex(i), std::string(learner->items().Name(i)), model.ExportItem(ItemIndex(i))));
  }
  worker->UpdateItems(std::move(items));

  auto pending = store->ReadPending();
  if (!pending.ok()) return pending.status();
  const int64_t now = NowMs();
  // One entry per user, so the tombstones may go ahead of the touches.
  std::vector<serving::DueUser> touches;
  for (const auto& entry : *pending) {
    if (entry.entry.tombstone) {
      worker->Forget(std::nullopt, entry.user_id, entry.entry.batch_seq);
    } else if (auto user = learner->users().Find(entry.user_id)) {
      touches.push_back(TouchOf(UserIndex(*user), entry.entry.event_ts_ms, entry.entry.batch_seq, now));
    }
  }
  worker->Touch(std::move(touches));
  if (!pending->empty()) log->info("{} lists or tombstones owed from before the last stop", pending->size());
  return Status::Ok();
}

serving::DueUser Pipeline::Impl::TouchOf(UserIndex user, int64_t event_ts_ms, uint64_t batch_seq,
                                         int64_t now_ms) const {
  const online_learner::IsgdModel& model = learner->model();
  serving::DueUser touch{user, event_ts_ms, now_ms, batch_seq};
  touch.user_id = std::string(learner->users().Name(user.value()));
  touch.cold = model.IsCold(user);
  if (!touch.cold) {
    touch.vector.resize(static_cast<size_t>(model.dim()));
    model.EffectiveUserVector(user, touch.vector);
  }
  const auto seen = model.SeenItems(user);
  touch.seen.assign(seen.begin(), seen.end());
  return touch;
}

Status Pipeline::Impl::ApplyBatch(ingest::Batch& batch) {
  state::StoreBatch write;
  Owed owed;
  owed.next_offsets = batch.next_offsets;
  // Newest event time per touched user (by id: a forget erases the index).
  std::map<std::string, int64_t>& touched = owed.touched;
  std::vector<Owed::Forgotten>& forgotten = owed.forgotten;
  std::vector<bool> withdrawn;  // by item index
  for (const schemas::Item& item : batch.items) {
    learner->ApplyItem(item);
    if (!item.available) {
      const uint32_t i = *learner->items().Find(item.item_id);
      if (withdrawn.size() <= i) withdrawn.resize(i + 1);
      withdrawn[i] = true;
    }
  }
  // Lists holding a now-unavailable item.
  if (!withdrawn.empty()) owed.unlisted_users = published.UsersListingAny(withdrawn);
  // A forgotten or expired user: no list owed, a tombstone instead (owed in
  // `pending` until published), its rows and pending entry deleted. Its
  // index may be reused by a new user later in this batch, which is only
  // touched after the write, so forgetting the index here is safe.
  auto drop_user = [&](const std::string& user_id, std::optional<UserIndex> index, int64_t ts) {
    touched.erase(user_id);
    forgotten.push_back({user_id, ts, index});
    if (index) published.Drop(*index);
    write.erased_users.push_back(user_id);
  };
  for (const ingest::ConsumedEvent& consumed : batch.events) {
    const online_learner::ApplyResult result = learner->Apply(consumed.event);
    // Expiry (learner.user_ttl, learner.item_retire) ran before the event.
    for (auto& expired : learner->TakeExpiredUsers()) {
      drop_user(expired.id, expired.index, consumed.event.ts_ms);
      ++stats.expired_users;
    }
    for (std::string& item_id : learner->TakeRetiredItems()) {
      write.erased_items.push_back(std::move(item_id));
      ++stats.retired_items;
    }
    switch (result.outcome) {
      case online_learner::ApplyOutcome::kLearned: {
        int64_t& ts = touched[consumed.event.user_id];
        ts = std::max(ts, consumed.event.ts_ms);
        ++stats.events_applied;
        break;
      }
      case online_learner::ApplyOutcome::kDuplicate:
        ++stats.duplicates;
        break;
      case online_learner::ApplyOutcome::kForgotten:
        drop_user(consumed.event.user_id, result.user, consumed.event.ts_ms);
        ++stats.forgotten;
        break;
    }
  }
  stats.items_applied += batch.items.size();
  stats.dead_lettered += batch.dead_lettered;

  state::AppendModelChanges(learner->model(), learner->users(), learner->items(), write);
  state::AppendDedupChanges(learner->dedup(), write);
  if (settings.learner.expiry.enabled()) write.stream_time_ms = learner->expiry().stream_time_ms();
  // Tombstones are owed like lists, so a crash between this write and their
  // publication cannot lose them; a user back in this same batch owes a
  // list instead, which (put later) replaces the tombstone entry.
  for (const Owed::Forgotten& f : forgotten) write.pending_adds.push_back({f.user_id, f.ts_ms, /*tombstone=*/true});
  for (const auto& [user_id, ts] : touched) write.pending_adds.push_back({user_id, ts});
  write.pending_clears = std::exchange(acknowledged, {});
  for (const auto& [tp, next] : batch.next_offsets) write.offsets.push_back({tp.topic, tp.partition, next});
  // The previous batch must be durable before this one is written: one
  // write in flight, batches in order. What it owes is done while this one
  // is written, so the writer never waits for it.
  std::optional<Written> previous;
  if (in_flight) {
    auto waited = WaitForWrite();
    if (!waited.ok()) return waited.status();
    previous = std::move(*waited);
  }
  writer->Start(std::move(write));
  in_flight = std::move(owed);
  return previous ? Deliver(std::move(*previous)) : Status::Ok();
}

Status Pipeline::Impl::FinishWrite() {
  if (!in_flight) return Status::Ok();
  auto written = WaitForWrite();
  if (!written.ok()) return written.status();
  return Deliver(std::move(*written));
}

Result<Pipeline::Impl::Written> Pipeline::Impl::WaitForWrite() {
  Written written;
  auto seq = writer->Wait(written.batch);
  written.owed = std::move(*in_flight);
  in_flight.reset();
  if (!seq.ok()) {
    // The store refuses a batch it considers invalid: a bug of ours, not a
    // usage error, so it must not exit as one.
    const Status& s = seq.status();
    return (s.code() == StatusCode::kInvalidArgument ? Status::Internal(s.message()) : s)
        .WithContext("writing batch to " + settings.state.dir);
  }
  written.seq = *seq;
  return written;
}

Status Pipeline::Impl::Deliver(Written written) {
  const uint64_t seq = written.seq;
  Owed& owed = written.owed;
  batches_written.store(stats.batches + 1);
  last_batch_seq = seq;
  kill_switch.Reached(KillPoint::kAfterStoreWrite, stats.batches + 1);

  // To the worker, in this order: the batch's item rows, then tombstones
  // (only now that the forget is durable: a crash before this point replays
  // the forget; a crash after it finds them owed in `pending`), then the
  // touched users, so a user forgotten and back in one batch ends listed.
  // The model may be a batch ahead by now: a touch then carries its newer
  // state (that batch touches the user again with its own seq), and a user
  // forgotten since is skipped (its tombstone follows).
  std::vector<serving::ItemUpdate> item_updates;
  item_updates.reserve(written.batch.items.size());
  for (state::StoreBatch::ItemPut& put : written.batch.items) {
    // A context alone changes no score the worker computes: users' vectors
    // come with their touches.
    if (!put.parts.row) continue;
    item_updates.push_back(ItemUpdateOf(put.item.index, std::move(put.id), std::move(put.item.row)));
  }
  worker->UpdateItems(std::move(item_updates));
  for (const Owed::Forgotten& f : owed.forgotten) worker->Forget(f.user, f.user_id, seq);
  const int64_t now = NowMs();
  std::vector<serving::DueUser> touches;
  touches.reserve(owed.touched.size() + owed.unlisted_users.size());
  for (const auto& [user_id, ts] : owed.touched) {
    if (auto user = learner->users().Find(user_id)) touches.push_back(TouchOf(UserIndex(*user), ts, seq, now));
  }
  for (UserIndex user : owed.unlisted_users) {
    if (learner->users().Name(user.value()).empty()) continue;  // forgotten since
    const auto row = learner->model().ExportUser(user);
    touches.push_back(TouchOf(user, row.last_ts_ms, seq, now));
  }
  worker->Touch(std::move(touches));
  kill_switch.Reached(KillPoint::kBeforeCommit, stats.batches + 1);
  for (const auto& [tp, next] : owed.next_offsets) uncommitted[tp] = next;  // batches come in order
  CommitToKafka(/*now=*/false);
  ++stats.batches;
  return Status::Ok();
}

void Pipeline::Impl::CommitToKafka(bool now) {
  if (uncommitted.empty()) return;
  const auto at = std::chrono::steady_clock::now();
  if (!now && at - last_commit < std::chrono::milliseconds(settings.pipeline.commit_interval_ms)) return;
  last_commit = at;
  // The store's offsets are the ones that count; Kafka's are for lag tools.
  if (Status s = ingestor->Commit(std::exchange(uncommitted, {})); !s.ok()) {
    log->warn("committing offsets to Kafka: {}", s.ToString());
  }
}

Status Pipeline::Impl::WriteClears() {
  STREAMREC_RETURN_IF_ERROR(FinishWrite());
  CommitToKafka(/*now=*/false);
  if (acknowledged.empty()) return Status::Ok();
  state::StoreBatch write;
  write.pending_clears = std::exchange(acknowledged, {});
  return store->Write(write).status();
}

void Pipeline::Impl::CollectReport() {
  serving::RefreshReport report = worker->TakeReport();
  for (serving::Acknowledged& a : report.acknowledged) {
    if (!a.tombstone) ++stats.lists_acknowledged;
    acknowledged.push_back({std::move(a.user_id), a.batch_seq});
  }
  const int64_t now = NowMs();
  for (const serving::PublishedList& list : report.published) {
    ++stats.lists_published;
    // Forgotten after the worker took it: the tombstone follows the list.
    if (learner->users().Name(list.user.value()).empty()) continue;
    published.Remember(list.user, list.items);
    // Computed before the worker saw an item withdrawn: list it again.
    const bool stale = std::any_of(list.items.begin(), list.items.end(),
                                   [&](ItemIndex item) { return !learner->model().IsAvailable(item); });
    if (stale) {
      const auto row = learner->model().ExportUser(list.user);
      worker->Touch(TouchOf(list.user, row.last_ts_ms, last_batch_seq, now));
    }
  }
  if (!report.delivery_error.ok()) {
    // The list stays pending in the store and is published after a restart.
    log->warn("publishing a list: {}", report.delivery_error.ToString());
  }
}

int64_t Pipeline::Impl::Backlog() const {
  int64_t backlog = 0;
  for (const kafka::PartitionLag& p : ingestor->Lag()) backlog += p.lag.value_or(0);
  return backlog;
}

void Pipeline::Impl::UpdateStats() {
  stats.users_waiting = worker->waiting();
  const serving::RefreshCounters refresh = worker->counters();
  stats.approximate_lists = refresh.approximate_lists;
  stats.refresh_rounds = refresh.rounds;
  stats.index_ready = refresh.index_ready;
  stats.index_recall_lists = refresh.recall_lists;
  stats.index_recall = refresh.recall();
  stats.sq8_skipped_share = refresh.sq8_work.skipped_share();
  stats.users = learner->users().live_count();
  stats.items = learner->items().live_count();
  std::lock_guard lock(snapshot_mutex);
  snapshot = stats;
}

Status Pipeline::Run(std::optional<std::chrono::milliseconds> stop_when_idle,
                     const ListCallback& on_list) {
  Impl& m = *impl_;
  // However Run ends, requests still waiting for this thread get a 503.
  const std::unique_ptr<PipelineBackend, void (*)(PipelineBackend*)> stop_backend(
      m.backend, [](PipelineBackend* b) { b->OnStop(); });
  STREAMREC_RETURN_IF_ERROR(m.StartWorker(on_list));
  auto idle_since = std::chrono::steady_clock::now();
  while (!m.stop.load()) {
    // With a write under way, take only what is already fetched: if nothing
    // is, the loop finishes the write now rather than after a wait.
    const bool may_wait = !m.in_flight;
    auto batch = m.ingestor->Next(may_wait ? std::nullopt : std::optional(std::chrono::milliseconds(0)));
    if (!batch.ok()) {
      Status s = batch.status();
      // A stored offset the broker lacks: a store from another broker
      // explains it better than lost data, so check that first.
      STREAMREC_RETURN_IF_ERROR(m.VerifyAssignment());
      if (s.code() == StatusCode::kFailedPrecondition) {
        s = s.WithContext("the broker no longer holds the stored offset (data was dropped or the topic was "
                          "recreated); to start over, use a new state.dir");
      }
      return s;
    }
    STREAMREC_RETURN_IF_ERROR(m.VerifyAssignment());
    if (!batch->empty()) {
      const auto started = std::chrono::steady_clock::now();
      STREAMREC_RETURN_IF_ERROR(m.ApplyBatch(*batch));
      // Catching up: more than ten full batches behind (two seconds at 5k
      // events/s), so a passing hiccup does not slow the lists down.
      m.worker->Pace(m.Backlog() > 10 * m.settings.pipeline.batch_max_events);
      idle_since = std::chrono::steady_clock::now();
      if (m.backend) m.backend->OnBatch(idle_since - started);
    }
    STREAMREC_RETURN_IF_ERROR(m.worker->RunInline());
    m.CollectReport();
    m.UpdateStats();
    if (m.backend) m.backend->OnLoop({*m.learner, *m.ingestor, m.stats});
    if (batch->empty() && may_wait) m.worker->Pace(/*backlog=*/false);  // waited, nothing came
    if (batch->empty() && !may_wait) {
      // Nothing fetched yet: finish the write under way now, so its users'
      // lists are not held back until the next batch.
      STREAMREC_RETURN_IF_ERROR(m.FinishWrite());
    } else if (batch->empty()) {
      // Idle for a whole batch.max_ms: persist acknowledgements now rather
      // than with the next batch (under steady load they ride with it).
      STREAMREC_RETURN_IF_ERROR(m.WriteClears());
      if (stop_when_idle && m.ingestor->AtEnd() && std::chrono::steady_clock::now() - idle_since >= *stop_when_idle) {
        break;
      }
    }
  }
  // Finish: the last write, then publish everything owed, wait for Kafka,
  // record it, leave.
  STREAMREC_RETURN_IF_ERROR(m.FinishWrite());
  Status flushed = m.worker->Finish(kFlushTimeout);
  m.CollectReport();
  STREAMREC_RETURN_IF_ERROR(m.WriteClears());
  m.CommitToKafka(/*now=*/true);
  m.UpdateStats();
  STREAMREC_RETURN_IF_ERROR(flushed.WithContext("flushing lists to " + m.settings.pipeline.recommendations_topic));
  return m.ingestor->Close();
}

void Pipeline::Stop() { impl_->stop.store(true); }

void Pipeline::AttachBackend(PipelineBackend* backend) { impl_->backend = backend; }

PipelineStats Pipeline::Stats() const {
  std::lock_guard lock(impl_->snapshot_mutex);
  return impl_->snapshot;
}

}  // namespace streamrec::apps
