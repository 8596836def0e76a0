#include "streamrec/online_learner/isgd_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <Eigen/Core>

#include "streamrec/base/hash.h"

namespace streamrec::online_learner {
namespace {

using VectorMap = Eigen::Map<Eigen::VectorXf, Eigen::Unaligned>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf, Eigen::Unaligned>;
using ConstMatrixMap = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>>;

// Domains keep user, item and negative-sampling streams independent even when
// a user and an item share an id string.
constexpr uint64_t kUserDomain = 0x5553455200000000ULL;
constexpr uint64_t kItemDomain = 0x4954454d00000000ULL;
constexpr uint64_t kSampleDomain = 0x53414d5000000000ULL;

// Items are scored in blocks: one GEMV per block keeps the early-stopping
// ranking scan cache-friendly without scoring the whole catalog.
constexpr uint32_t kScoreBlock = 512;

// A step's weighted error is bounded by what a weight-1 event far from its
// target gives: heavy events (purchase = 4) in bursts otherwise compound
// into overflow at the default step sizes, and the bound keeps a step a step.
constexpr float kMaxStepError = 1.f;

// "No item to leave out of the context."
constexpr uint32_t kNoItem = std::numeric_limits<uint32_t>::max();

float NegativeInfinity() { return -std::numeric_limits<float>::infinity(); }

}  // namespace

struct IsgdModel::Impl {
  struct User {
    uint64_t key = 0;
    uint32_t event_count = 0;
    int64_t last_ts_ms = 0;
    std::vector<uint32_t> recent;  // ring buffer of recent items
    uint32_t recent_head = 0;      // oldest slot once the ring is full
    std::vector<uint32_t> seen;    // ascending
    bool dirty = false;

    bool IsRecent(uint32_t item) const {
      return std::find(recent.begin(), recent.end(), item) != recent.end();
    }
  };
  struct Item {
    uint64_t key = 0;
    uint32_t count = 0;
    bool available = true;
    int64_t last_ts_ms = 0;
    ItemParts dirty{false, false};
    bool retired = false;  // RetireItem: zero vectors, never available again
  };

  explicit Impl(const IsgdOptions& o)
      : options(o), dim(static_cast<uint32_t>(o.dim)), scratch(dim), effective(dim), context(dim), context_grad(dim) {}

  const IsgdOptions options;  // a copy: IsgdModel may move, Impl stays put
  const uint32_t dim;
  std::vector<User> users;
  std::vector<float> user_factors;  // users.size() x dim, row-major
  std::vector<Item> items;
  std::vector<float> item_factors;  // items.size() x dim, row-major (= dim x n column-major)
  std::vector<float> item_bias;
  std::vector<float> item_context;  // items.size() x dim: y_j, an item's pull on users who just had it
  std::vector<uint32_t> sampler_ring;
  uint64_t sampler_pushes = 0;
  bool sampler_dirty = false;
  // dim floats each, so steps never allocate: a step's copy of r, the
  // effective user vector r = p_u + c_u, the context c_u and its gradient.
  std::vector<float> scratch, effective, context, context_grad;
  std::vector<uint32_t> context_items;
  std::vector<uint32_t> dirty_users;
  std::vector<uint32_t> dirty_items;

  float* UserVec(uint32_t u) { return user_factors.data() + size_t{u} * dim; }
  const float* UserVec(uint32_t u) const { return user_factors.data() + size_t{u} * dim; }
  float* ItemVec(uint32_t i) { return item_factors.data() + size_t{i} * dim; }
  float* ContextVec(uint32_t i) { return item_context.data() + size_t{i} * dim; }
  const float* ContextVec(uint32_t i) const { return item_context.data() + size_t{i} * dim; }
  const float* ItemVec(uint32_t i) const { return item_factors.data() + size_t{i} * dim; }

  void InitVector(float* out, uint64_t key, uint64_t domain) const {
    CounterRng rng(Mix64(options.seed ^ domain) ^ key);
    const float scale = options.init_scale / std::sqrt(static_cast<float>(dim));
    for (uint32_t k = 0; k < dim; ++k) {
      out[k] = static_cast<float>(rng.NextDouble() * 2.0 - 1.0) * scale;
    }
  }

  void EnsureUser(uint32_t u) {
    if (u < users.size()) return;
    users.resize(u + 1);
    user_factors.resize(size_t{u + 1} * dim, 0.f);
  }
  void EnsureItem(uint32_t i) {
    if (i < items.size()) return;
    items.resize(i + 1);
    item_factors.resize(size_t{i + 1} * dim, 0.f);
    item_context.resize(size_t{i + 1} * dim, 0.f);
    item_bias.resize(i + 1, 0.f);
  }

  void MarkUser(uint32_t u) {
    if (!users[u].dirty) {
      users[u].dirty = true;
      dirty_users.push_back(u);
    }
  }
  void MarkItem(uint32_t i, ItemParts parts) {
    ItemParts& dirty = items[i].dirty;
    if (!dirty.row && !dirty.context) dirty_items.push_back(i);
    dirty.row |= parts.row;
    dirty.context |= parts.context;
  }
  void MarkItemRow(uint32_t i) { MarkItem(i, {.row = true, .context = false}); }

  float Weight(const Interaction& e) const {
    float w = options.event_weights[static_cast<size_t>(e.type)];
    if (e.type == schemas::EventType::kRating) {
      w *= static_cast<float>(e.value.value_or(options.rating_scale)) / options.rating_scale;
    }
    return w;
  }

  // The user's context items: the most recent ones, newest first, without
  // `skip`. Returns the normalisation of their sum, |C|^-1/2 as in FISM
  // (a plain mean would shrink each item's pull as the context grows).
  float CollectContext(const User& user, uint32_t skip, std::vector<uint32_t>& out) const {
    out.clear();
    const auto want = static_cast<size_t>(std::max(options.context_items, 0));
    const size_t n = user.recent.size();
    for (size_t k = 0; k < n && out.size() < want; ++k) {
      // Newest is just before the head once wrapped, else at the back.
      const size_t slot = (user.recent_head + n - 1 - k) % n;
      // A retired item leaves the context: its y_j is zero and must stay so
      // (no gradient), as it is after a restart, which does not store it.
      const uint32_t j = user.recent[slot];
      if (j != skip && !(j < items.size() && items[j].retired)) out.push_back(j);
    }
    if (out.empty()) return 0.f;
    return 1.f / std::sqrt(static_cast<float>(out.size()));
  }

  // r = p_u + c_u into `out`; returns the context's normalisation.
  float EffectiveUser(uint32_t u, uint32_t skip, float* out, std::vector<uint32_t>& ctx_items) const {
    VectorMap r(out, dim);
    r = ConstVectorMap(UserVec(u), dim);
    const float norm = CollectContext(users[u], skip, ctx_items);
    for (uint32_t j : ctx_items) r += norm * ConstVectorMap(ContextVec(j), dim);
    return norm;
  }

  // One SGD step pulling b_i + r.q_i toward `target` with weight w; r is the
  // effective user vector, moved along with p_u. The context's gradient is
  // accumulated and applied once per event.
  void Step(float* p, float* r_vec, float* grad_c, uint32_t item, float target, float w) {
    VectorMap pu(p, dim);
    VectorMap r(r_vec, dim);
    VectorMap qi(ItemVec(item), dim);
    const float eta = options.learning_rate;
    const float lambda = options.regularization;
    const float err = std::clamp(w * (target - (item_bias[item] + r.dot(qi))), -kMaxStepError, kMaxStepError);
    // Both updates use the vectors from before the step.
    VectorMap r_before(scratch.data(), dim);
    r_before = r;
    r += eta * (err * qi - lambda * pu);
    pu += eta * (err * qi - lambda * pu);
    VectorMap(grad_c, dim) += err * qi;
    qi += eta * (err * r_before - lambda * qi);
    item_bias[item] += eta * (err - lambda * item_bias[item]);
    MarkItemRow(item);
  }

  void Remember(User& user, uint32_t item) {
    const auto cap = static_cast<size_t>(std::max(options.recent_items, 0));
    if (cap == 0) return;
    if (user.recent.size() < cap) {
      user.recent.push_back(item);
    } else {
      user.recent[user.recent_head] = item;
      user.recent_head = static_cast<uint32_t>((user.recent_head + 1) % cap);
    }
  }

  void MarkSeen(User& user, uint32_t item) {
    auto it = std::lower_bound(user.seen.begin(), user.seen.end(), item);
    if (it == user.seen.end() || *it != item) user.seen.insert(it, item);
  }

  void PushSample(uint32_t item) {
    const auto window = static_cast<size_t>(std::max(options.sampler_window, 1));
    if (sampler_ring.size() < window) {
      sampler_ring.push_back(item);
    } else {
      sampler_ring[sampler_pushes % window] = item;
    }
    ++sampler_pushes;
    sampler_dirty = true;
  }

  float ScoreOne(const float* p, uint32_t item) const {
    return item_bias[item] + ConstVectorMap(p, dim).dot(ConstVectorMap(ItemVec(item), dim));
  }

  bool IsCold(uint32_t u) const {
    return u >= users.size() || users[u].event_count < static_cast<uint32_t>(options.cold_start_events);
  }

  // Scores items [begin, end) into out[0, end - begin) for effective user vector r.
  void ScoreRange(uint32_t u, const float* r, uint32_t begin, uint32_t end, float* out) const {
    const uint32_t n = end - begin;
    Eigen::Map<Eigen::VectorXf> scores(out, n);
    if (IsCold(u)) {
      for (uint32_t k = 0; k < n; ++k) scores[k] = static_cast<float>(items[begin + k].count);
    } else {
      ConstMatrixMap q(ItemVec(begin), dim, n);
      scores.noalias() = q.transpose() * ConstVectorMap(r, dim);
      scores += Eigen::Map<const Eigen::VectorXf>(item_bias.data() + begin, n);
    }
    for (uint32_t k = 0; k < n; ++k) {
      if (!items[begin + k].available) out[k] = NegativeInfinity();
    }
  }
};

IsgdModel::IsgdModel(const IsgdOptions& options)
    : options_(options), impl_(std::make_unique<Impl>(options_)) {}
IsgdModel::~IsgdModel() = default;
IsgdModel::IsgdModel(IsgdModel&&) noexcept = default;
IsgdModel& IsgdModel::operator=(IsgdModel&&) noexcept = default;

void IsgdModel::AddUser(UserIndex user, uint64_t key) {
  const uint32_t u = user.value();
  impl_->EnsureUser(u);
  impl_->users[u] = {};
  impl_->users[u].key = key;
  impl_->InitVector(impl_->UserVec(u), key, kUserDomain);
  impl_->MarkUser(u);
}

void IsgdModel::AddItem(ItemIndex item, uint64_t key) {
  const uint32_t i = item.value();
  impl_->EnsureItem(i);
  impl_->items[i] = {};
  impl_->items[i].key = key;
  impl_->item_bias[i] = 0.f;
  impl_->InitVector(impl_->ItemVec(i), key, kItemDomain);
  std::fill_n(impl_->ContextVec(i), impl_->dim, 0.f);
  impl_->MarkItem(i, {.row = true, .context = true});
}

void IsgdModel::Learn(const Interaction& event) {
  Impl& m = *impl_;
  const uint32_t u = event.user.value();
  const uint32_t i = event.item.value();
  m.EnsureUser(u);
  m.EnsureItem(i);
  Impl::User& user = m.users[u];
  user.last_ts_ms = std::max(user.last_ts_ms, event.ts_ms);
  m.MarkSeen(user, i);
  m.MarkUser(u);

  const float w = m.Weight(event);
  if (w > 0.f) {
    float* p = m.UserVec(u);
    float* r = m.effective.data();
    const float context_norm = m.EffectiveUser(u, i, r, m.context_items);
    float* grad_c = m.context_grad.data();
    std::fill_n(grad_c, m.dim, 0.f);
    m.Step(p, r, grad_c, i, 1.f, w);
    // Negatives: uniform over the catalog, or from the ring of recent
    // positives (in proportion to recent popularity); never the user's own
    // recent items. The RNG stream is a function of (seed, user, event
    // count) only.
    CounterRng rng(Mix64(options_.seed ^ kSampleDomain) ^ Mix64(user.key) ^ user.event_count);
    const bool uniform = options_.negative_sampling == NegativeSampling::kUniform;
    const auto num_items = static_cast<uint32_t>(m.items.size());
    const auto ring_size = static_cast<uint32_t>(m.sampler_ring.size());
    const uint32_t pool = uniform ? num_items : ring_size;
    int drawn = 0;
    for (int attempt = 0; pool > 0 && drawn < options_.negatives &&
                          attempt < 4 * options_.negatives;
         ++attempt) {
      const uint32_t j = uniform ? rng.NextBelow(num_items) : m.sampler_ring[rng.NextBelow(ring_size)];
      if (j == i || user.IsRecent(j) || !m.items[j].available) continue;
      m.Step(p, r, grad_c, j, 0.f, 1.f);
      ++drawn;
    }
    // The context vectors take the event's summed gradient once, at a
    // higher rate: each y_j gets only a 1/sqrt(|C|) share of every error.
    const float eta_context = options_.learning_rate * options_.context_learning_rate_scale;
    for (uint32_t j : m.context_items) {
      VectorMap yj(m.ContextVec(j), m.dim);
      yj += eta_context * (context_norm * ConstVectorMap(grad_c, m.dim) - options_.regularization * yj);
      m.MarkItem(j, {.row = false, .context = true});
    }
    m.Remember(user, i);
    if (!uniform) m.PushSample(i);
    Impl::Item& item = m.items[i];
    ++item.count;
    item.last_ts_ms = std::max(item.last_ts_ms, event.ts_ms);
    m.MarkItemRow(i);
  }
  ++user.event_count;
}

void IsgdModel::Score(UserIndex user, int64_t /*ts_ms*/, std::span<float> scores) const {
  const auto n = static_cast<uint32_t>(std::min<size_t>(scores.size(), impl_->items.size()));
  std::vector<float> r(impl_->dim);
  std::vector<uint32_t> ctx;
  if (!impl_->IsCold(user.value())) impl_->EffectiveUser(user.value(), kNoItem, r.data(), ctx);
  impl_->ScoreRange(user.value(), r.data(), 0, n, scores.data());
  std::fill(scores.begin() + n, scores.end(), NegativeInfinity());
}

RankResult IsgdModel::Rank(UserIndex user, ItemIndex target, int64_t /*ts_ms*/, uint32_t limit,
                           const std::unordered_set<uint32_t>& exclude) const {
  const Impl& m = *impl_;
  const uint32_t u = user.value();
  const uint32_t t = target.value();
  const auto n = static_cast<uint32_t>(m.items.size());
  std::vector<float> r(m.dim);
  std::vector<uint32_t> ctx;
  if (!m.IsCold(u)) m.EffectiveUser(u, kNoItem, r.data(), ctx);
  float target_score = 0;
  m.ScoreRange(u, r.data(), t, t + 1, &target_score);

  RankResult result;
  float block[kScoreBlock];
  for (uint32_t begin = 0; begin < n && result.above < limit; begin += kScoreBlock) {
    const uint32_t end = std::min(n, begin + kScoreBlock);
    m.ScoreRange(u, r.data(), begin, end, block);
    for (uint32_t k = 0; k < end - begin; ++k) {
      const uint32_t i = begin + k;
      if (block[k] < target_score || i == t || exclude.contains(i)) continue;
      if (++result.above >= limit) break;
    }
  }
  return result;
}

void IsgdModel::ForgetUser(UserIndex user) {
  const uint32_t u = user.value();
  if (u >= impl_->users.size()) return;
  const uint64_t key = impl_->users[u].key;
  AddUser(user, key);
}

bool IsgdModel::IsCold(UserIndex user) const { return impl_->IsCold(user.value()); }

const float* IsgdModel::ItemMatrix() const { return impl_->item_factors.data(); }
const float* IsgdModel::ItemBias() const { return impl_->item_bias.data(); }

bool IsgdModel::IsAvailable(ItemIndex item) const {
  return item.value() < impl_->items.size() && impl_->items[item.value()].available;
}

uint32_t IsgdModel::ItemCount(ItemIndex item) const {
  return item.value() < impl_->items.size() ? impl_->items[item.value()].count : 0;
}

void IsgdModel::EffectiveUserVector(UserIndex user, std::span<float> out) const {
  std::vector<uint32_t> context;
  if (user.value() < impl_->users.size()) {
    impl_->EffectiveUser(user.value(), kNoItem, out.data(), context);
  } else {
    std::fill(out.begin(), out.end(), 0.f);
  }
}

std::span<const uint32_t> IsgdModel::SeenItems(UserIndex user) const {
  if (user.value() >= impl_->users.size()) return {};
  return impl_->users[user.value()].seen;
}

void IsgdModel::SetAvailable(ItemIndex item, bool available) {
  impl_->EnsureItem(item.value());
  impl_->items[item.value()].available = available;
  impl_->MarkItemRow(item.value());
}

int64_t IsgdModel::UserLastActive(UserIndex user) const {
  return user.value() < impl_->users.size() ? impl_->users[user.value()].last_ts_ms : 0;
}

int64_t IsgdModel::ItemLastActive(ItemIndex item) const {
  return item.value() < impl_->items.size() ? impl_->items[item.value()].last_ts_ms : 0;
}

void IsgdModel::TouchItem(ItemIndex item, int64_t ts_ms) {
  impl_->EnsureItem(item.value());
  Impl::Item& s = impl_->items[item.value()];
  s.last_ts_ms = std::max(s.last_ts_ms, ts_ms);
  impl_->MarkItemRow(item.value());
}

void IsgdModel::RetireItem(ItemIndex item) {
  Impl& m = *impl_;
  const uint32_t i = item.value();
  m.EnsureItem(i);
  const ItemParts dirty = m.items[i].dirty;  // stays in dirty_items until taken
  m.items[i] = {};
  m.items[i].available = false;
  m.items[i].retired = true;
  m.items[i].dirty = dirty;
  m.item_bias[i] = 0.f;
  std::fill_n(m.ItemVec(i), m.dim, 0.f);
  std::fill_n(m.ContextVec(i), m.dim, 0.f);
}

bool IsgdModel::IsRetired(ItemIndex item) const {
  return item.value() < impl_->items.size() && impl_->items[item.value()].retired;
}

uint32_t IsgdModel::NumItems() const { return static_cast<uint32_t>(impl_->items.size()); }
uint32_t IsgdModel::NumUsers() const { return static_cast<uint32_t>(impl_->users.size()); }

UserRow IsgdModel::ExportUser(UserIndex user) const {
  const Impl& m = *impl_;
  const uint32_t u = user.value();
  UserRow row;
  if (u >= m.users.size()) return row;
  const Impl::User& s = m.users[u];
  row.key = s.key;
  row.event_count = s.event_count;
  row.last_ts_ms = s.last_ts_ms;
  row.factors.assign(m.UserVec(u), m.UserVec(u) + m.dim);
  // Oldest first: the ring's head is the oldest slot once it has wrapped.
  row.recent_items.reserve(s.recent.size());
  for (size_t k = 0; k < s.recent.size(); ++k) {
    row.recent_items.push_back(s.recent[(s.recent_head + k) % s.recent.size()]);
  }
  row.seen_items = s.seen;
  return row;
}

ItemRow IsgdModel::ExportItem(ItemIndex item, ItemParts parts) const {
  const Impl& m = *impl_;
  const uint32_t i = item.value();
  ItemRow row;
  if (i >= m.items.size()) return row;
  if (parts.row) {
    const Impl::Item& s = m.items[i];
    row.key = s.key;
    row.bias = m.item_bias[i];
    row.count = s.count;
    row.available = s.available;
    row.last_ts_ms = s.last_ts_ms;
    row.factors.assign(m.ItemVec(i), m.ItemVec(i) + m.dim);
  }
  if (parts.context) row.context.assign(m.ContextVec(i), m.ContextVec(i) + m.dim);
  return row;
}

SamplerRow IsgdModel::ExportSampler() const {
  return {impl_->sampler_ring, impl_->sampler_pushes};
}

void IsgdModel::ImportUser(UserIndex user, const UserRow& row) {
  Impl& m = *impl_;
  const uint32_t u = user.value();
  m.EnsureUser(u);
  Impl::User& s = m.users[u];
  s.key = row.key;
  s.event_count = row.event_count;
  s.last_ts_ms = row.last_ts_ms;
  s.recent = row.recent_items;
  // Exported oldest first; a full ring then continues at slot 0.
  s.recent_head = 0;
  s.seen = row.seen_items;
  std::copy_n(row.factors.begin(), std::min<size_t>(row.factors.size(), m.dim), m.UserVec(u));
}

void IsgdModel::ImportItem(ItemIndex item, const ItemRow& row) {
  Impl& m = *impl_;
  const uint32_t i = item.value();
  m.EnsureItem(i);
  Impl::Item& s = m.items[i];
  s.key = row.key;
  s.count = row.count;
  s.available = row.available;
  s.last_ts_ms = row.last_ts_ms;
  m.item_bias[i] = row.bias;
  std::copy_n(row.factors.begin(), std::min<size_t>(row.factors.size(), m.dim), m.ItemVec(i));
  std::copy_n(row.context.begin(), std::min<size_t>(row.context.size(), m.dim), m.ContextVec(i));
}

void IsgdModel::ImportSampler(const SamplerRow& row) {
  impl_->sampler_ring = row.ring;
  impl_->sampler_pushes = row.pushes;
}

std::vector<UserIndex> IsgdModel::TakeDirtyUsers() {
  std::vector<UserIndex> out;
  out.reserve(impl_->dirty_users.size());
  for (uint32_t u : impl_->dirty_users) {
    impl_->users[u].dirty = false;
    out.emplace_back(u);
  }
  impl_->dirty_users.clear();
  return out;
}

std::vector<DirtyItem> IsgdModel::TakeDirtyItems() {
  std::vector<DirtyItem> out;
  out.reserve(impl_->dirty_items.size());
  for (uint32_t i : impl_->dirty_items) {
    out.push_back({ItemIndex(i), std::exchange(impl_->items[i].dirty, ItemParts{false, false})});
  }
  impl_->dirty_items.clear();
  return out;
}

bool IsgdModel::TakeSamplerDirty() { return std::exchange(impl_->sampler_dirty, false); }

}  // namespace streamrec::online_learner
