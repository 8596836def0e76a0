#include "streamrec/online_learner/evaluation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "streamrec/base/hash.h"

namespace streamrec::online_learner {
namespace {

using Clock = std::chrono::steady_clock;

struct ModelTally {
  uint64_t hits = 0;
  double ndcg = 0;
  double mrr = 0;
  double seconds = 0;
  uint64_t window_hits = 0;
  std::unordered_set<uint32_t> listed;  // items seen in sampled lists
  double popularity_percentile_sum = 0;
  uint64_t listed_count = 0;
  std::vector<double> curve;
};

// The N best items for `user` outside `exclude` (ties broken by index).
std::vector<uint32_t> TopN(const Recommender& model, UserIndex user, int64_t ts_ms, uint32_t n,
                           uint32_t num_items, const std::unordered_set<uint32_t>& exclude,
                           std::vector<float>& scores) {
  scores.assign(num_items, 0.f);
  model.Score(user, ts_ms, scores);
  std::vector<uint32_t> candidates;
  candidates.reserve(num_items);
  for (uint32_t i = 0; i < num_items; ++i) {
    if (!exclude.contains(i) && std::isfinite(scores[i])) candidates.push_back(i);
  }
  const size_t k = std::min<size_t>(n, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k), candidates.end(),
                    [&](uint32_t a, uint32_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; });
  candidates.resize(k);
  return candidates;
}

// Popularity percentile of every item: the share of other items with a
// strictly smaller count (1 = the most popular).
std::vector<double> PopularityPercentiles(const std::vector<uint32_t>& counts) {
  std::vector<uint32_t> sorted(counts);
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> out(counts.size(), 0.0);
  const double denom = counts.size() > 1 ? static_cast<double>(counts.size() - 1) : 1.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    auto below = std::lower_bound(sorted.begin(), sorted.end(), counts[i]) - sorted.begin();
    out[i] = static_cast<double>(below) / denom;
  }
  return out;
}

}  // namespace

std::vector<std::string_view> RecommenderNames() {
  return {"isgd", "popularity", "popularity-decay", "item-knn"};
}

Result<std::unique_ptr<Recommender>> MakeRecommender(std::string_view name, const LearnerOptions& options) {
  if (name == "isgd") return std::unique_ptr<Recommender>(std::make_unique<IsgdModel>(options.isgd));
  if (name == "popularity") return MakePopularity();
  if (name == "popularity-decay") return MakePopularityDecay(options.popularity_decay);
  if (name == "item-knn") return MakeItemKnn(options.item_knn);
  std::string known;
  for (auto n : RecommenderNames()) known += (known.empty() ? "" : ", ") + std::string(n);
  return Status::InvalidArgument("unknown model '" + std::string(name) + "'; known models: " + known);
}

EvaluationReport Evaluate(const std::vector<schemas::Event>& events, const std::vector<Recommender*>& models,
                          const EvaluationOptions& options, IdMap& users, IdMap& items) {
  EvaluationReport report;
  report.top_n = options.top_n;
  report.curve_window = std::max<uint32_t>(options.curve_window, 1);
  std::vector<ModelTally> tallies(models.size());
  std::vector<std::unordered_set<uint32_t>> seen;  // per user: items interacted with
  std::vector<uint32_t> item_counts;               // interest events per item, for popularity bias
  std::vector<float> scores;
  DedupWindow dedup(options.dedup_window);
  // Expiry as the Learner applies it: same clock, same rule, same order
  // (scan before the event), the newest event ts of each user kept here
  // because the baselines keep none.
  ExpiryClock expiry(options.expiry);
  std::vector<int64_t> last_active;  // per user index
  auto forget = [&](uint32_t u, std::string_view id) {
    for (Recommender* model : models) model->ForgetUser(UserIndex(u));
    seen[u].clear();
    users.Erase(id);
  };

  for (const schemas::Event& event : events) {
    ++report.events;
    if (event.event_id && !dedup.Admit(*event.event_id)) continue;
    if (expiry.Advance(event.ts_ms) && options.expiry.user_ttl_ms > 0) {
      for (uint32_t u = 0; u < users.size(); ++u) {
        const std::string_view id = users.Name(u);
        if (id.empty() || !expiry.UserDue(u < last_active.size() ? last_active[u] : 0)) continue;
        forget(u, std::string(id));
        ++report.expired_users;
      }
    }
    if (event.type == schemas::EventType::kForget) {
      if (auto u = users.Find(event.user_id)) forget(*u, event.user_id);
      continue;
    }
    bool created = false;
    const uint32_t u = users.Intern(event.user_id, &created);
    const uint64_t user_key = HashBytes(event.user_id);
    if (created) {
      seen.resize(users.size());
      last_active.resize(users.size(), 0);
      last_active[u] = 0;  // as IsgdModel::AddUser; a reused index starts over
      for (Recommender* model : models) model->AddUser(UserIndex(u), user_key);
    }
    last_active[u] = std::max(last_active[u], event.ts_ms);
    const uint32_t i = items.Intern(event.item_id, &created);
    const uint64_t item_key = HashBytes(event.item_id);
    if (created) {
      item_counts.resize(items.size(), 0);
      for (Recommender* model : models) model->AddItem(ItemIndex(i), item_key);
    }

    // Score only first interactions that express interest.
    const bool scored = !seen[u].contains(i) && event.type != schemas::EventType::kImpression &&
                        event.type != schemas::EventType::kDislike;
    if (scored) {
      ++report.scored_events;
      const bool sample_lists = options.list_sample_every > 0 && report.scored_events % options.list_sample_every == 0;
      std::vector<double> percentiles;
      if (sample_lists) percentiles = PopularityPercentiles(item_counts);
      for (size_t m = 0; m < models.size(); ++m) {
        ModelTally& tally = tallies[m];
        const auto start = Clock::now();
        const RankResult rank = models[m]->Rank(UserIndex(u), ItemIndex(i), event.ts_ms, options.top_n, seen[u]);
        tally.seconds += std::chrono::duration<double>(Clock::now() - start).count();
        if (rank.above < options.top_n) {
          ++tally.hits;
          ++tally.window_hits;
          tally.ndcg += 1.0 / std::log2(static_cast<double>(rank.above) + 2.0);
          tally.mrr += 1.0 / (static_cast<double>(rank.above) + 1.0);
        }
        if (report.scored_events % report.curve_window == 0) {
          tally.curve.push_back(static_cast<double>(tally.window_hits) / report.curve_window);
          tally.window_hits = 0;
        }
        if (sample_lists) {
          for (uint32_t item : TopN(*models[m], UserIndex(u), event.ts_ms, options.top_n, items.size(), seen[u], scores)) {
            tally.listed.insert(item);
            tally.popularity_percentile_sum += percentiles[item];
            ++tally.listed_count;
          }
        }
      }
    }

    const online_learner::Interaction interaction{UserIndex(u), ItemIndex(i), user_key, item_key,
                                                  event.type, event.ts_ms, event.value};
    for (size_t m = 0; m < models.size(); ++m) {
      const auto start = Clock::now();
      models[m]->Learn(interaction);
      tallies[m].seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
    seen[u].insert(i);
    if (event.type != schemas::EventType::kImpression && event.type != schemas::EventType::kDislike) {
      ++item_counts[i];
    }
  }

  report.stream_time_ms = expiry.stream_time_ms();
  const double scored = std::max<double>(static_cast<double>(report.scored_events), 1.0);
  for (size_t m = 0; m < models.size(); ++m) {
    const ModelTally& t = tallies[m];
    ModelReport r;
    r.name = std::string(models[m]->Name());
    r.recall = static_cast<double>(t.hits) / scored;
    r.ndcg = t.ndcg / scored;
    r.mrr = t.mrr / scored;
    r.coverage = items.size() ? static_cast<double>(t.listed.size()) / items.size() : 0.0;
    r.popularity_bias = t.listed_count ? t.popularity_percentile_sum / static_cast<double>(t.listed_count) : 0.0;
    r.events_per_second = t.seconds > 0 ? static_cast<double>(report.events) / t.seconds : 0.0;
    r.recall_curve = t.curve;
    report.models.push_back(std::move(r));
  }
  return report;
}

}  // namespace streamrec::online_learner
