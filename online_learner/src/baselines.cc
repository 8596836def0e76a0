#include "streamrec/online_learner/baselines.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <vector>

namespace streamrec::online_learner {
namespace {

// Baselines count every event that expresses interest; impressions, dislikes
// and forgets are not interest.
bool IsInterest(schemas::EventType type) {
  using schemas::EventType;
  return type != EventType::kImpression && type != EventType::kDislike && type != EventType::kForget;
}

class Popularity final : public Recommender {
 public:
  std::string_view Name() const override { return "popularity"; }
  void AddUser(UserIndex, uint64_t) override {}
  void AddItem(ItemIndex item, uint64_t) override { Grow(item.value()); }
  void Learn(const Interaction& e) override {
    if (!IsInterest(e.type)) return;
    Grow(e.item.value());
    counts_[e.item.value()] += 1.f;
  }
  void Score(UserIndex, int64_t, std::span<float> scores) const override {
    const size_t n = std::min(scores.size(), counts_.size());
    std::copy_n(counts_.begin(), n, scores.begin());
    std::fill(scores.begin() + n, scores.end(), 0.f);
  }
  void ForgetUser(UserIndex) override {}
  uint32_t NumItems() const override { return static_cast<uint32_t>(counts_.size()); }

 private:
  void Grow(uint32_t i) {
    if (i >= counts_.size()) counts_.resize(i + 1, 0.f);
  }
  std::vector<float> counts_;
};

// Exponentially decayed counts in event time. Each item keeps its value as of
// its own last update; scoring brings all to the ranking's time.
class PopularityDecay final : public Recommender {
 public:
  explicit PopularityDecay(const PopularityDecayOptions& options)
      : rate_per_ms_(std::log(2.0) / static_cast<double>(std::max<int64_t>(options.half_life_ms, 1))) {}
  std::string_view Name() const override { return "popularity-decay"; }
  void AddUser(UserIndex, uint64_t) override {}
  void AddItem(ItemIndex item, uint64_t) override { Grow(item.value()); }
  void Learn(const Interaction& e) override {
    if (!IsInterest(e.type)) return;
    const uint32_t i = e.item.value();
    Grow(i);
    values_[i] = ValueAt(i, e.ts_ms) + 1.0;
    updated_ms_[i] = std::max(updated_ms_[i], e.ts_ms);
  }
  void Score(UserIndex, int64_t ts_ms, std::span<float> scores) const override {
    const size_t n = std::min(scores.size(), values_.size());
    for (size_t i = 0; i < n; ++i) scores[i] = static_cast<float>(ValueAt(static_cast<uint32_t>(i), ts_ms));
    std::fill(scores.begin() + n, scores.end(), 0.f);
  }
  void ForgetUser(UserIndex) override {}
  uint32_t NumItems() const override { return static_cast<uint32_t>(values_.size()); }

 private:
  double ValueAt(uint32_t i, int64_t ts_ms) const {
    // Events may arrive slightly out of order: never grow a value backwards.
    const double age = static_cast<double>(std::max<int64_t>(ts_ms - updated_ms_[i], 0));
    return values_[i] * std::exp(-rate_per_ms_ * age);
  }
  void Grow(uint32_t i) {
    if (i >= values_.size()) {
      values_.resize(i + 1, 0.0);
      updated_ms_.resize(i + 1, 0);
    }
  }
  double rate_per_ms_;
  std::vector<double> values_;
  std::vector<int64_t> updated_ms_;
};

// Online item-to-item kNN: two items co-occur when one user interacts with
// both within `history` events; similarity is cosine over co-occurrence
// counts. A user's ranking sums the neighbours of their `query_items` most
// recent items; a tiny popularity term breaks ties for users without
// neighbours (otherwise every item would tie and nothing could hit).
class ItemKnn final : public Recommender {
 public:
  explicit ItemKnn(const ItemKnnOptions& options) : options_(options) {}
  std::string_view Name() const override { return "item-knn"; }
  void AddUser(UserIndex user, uint64_t) override { GrowUser(user.value()); }
  void AddItem(ItemIndex item, uint64_t) override { GrowItem(item.value()); }
  void Learn(const Interaction& e) override {
    if (!IsInterest(e.type)) return;
    const uint32_t u = e.user.value();
    const uint32_t i = e.item.value();
    GrowUser(u);
    GrowItem(i);
    auto& history = history_[u];
    for (uint32_t j : history) {
      if (j == i) continue;
      neighbours_[i].Add(j);
      neighbours_[j].Add(i);
    }
    counts_[i] += 1.f;
    inverse_sqrt_counts_[i] = 1.f / std::sqrt(counts_[i]);
    max_count_ = std::max(max_count_, counts_[i]);
    if (std::find(history.begin(), history.end(), i) == history.end()) {
      history.push_back(i);
      if (history.size() > static_cast<size_t>(std::max(options_.history, 1))) history.pop_front();
    }
  }
  void Score(UserIndex user, int64_t, std::span<float> scores) const override {
    const size_t n = std::min(scores.size(), counts_.size());
    // Below any real similarity (which is >= 1/count for one co-occurrence).
    const float tie_break = 1e-3f / (max_count_ * max_count_);
    for (size_t i = 0; i < n; ++i) scores[i] = counts_[i] * tie_break;
    std::fill(scores.begin() + n, scores.end(), 0.f);
    const uint32_t u = user.value();
    if (u >= history_.size()) return;
    const auto& history = history_[u];
    const size_t take = std::min(history.size(), static_cast<size_t>(std::max(options_.query_items, 0)));
    for (size_t k = history.size() - take; k < history.size(); ++k) {
      const uint32_t j = history[k];
      const Neighbours& nb = neighbours_[j];
      const float scale = inverse_sqrt_counts_[j];
      for (size_t s = 0; s < nb.ids.size(); ++s) {
        const uint32_t i = nb.ids[s];
        if (i < n) scores[i] += nb.counts[s] * scale * inverse_sqrt_counts_[i];
      }
    }
  }
  void ForgetUser(UserIndex user) override {
    if (user.value() < history_.size()) history_[user.value()].clear();
  }
  uint32_t NumItems() const override { return static_cast<uint32_t>(counts_.size()); }

 private:
  // An item's co-occurrence counts, stored contiguously so scoring streams
  // through them; the map only finds an existing neighbour's slot.
  struct Neighbours {
    std::vector<uint32_t> ids;
    std::vector<float> counts;
    std::unordered_map<uint32_t, uint32_t> slot;
    void Add(uint32_t item) {
      auto [it, inserted] = slot.try_emplace(item, static_cast<uint32_t>(ids.size()));
      if (inserted) {
        ids.push_back(item);
        counts.push_back(1.f);
      } else {
        counts[it->second] += 1.f;
      }
    }
  };
  void GrowUser(uint32_t u) {
    if (u >= history_.size()) history_.resize(u + 1);
  }
  void GrowItem(uint32_t i) {
    if (i >= counts_.size()) {
      counts_.resize(i + 1, 0.f);
      inverse_sqrt_counts_.resize(i + 1, 0.f);
      neighbours_.resize(i + 1);
    }
  }
  ItemKnnOptions options_;
  std::vector<std::deque<uint32_t>> history_;
  std::vector<float> counts_;
  std::vector<float> inverse_sqrt_counts_;
  float max_count_ = 1.f;
  std::vector<Neighbours> neighbours_;
};

}  // namespace

std::unique_ptr<Recommender> MakePopularity() { return std::make_unique<Popularity>(); }
std::unique_ptr<Recommender> MakePopularityDecay(const PopularityDecayOptions& options) {
  return std::make_unique<PopularityDecay>(options);
}
std::unique_ptr<Recommender> MakeItemKnn(const ItemKnnOptions& options) {
  return std::make_unique<ItemKnn>(options);
}

}  // namespace streamrec::online_learner
