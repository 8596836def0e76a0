#pragma once

// IsgdModel: incremental SGD matrix factorisation for implicit feedback
// (Vinagre et al. 2014, with sampled negatives and an item bias).
//
//   score(u, i) = b_i + p_u . q_i
//
// A positive event of weight w pulls score(u, i) toward 1; then `negatives`
// items drawn from the recent-popularity ring (skipping the user's recent
// items) are pulled toward 0. Randomness comes from a counter-based RNG keyed
// by (seed, user key, that user's event count), and new vectors from a hash
// of the id, so the same valid events give bitwise-identical vectors.
//
// Pure memory: no I/O. state/ serialises it through the Row types below.
// Thread-safety: none; one thread (the learner) owns it. Readers on other
// threads use a snapshot (serving/).

#include <array>
#include <cstdint>
#include <span>
#include <unordered_set>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/online_learner/interaction.h"
#include "streamrec/online_learner/recommender.h"

namespace streamrec::online_learner {

struct IsgdOptions {
  // Number of latent factors per user and item. Structural: part of the
  // store's fingerprint. Default: 64.
  int dim = 64;
  // SGD step size. Default: 0.05.
  float learning_rate = 0.05f;
  // L2 penalty applied at every step. Default: 0.01.
  float regularization = 0.01f;
  // Sampled negatives per positive event. Default: 4.
  int negatives = 4;
  // Seed of every random draw. Default: 42.
  uint64_t seed = 42;
  // Standard deviation-like scale of new vectors (uniform in +-scale/sqrt(dim)).
  // Default: 0.1.
  float init_scale = 0.1f;
  // Weight of a positive event by type (index = EventType). 0 = ignored.
  // A rating's weight is weight[kRating] * value / rating_scale.
  // Default: impression 0, view 0.5, click 1, add_to_cart 2, purchase 4,
  // rating 1, dislike 0 (dislikes only add the item to the seen set), forget 0.
  std::array<float, schemas::kEventTypeCount> event_weights = {0.f, 0.5f, 1.f, 2.f, 4.f, 1.f, 0.f, 0.f};
  // Ratings are divided by this before weighting. Default: 5.
  float rating_scale = 5.f;
  // Users with fewer events than this are served popularity. Default: 3.
  int cold_start_events = 3;
  // Items per user remembered as "recent": negatives never come from them.
  // Default: 50.
  int recent_items = 50;
  // Length of the ring of recent positive items that negatives are drawn
  // from (so a draw follows recent popularity). Default: 100000.
  int sampler_window = 100000;
};

// A user's learnable state, as state/ stores it.
struct UserRow {
  uint64_t key = 0;
  uint32_t event_count = 0;
  int64_t last_ts_ms = 0;
  std::vector<float> factors;         // dim values
  std::vector<uint32_t> recent_items; // oldest first, at most recent_items
  std::vector<uint32_t> seen_items;   // ascending, no duplicates
  bool operator==(const UserRow&) const = default;
};

struct ItemRow {
  uint64_t key = 0;
  float bias = 0;
  uint32_t count = 0;       // positive events seen
  bool available = true;
  int64_t last_ts_ms = 0;
  std::vector<float> factors;  // dim values
  bool operator==(const ItemRow&) const = default;
};

// The ring of recent positive items that negatives are sampled from.
struct SamplerRow {
  std::vector<uint32_t> ring;  // at most sampler_window items
  uint64_t pushes = 0;         // total items ever pushed; next slot = pushes % window
  bool operator==(const SamplerRow&) const = default;
};

class IsgdModel final : public Recommender {
 public:
  explicit IsgdModel(const IsgdOptions& options);

  const IsgdOptions& options() const { return options_; }
  std::string_view Name() const override { return "isgd"; }

  void AddUser(UserIndex user, uint64_t key) override;
  void AddItem(ItemIndex item, uint64_t key) override;
  void Learn(const Interaction& event) override;
  void Score(UserIndex user, int64_t ts_ms, std::span<float> scores) const override;
  RankResult Rank(UserIndex user, ItemIndex target, int64_t ts_ms, uint32_t limit,
                  const std::unordered_set<uint32_t>& exclude) const override;
  void ForgetUser(UserIndex user) override;

  // True while the user has too few events for personal scores.
  bool IsCold(UserIndex user) const;
  void SetAvailable(ItemIndex item, bool available);

  uint32_t NumItems() const override;
  uint32_t NumUsers() const;

  // Rows for state/. Export of an index never added returns a default row.
  UserRow ExportUser(UserIndex user) const;
  ItemRow ExportItem(ItemIndex item) const;
  SamplerRow ExportSampler() const;
  void ImportUser(UserIndex user, const UserRow& row);
  void ImportItem(ItemIndex item, const ItemRow& row);
  void ImportSampler(const SamplerRow& row);

  // What changed since the last call, for one WriteBatch per batch.
  std::vector<UserIndex> TakeDirtyUsers();
  std::vector<ItemIndex> TakeDirtyItems();
  bool TakeSamplerDirty();

 private:
  struct Impl;
  IsgdOptions options_;
  std::unique_ptr<Impl> impl_;

 public:
  ~IsgdModel() override;
  IsgdModel(IsgdModel&&) noexcept;
  IsgdModel& operator=(IsgdModel&&) noexcept;
};

}  // namespace streamrec::online_learner
