// Ingest throughput: N synthetic events preloaded into the embedded broker,
// then the pipeline (apps/src/pipeline.h, as `streamrec run`) consumes,
// learns, persists and refreshes until every event is applied. Beside it, in
// the same run and on the same data:
//   consumer  a bare kafka::Consumer with the pipeline's client settings,
//             subscribed to the same topics, draining the same records
//             (once before and twice after the pipeline; the fastest
//             run counts: a group join or rebalance inside the window makes
//             single runs vary several-fold);
//   store     a FeatureStore with the pipeline's options writing the same
//             records in the same batch sizes (the learner's changes per
//             batch of batch.max_events events, with pending users and offsets).
// The pipeline's rate is reported as a ratio to the lesser of the two. The
// same replay also times parsing and learning alone, to show where the
// pipeline's time goes.

#include <algorithm>
#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "e2e/common.h"
#include "e2e/phases.h"
#include "pipeline.h"
#include "model_store.h"
#include "streamrec/online_learner/learner.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/state/feature_store.h"

namespace streamrec::bench {
namespace {

using std::chrono::milliseconds;

struct ConsumeRun {
  double events_per_second = 0;
  double seconds = 0;
  uint64_t records = 0;
};

// Drains `expected` records; the clock runs from the first non-empty poll to
// the last record (the group join before it is not throughput).
Result<ConsumeRun> DrainWithBareConsumer(const apps::Settings& settings, const std::string& group,
                                         uint64_t expected) {
  auto config = PipelineConsumerConfig(settings, group);
  if (!config.ok()) return config.status();
  auto consumer = kafka::Consumer::Create({.config = std::move(*config)});
  if (!consumer.ok()) return consumer.status();
  STREAMREC_RETURN_IF_ERROR(consumer->Subscribe({settings.pipeline.events_topic, settings.pipeline.items_topic}));
  const auto batch = static_cast<size_t>(settings.pipeline.batch_max_events);
  const milliseconds wait(settings.pipeline.batch_max_ms);
  uint64_t records = 0, first_batch = 0, bytes = 0;
  SteadyClock::time_point first;
  const auto deadline = SteadyClock::now() + std::chrono::minutes(10);
  while (records < expected) {
    if (SteadyClock::now() > deadline) return Status::Unavailable("bare consumer: timed out");
    auto messages = consumer->Poll(batch, wait);
    if (!messages.ok()) return messages.status();
    if (messages->empty()) continue;
    if (records == 0) {
      first = SteadyClock::now();
      first_batch = messages->size();
    }
    records += messages->size();
    for (const auto& m : *messages) bytes += m.value ? m.value->size() : 0;
  }
  ConsumeRun run;
  run.seconds = SecondsSince(first);
  run.records = records;
  run.events_per_second = static_cast<double>(records - first_batch) / std::max(run.seconds, 1e-9);
  STREAMREC_RETURN_IF_ERROR(consumer->Close());
  return run;
}

struct PipelineRun {
  double events_per_second = 0;
  double seconds = 0;       // first batch applied -> last event applied
  double finish_seconds = 0;  // Stop() -> Run() returned (owed lists published, flushed)
  apps::PipelineStats at_end_of_events;
  apps::PipelineStats final_stats;
  ProcessMemory memory;
  DirUsage store;
};

Result<PipelineRun> RunPipeline(const apps::Settings& settings, uint64_t expected) {
  auto pipeline = apps::Pipeline::Open(settings);
  if (!pipeline.ok()) return pipeline.status();
  Status run_status;
  std::thread runner([&] { run_status = (*pipeline)->Run(std::nullopt); });

  PipelineRun run;
  uint64_t first_applied = 0;
  SteadyClock::time_point first, last;
  const auto deadline = SteadyClock::now() + std::chrono::minutes(30);
  bool timed_out = false;
  while (true) {
    const apps::PipelineStats stats = (*pipeline)->Stats();
    const auto now = SteadyClock::now();
    if (first_applied == 0 && stats.events_applied > 0) {
      first_applied = stats.events_applied;
      first = now;
    }
    if (stats.events_applied >= expected) {
      last = now;
      run.at_end_of_events = stats;
      break;
    }
    if (now > deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  const auto stop_at = SteadyClock::now();
  (*pipeline)->Stop();
  runner.join();
  run.finish_seconds = SecondsSince(stop_at);
  STREAMREC_RETURN_IF_ERROR(run_status);
  if (timed_out) return Status::Unavailable("pipeline: timed out before applying every event");
  run.final_stats = (*pipeline)->Stats();
  run.memory = ReadProcessMemory();
  run.store = MeasureDir(settings.state.dir);
  run.seconds = std::chrono::duration<double>(last - first).count();
  run.events_per_second = static_cast<double>(expected - first_applied) / std::max(run.seconds, 1e-9);
  return run;
}

struct ReplayRun {
  double parse_events_per_second = 0;
  double learn_events_per_second = 0;
  double store_events_per_second = 0;
  double store_records_per_second = 0;
  uint64_t batches = 0;
  uint64_t user_records = 0;
  uint64_t item_records = 0;
  uint64_t pending_records = 0;
};

// The store reference: the pipeline's per-batch writes without Kafka or
// refreshing, timing parse, learn and write separately.
Result<ReplayRun> ReplayToStore(const apps::Settings& settings, const SyntheticStream& stream, uint64_t events,
                                const std::function<int64_t(uint64_t)>& ts_of, const std::string& dir) {
  auto store = state::FeatureStore::Open(apps::StoreOptionsFor(settings, dir));
  if (!store.ok()) return store.status();
  online_learner::Learner learner(settings.learner.isgd, static_cast<size_t>(settings.pipeline.dedup_window));
  const auto batch_size = static_cast<uint64_t>(settings.pipeline.batch_max_events);
  schemas::ParseOptions parse;
  parse.max_future_skew_ms = settings.pipeline.max_future_skew_ms;
  parse.reference_ts_ms = WallMs();
  ReplayRun run;
  double parse_s = 0, learn_s = 0, write_s = 0;
  std::vector<std::string> bytes;
  std::vector<schemas::Event> parsed;
  for (uint64_t begin = 0; begin < events; begin += batch_size) {
    const uint64_t end = std::min(events, begin + batch_size);
    bytes.clear();
    for (uint64_t k = begin; k < end; ++k) bytes.push_back(schemas::SerializeEvent(stream.EventAt(k, ts_of(k))));
    parsed.clear();
    auto t0 = SteadyClock::now();
    for (const auto& b : bytes) {
      auto result = schemas::ParseEvent(b, parse);
      if (auto* e = std::get_if<schemas::Event>(&result)) parsed.push_back(std::move(*e));
    }
    parse_s += SecondsSince(t0);
    if (parsed.size() != bytes.size()) return Status::Internal("replay: a synthetic event failed to parse");

    t0 = SteadyClock::now();
    std::map<std::string, int64_t> touched;
    for (const auto& e : parsed) {
      learner.Apply(e);
      int64_t& ts = touched[e.user_id];
      ts = std::max(ts, e.ts_ms);
    }
    learn_s += SecondsSince(t0);

    // As Pipeline::Impl::ApplyBatch builds it (collecting is not timed: the
    // reference is RocksDB writing these records).
    state::StoreBatch write;
    state::AppendModelChanges(learner.model(), learner.users(), learner.items(), write);
    for (const auto& [user_id, ts] : touched) write.pending_adds.push_back({user_id, ts});
    write.offsets.push_back({settings.pipeline.events_topic, PartitionId(0), KafkaOffset(static_cast<int64_t>(end))});
    run.user_records += write.users.size();
    run.item_records += write.items.size();
    run.pending_records += write.pending_adds.size();
    t0 = SteadyClock::now();
    auto seq = (*store)->Write(write);
    write_s += SecondsSince(t0);
    if (!seq.ok()) return seq.status();
    ++run.batches;
  }
  const auto n = static_cast<double>(events);
  run.parse_events_per_second = n / parse_s;
  run.learn_events_per_second = n / learn_s;
  run.store_events_per_second = n / write_s;
  run.store_records_per_second =
      static_cast<double>(run.user_records + run.item_records + run.pending_records) / write_s;
  return run;
}

Json StatsJson(const apps::PipelineStats& s) {
  return Json{{"batches", s.batches},       {"events_applied", s.events_applied},
              {"dead_lettered", s.dead_lettered}, {"lists_published", s.lists_published},
              {"lists_acknowledged", s.lists_acknowledged}, {"users_waiting", s.users_waiting},
              {"users", s.users},           {"items", s.items}};
}

}  // namespace

Result<Json> RunIngestBench(const Flags& flags, const std::vector<std::string>& sets) {
  auto events = flags.GetInt("ingest-events", 1000000);
  auto users = flags.GetInt("ingest-users", 100000);
  auto items = flags.GetInt("ingest-items", 10000);
  auto repeats = flags.GetInt("ingest-repeats", 1);
  for (auto* r : {&events, &users, &items, &repeats}) {
    if (!r->ok()) return r->status();
  }
  const auto n = static_cast<uint64_t>(*events);
  // lz4 keeps a synthetic event at ~40-50 bytes on the broker; the mock
  // keeps ~5 MiB per partition, so aim at <= ~2.5 MiB (~60k events) each.
  auto partitions = flags.GetInt("partitions", std::max<int64_t>(1, static_cast<int64_t>((n + 59999) / 60000)));
  if (!partitions.ok()) return partitions.status();
  const SyntheticStream stream({static_cast<uint32_t>(*users), static_cast<uint32_t>(*items), 11});
  // Event times: consecutive milliseconds ending a minute ago, so every
  // event is in the past of its Kafka timestamp.
  const int64_t base_ts = WallMs() - static_cast<int64_t>(n) - 60000;
  const auto ts_of = [base_ts](uint64_t k) { return base_ts + static_cast<int64_t>(k); };

  Json out;
  out["events"] = n;
  out["users"] = *users;
  out["items"] = *items;
  out["partitions"] = *partitions;

  auto broker = StartBroker({{"events", static_cast<int>(*partitions)}, {"items", 1}, {"recommendations", 8},
                             {"events.dlq", 1}});
  if (!broker.ok()) return broker.status();
  const std::string bootstrap = broker->bootstrap_servers();
  Progress("ingest: loading {} events into {} partitions", n, *partitions);
  auto load = BulkLoad(bootstrap, "events", stream, 0, n, ts_of);
  if (!load.ok()) return load.status();
  STREAMREC_RETURN_IF_ERROR(VerifyNothingDropped(bootstrap, "events", static_cast<int>(*partitions), n));
  out["load"] = {{"seconds", load->seconds}, {"mean_event_bytes", static_cast<double>(load->bytes) / n},
                 {"verified_complete", true}};

  std::vector<double> consumer_rates, pipeline_rates, store_rates, parse_rates, learn_rates;
  Json runs = Json::array();
  for (int64_t r = 0; r < *repeats; ++r) {
    TempDir dir("ingest");
    auto settings = MakeSettings(sets, bootstrap, dir.Sub("state"), fmt::format("bench-pipeline-{}", r));
    if (!settings.ok()) return settings.status();
    if (r == 0) out["settings"] = DescribeSettings(*settings);

    Progress("ingest {}: bare consumer", r);
    auto before = DrainWithBareConsumer(*settings, fmt::format("bench-bare-a-{}", r), n);
    if (!before.ok()) return before.status();
    Progress("ingest {}: pipeline", r);
    auto pipeline = RunPipeline(*settings, n);
    if (!pipeline.ok()) return pipeline.status();
    Progress("ingest {}: bare consumer again (twice)", r);
    auto after = DrainWithBareConsumer(*settings, fmt::format("bench-bare-b-{}", r), n);
    if (!after.ok()) return after.status();
    auto again = DrainWithBareConsumer(*settings, fmt::format("bench-bare-c-{}", r), n);
    if (!again.ok()) return again.status();
    Progress("ingest {}: store replay", r);
    auto replay = ReplayToStore(*settings, stream, n, ts_of, dir.Sub("replay"));
    if (!replay.ok()) return replay.status();

    const double consumer =
        std::max({before->events_per_second, after->events_per_second, again->events_per_second});
    const double lesser = std::min(consumer, replay->store_events_per_second);
    consumer_rates.push_back(consumer);
    pipeline_rates.push_back(pipeline->events_per_second);
    store_rates.push_back(replay->store_events_per_second);
    parse_rates.push_back(replay->parse_events_per_second);
    learn_rates.push_back(replay->learn_events_per_second);
    runs.push_back({
        {"pipeline",
         {{"events_per_second", pipeline->events_per_second},
          {"seconds", pipeline->seconds},
          {"finish_seconds", pipeline->finish_seconds},
          {"at_last_event", StatsJson(pipeline->at_end_of_events)},
          {"final", StatsJson(pipeline->final_stats)},
          {"rss_bytes", pipeline->memory.rss},
          {"peak_rss_bytes", pipeline->memory.peak},
          {"store_bytes", pipeline->store.allocated}}},
        {"consumer",
         {{"events_per_second", consumer},
          {"before_pipeline", before->events_per_second},
          {"after_pipeline", {after->events_per_second, again->events_per_second}}}},
        {"store",
         {{"events_per_second", replay->store_events_per_second},
          {"records_per_second", replay->store_records_per_second},
          {"batches", replay->batches},
          {"user_records", replay->user_records},
          {"item_records", replay->item_records},
          {"pending_records", replay->pending_records}}},
        {"parse_events_per_second", replay->parse_events_per_second},
        {"learn_events_per_second", replay->learn_events_per_second},
        {"ratio_to_lesser_reference", pipeline->events_per_second / lesser},
    });
  }
  out["runs"] = runs;
  out["pipeline_events_per_second"] = Summary(pipeline_rates);
  out["consumer_events_per_second"] = Summary(consumer_rates);
  out["store_events_per_second"] = Summary(store_rates);
  out["parse_events_per_second"] = Summary(parse_rates);
  out["learn_events_per_second"] = Summary(learn_rates);
  const double lesser = std::min(Percentile(consumer_rates, 50), Percentile(store_rates, 50));
  out["lesser_reference"] = Percentile(consumer_rates, 50) <= Percentile(store_rates, 50) ? "consumer" : "store";
  out["ratio_to_lesser_reference"] = Percentile(pipeline_rates, 50) / lesser;
  out["bar"] = 0.5;
  return out;
}

}  // namespace streamrec::bench
