#pragma once

// IsgdModel: incremental SGD matrix factorisation for implicit feedback
// (Vinagre et al. 2014), with sampled negatives, an item bias and a
// recent-items context in the manner of FISM/SVD++ (Kabbur et al. 2013):
//
//   score(u, i) = b_i + (p_u + |C_u|^-1/2 sum_{j in C_u} y_j) . q_i
//
// where C_u are the user's `context_items` most recent items. A positive
// event of weight w pulls score(u, i) toward 1; then `negatives` sampled
// items (never the user's recent items) are pulled toward 0. The context
// lets a user's ranking follow what they did just now, which the prequential
// sweep (bench/results/) showed to matter most on real streams. Randomness comes from a counter-based RNG keyed
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

// Where negatives come from.
enum class NegativeSampling : uint8_t {
  kUniform,     // any item of the catalog, equally likely
  kPopularity,  // the ring of recent positives: popular items more often
};

struct IsgdOptions {
  // Number of latent factors per user and item. Structural: part of the
  // store's fingerprint. Default: 128.
  int dim = 128;
  // SGD step size. Default: 0.15.
  float learning_rate = 0.15f;
  // L2 penalty applied at every step. Default: 0.01.
  float regularization = 0.01f;
  // Sampled negatives per positive event. Default: 16.
  int negatives = 16;
  // Negative sampling distribution. Default: uniform (it let the item bias
  // learn popularity; popularity-proportional negatives scored lower).
  NegativeSampling negative_sampling = NegativeSampling::kUniform;
  // Most recent items of a user forming the context C_u; 0 = plain MF.
  // Default: 10.
  int context_items = 10;
  // The context vectors' step is learning_rate times this. Default: 4.
  float context_learning_rate_scale = 4.f;
  // Seed of every random draw. Default: 42.
  uint64_t seed = 42;
  // Scale of new vectors: uniform in +-init_scale/sqrt(dim), so a new
  // vector's norm is about init_scale/sqrt(3). Default: 1.
  float init_scale = 1.f;
  // Weight of a positive event by type (index = EventType). 0 = ignored.
  // A rating's weight is weight[kRating] * value / rating_scale.
  // Default: impression 0, view 0.5, click 1, add_to_cart 2, purchase 4,
  // rating 1, dislike 0 (dislikes only add the item to the seen set), forget 0.
  std::array<float, schemas::kEventTypeCount> event_weights = {0.f, 0.5f, 1.f, 2.f, 4.f, 1.f, 0.f, 0.f};
  // Ratings are divided by this before weighting. Default: 5.
  float rating_scale = 5.f;
  // Users with fewer events than this are served popularity. Default: 3.
  int cold_start_events = 3;
  // Items per user remembered as "recent": negatives never come from them,
  // and the context is taken from them (so >= context_items). Default: 50.
  int recent_items = 50;
  // Length of the ring of recent positive items that popularity negatives
  // are drawn from. Default: 100000.
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
  std::vector<float> factors;  // q_i: dim values
  std::vector<float> context;  // y_i: dim values
  bool operator==(const ItemRow&) const = default;
};

// The two parts of an item's row, which change apart: a step on the item
// (positive or sampled negative) moves its factors and bias, a step on a
// user whose context holds it moves only its context. state/ stores them in
// two records so that each write carries only the part that changed.
struct ItemParts {
  bool row = true;      // key, bias, count, availability, last activity, factors
  bool context = true;  // the context vector
  bool operator==(const ItemParts&) const = default;
};

// An item changed since the last TakeDirtyItems, and which of its parts.
struct DirtyItem {
  ItemIndex item;
  ItemParts parts;
  bool operator==(const DirtyItem&) const = default;
};

// The ring of recent positive items that popularity negatives are sampled
// from (empty with uniform sampling).
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

  // Read access for batched serving (serving/). The item matrix is
  // NumItems() rows of dim() floats, row-major (so a dim x NumItems
  // column-major matrix); bias and availability are per item.
  int dim() const { return options_.dim; }
  const float* ItemMatrix() const;
  const float* ItemBias() const;
  bool IsAvailable(ItemIndex item) const;
  uint32_t ItemCount(ItemIndex item) const;
  // The user's effective vector p_u + c_u (dim floats) used in every score.
  void EffectiveUserVector(UserIndex user, std::span<float> out) const;
  // The user's items so far, ascending: excluded from their lists.
  std::span<const uint32_t> SeenItems(UserIndex user) const;
  void SetAvailable(ItemIndex item, bool available);

  // Expiry (expiry.h). Stream time of the user's newest event, and of the
  // item's newest positive event; 0 for an index never added.
  int64_t UserLastActive(UserIndex user) const;
  int64_t ItemLastActive(ItemIndex item) const;
  // Moves the item's last activity (ItemRow::last_ts_ms) forward to ts_ms:
  // the Learner stamps an item marked unavailable, so retirement counts from
  // then. A change (the row is rewritten).
  void TouchItem(ItemIndex item, int64_t ts_ms);
  // Retires an item slot: its vectors and bias become zero, it is
  // unavailable for good and leaves users' contexts. The slot itself is not
  // reused: users' seen and recent lists, the sampler ring and published
  // lists hold item indices, and a new item in the slot would inherit them
  // (excluded from lists of users who never saw it). Reusing slots would
  // need a scrub of every user row, so a retired item keeps its slot in the
  // item matrix (dim floats of memory) and frees everything else: its id,
  // its store row. A slot below the index limit without a stored row is
  // retired on load, so a restarted model equals an uninterrupted one.
  // Not a change for the store (the caller deletes the row).
  void RetireItem(ItemIndex item);
  bool IsRetired(ItemIndex item) const;

  uint32_t NumItems() const override;
  uint32_t NumUsers() const;

  // Rows for state/. Export of an index never added returns a default row.
  // An item's parts not asked for are left default (vectors empty).
  UserRow ExportUser(UserIndex user) const;
  ItemRow ExportItem(ItemIndex item, ItemParts parts = {}) const;
  SamplerRow ExportSampler() const;
  void ImportUser(UserIndex user, const UserRow& row);
  void ImportItem(ItemIndex item, const ItemRow& row);
  void ImportSampler(const SamplerRow& row);

  // What changed since the last call, for one WriteBatch per batch.
  std::vector<UserIndex> TakeDirtyUsers();
  std::vector<DirtyItem> TakeDirtyItems();
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
