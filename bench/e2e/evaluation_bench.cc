// Evaluation speed against its memory bound: prequential evaluation
// (online_learner::Evaluate, ISGD at dim 64, exact ranking of every scored
// event included) on MovieLens (when --eval-input is given) and on a
// synthetic stream, beside one memory pass over the item matrix per event,
// measured in the same process: the sum of every float of a matrix of as
// many items as the evaluation knew on average when ranking (and, for
// reference, of the final catalog). Bar: evaluation time per event within
// 2x of that pass.

#include <algorithm>
#include <unordered_set>

#include <Eigen/Core>
#include <fmt/format.h>

#include "e2e/common.h"
#include "e2e/phases.h"
#include "streamrec/base/hash.h"
#include "streamrec/online_learner/evaluation.h"
#include "streamrec/schemas/log_reader.h"
#include "streamrec/serving/approximate_index.h"
#include "streamrec/serving/item_snapshot.h"
#include "streamrec/serving/top_n.h"

namespace streamrec::bench {
namespace {

constexpr int kDim = 64;

// Median seconds of one sum over items x kDim floats.
double MemoryPassSeconds(uint64_t items) {
  std::vector<float> matrix(std::max<uint64_t>(items, 1) * kDim);
  CounterRng rng(17);
  for (float& v : matrix) v = static_cast<float>(rng.NextDouble());
  Eigen::Map<const Eigen::VectorXf> all(matrix.data(), static_cast<Eigen::Index>(matrix.size()));
  std::vector<double> times;
  volatile float sink = 0;
  const auto start = SteadyClock::now();
  while (times.size() < 20 || (SecondsSince(start) < 0.5 && times.size() < 100000)) {
    const auto t0 = SteadyClock::now();
    sink = sink + all.sum();
    times.push_back(SecondsSince(t0));
  }
  return Percentile(times, 50);
}

// recall@10 of each approximate serving.index (sq8, hnsw) against exact
// lists, for every warm user of the trained model, at several
// index_candidates: the evidence for that key's default on real data (the
// freshness bench checks recall only on its synthetic stream).
Json IndexRecall(const online_learner::IsgdModel& model, const online_learner::IdMap& items) {
  constexpr uint32_t kTop = 10;
  serving::ItemSnapshot snapshot(model.dim(), /*quantized=*/true);
  for (uint32_t i = 0; i < model.NumItems(); ++i) {
    const online_learner::ItemRow row = model.ExportItem(ItemIndex(i));
    snapshot.Apply({ItemIndex(i), std::string(items.Name(i)), row.bias, row.count, row.available, row.factors});
  }
  const serving::ItemVectors vectors{snapshot.ItemMatrix(), snapshot.ItemBias(), snapshot.NumItems(), snapshot.dim()};
  serving::ApproximateIndex hnsw;
  hnsw.Build(vectors);
  const auto dim = static_cast<size_t>(model.dim());
  std::vector<serving::UserQuery> queries;
  std::vector<float> user_vectors(size_t{model.NumUsers()} * dim);
  for (uint32_t u = 0; u < model.NumUsers(); ++u) {
    const UserIndex user(u);
    if (model.IsCold(user)) continue;
    const std::span<float> vector(user_vectors.data() + size_t{u} * dim, dim);
    model.EffectiveUserVector(user, vector);
    queries.push_back({user, false, vector, model.SeenItems(user)});
  }
  const std::vector<serving::UserList> exact = serving::TopN(snapshot, queries, kTop);
  const auto recall = [&](const std::vector<std::vector<serving::ScoredIndex>>& lists) {
    serving::ListOverlap overlap;
    for (size_t k = 0; k < exact.size(); ++k) overlap.Add(exact[k].items, lists[k]);
    return overlap.recall();
  };
  Json out{{"warm_users", queries.size()}};
  for (uint32_t candidates : {10U, 25U, 50U, 100U}) {
    std::vector<std::vector<serving::ScoredIndex>> sq8_lists, hnsw_lists;
    for (serving::UserList& list : serving::TopNQuantized(snapshot, queries, kTop, candidates)) {
      sq8_lists.push_back(std::move(list.items));
    }
    for (const serving::UserQuery& q : queries) {
      std::vector<uint32_t> found = hnsw.Candidates(q.vector, candidates);
      std::erase_if(found, [&](uint32_t i) { return std::binary_search(q.seen.begin(), q.seen.end(), i); });
      hnsw_lists.push_back(serving::RescoreTopN(vectors, q.vector, found, kTop));
    }
    out["sq8"][fmt::format("candidates_{}", candidates)] = recall(sq8_lists);
    out["hnsw"][fmt::format("candidates_{}", candidates)] = recall(hnsw_lists);
  }
  return out;
}

Result<Json> EvaluateStream(const std::string& name, const std::vector<schemas::Event>& events,
                            const apps::Settings& settings) {
  online_learner::IsgdOptions options = settings.learner.isgd;
  options.dim = kDim;
  online_learner::IsgdModel model(options);
  online_learner::IdMap users, items;
  online_learner::EvaluationOptions eval;
  const auto start = SteadyClock::now();
  const online_learner::EvaluationReport report = online_learner::Evaluate(events, {&model}, eval, users, items);
  const double wall_s = SecondsSince(start);

  // Items known when each event is ranked (the catalog grows with the stream).
  online_learner::IdMap seen_items;
  double known_sum = 0;
  for (const auto& e : events) {
    if (!e.item_id.empty()) seen_items.Intern(e.item_id);
    known_sum += seen_items.size();
  }
  const auto mean_known = static_cast<uint64_t>(known_sum / std::max<size_t>(events.size(), 1));
  const double pass_mean = MemoryPassSeconds(mean_known);
  const double pass_final = MemoryPassSeconds(items.size());
  const auto& isgd = report.models.front();
  const double per_event = 1.0 / isgd.events_per_second;
  return Json{{"stream", name},
              {"events", report.events},
              {"scored_events", report.scored_events},
              {"items", items.size()},
              {"mean_items_known", mean_known},
              {"recall_at_10", isgd.recall},
              {"events_per_second", isgd.events_per_second},
              {"wall_events_per_second", static_cast<double>(report.events) / wall_s},
              {"us_per_event", per_event * 1e6},
              {"memory_pass_us_mean_catalog", pass_mean * 1e6},
              {"memory_pass_us_final_catalog", pass_final * 1e6},
              {"ratio_to_memory_pass", per_event / pass_mean},
              {"bar", 2.0},
              {"index_recall_at_10", IndexRecall(model, items)},
              {"index_candidates", settings.serving.index_candidates}};
}

}  // namespace

Result<Json> RunEvaluationBench(const Flags& flags, const std::vector<std::string>& sets) {
  auto synthetic_events = flags.GetInt("eval-synthetic-events", 200000);
  auto synthetic_items = flags.GetInt("eval-synthetic-items", 20000);
  if (!synthetic_events.ok()) return synthetic_events.status();
  if (!synthetic_items.ok()) return synthetic_items.status();
  TempDir dir("eval");
  auto settings = MakeSettings(sets, "127.0.0.1:9", dir.Sub("unused"), "unused");
  if (!settings.ok()) return settings.status();
  Json out;
  out["dim"] = kDim;
  Json streams = Json::array();
  if (auto input = flags.Get("eval-input")) {
    Progress("evaluation: {}", *input);
    auto log = schemas::ReadEventLog(*input, schemas::LogFormat::kMovieLensCsv);
    if (!log.ok()) return log.status();
    schemas::SortByTime(log->events);
    auto r = EvaluateStream("movielens:" + *input, log->events, *settings);
    if (!r.ok()) return r.status();
    streams.push_back(*r);
  }
  {
    Progress("evaluation: synthetic, {} events over {} items", *synthetic_events, *synthetic_items);
    // A few events per user, so rankings are personal: users = events / 20.
    const auto n = static_cast<uint64_t>(*synthetic_events);
    const SyntheticStream stream(
        {static_cast<uint32_t>(std::max<uint64_t>(n / 20, 1)), static_cast<uint32_t>(*synthetic_items), 41});
    std::vector<schemas::Event> events;
    events.reserve(n);
    for (uint64_t k = 0; k < n; ++k) {
      events.push_back(stream.EventAt(k, 1700000000000 + static_cast<int64_t>(k)));
      events.back().event_id.reset();
    }
    auto r = EvaluateStream(fmt::format("synthetic:{}x{}", n, *synthetic_items), events, *settings);
    if (!r.ok()) return r.status();
    streams.push_back(*r);
  }
  out["streams"] = streams;
  return out;
}

}  // namespace streamrec::bench
