#pragma once

// Shared fixtures of the micro benchmarks: warm ISGD models of a given shape,
// built once per shape and kept for the process (building a 1M-item model
// takes seconds; Google Benchmark calls a benchmark function many times).

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "streamrec/base/hash.h"
#include "streamrec/online_learner/isgd_model.h"
#include "streamrec/serving/approximate_index.h"

namespace streamrec::bench {

struct ModelShape {
  uint32_t items = 10000;
  uint32_t users = 1000;
  int dim = 64;
  int negatives = 16;
  auto operator<=>(const ModelShape&) const = default;
};

// `warm_events` positive clicks per user (>= cold_start_events, so every
// user gets personal scores), items drawn uniformly.
inline online_learner::IsgdModel BuildWarmModel(const ModelShape& shape, int warm_events = 5) {
  online_learner::IsgdOptions options;
  options.dim = shape.dim;
  options.negatives = shape.negatives;
  online_learner::IsgdModel model(options);
  for (uint32_t i = 0; i < shape.items; ++i) model.AddItem(ItemIndex(i), Mix64(0x1000000000ULL + i));
  for (uint32_t u = 0; u < shape.users; ++u) model.AddUser(UserIndex(u), Mix64(u));
  CounterRng rng(7);
  int64_t ts = 1732350000000;
  for (int round = 0; round < warm_events; ++round) {
    for (uint32_t u = 0; u < shape.users; ++u) {
      const uint32_t i = rng.NextBelow(shape.items);
      model.Learn({UserIndex(u), ItemIndex(i), Mix64(u), Mix64(0x1000000000ULL + i), schemas::EventType::kClick,
                   ts++, std::nullopt});
    }
  }
  model.TakeDirtyUsers();
  model.TakeDirtyItems();
  return model;
}

// One model per shape for the process's lifetime.
inline online_learner::IsgdModel& WarmModel(const ModelShape& shape) {
  static std::map<ModelShape, std::unique_ptr<online_learner::IsgdModel>> cache;
  auto& slot = cache[shape];
  if (!slot) slot = std::make_unique<online_learner::IsgdModel>(BuildWarmModel(shape));
  return *slot;
}

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Item and user vectors without a model. "learned-like" is what trained
// factor models look like: rank-16 structure with 64 clusters of taste, small
// full-rank noise, a log-normal spread of item norms and N(0, 0.3) biases;
// users come from the same clusters. "uniform" is i.i.d. Gaussian vectors.
struct Catalog {
  int dim = 0;
  bool uniform = false;
  RowMajor factors;
  Eigen::VectorXf bias;
  RowMajor basis;    // rank x dim
  RowMajor centers;  // clusters x rank
  std::mt19937 rng{1234};

  Catalog(uint32_t items, int d, bool u) : dim(d), uniform(u) {
    constexpr int kRank = 16;
    constexpr int kClusters = 64;
    std::normal_distribution<float> normal(0.0F, 1.0F);
    auto gaussian = [&](Eigen::Index r, Eigen::Index c) {
      RowMajor m(r, c);
      for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = normal(rng);
      return m;
    };
    factors.resize(items, dim);
    bias.resize(items);
    if (uniform) {
      factors = gaussian(items, dim) / std::sqrt(static_cast<float>(dim));
      for (uint32_t i = 0; i < items; ++i) bias[i] = 0.1F * normal(rng);
      return;
    }
    basis = gaussian(kRank, dim) / std::sqrt(static_cast<float>(kRank));
    centers = gaussian(kClusters, kRank);
    std::lognormal_distribution<float> norm(0.0F, 0.35F);
    std::uniform_int_distribution<int> cluster(0, kClusters - 1);
    for (uint32_t i = 0; i < items; ++i) {
      const RowMajor latent = centers.row(cluster(rng)) + 0.5F * gaussian(1, kRank);
      factors.row(i) = norm(rng) * (latent * basis + 0.15F * gaussian(1, dim));
      bias[i] = 0.3F * normal(rng);
    }
  }

  Eigen::VectorXf User() {
    std::normal_distribution<float> normal(0.0F, 1.0F);
    Eigen::VectorXf x(dim);
    if (uniform) {
      for (int k = 0; k < dim; ++k) x[k] = normal(rng) / std::sqrt(static_cast<float>(dim));
      return x;
    }
    std::uniform_int_distribution<int> cluster(0, static_cast<int>(centers.rows()) - 1);
    Eigen::RowVectorXf latent = centers.row(cluster(rng));
    for (Eigen::Index k = 0; k < latent.size(); ++k) latent[k] += 0.7F * normal(rng);
    const Eigen::RowVectorXf v = 0.5F * (latent * basis);
    for (int k = 0; k < dim; ++k) x[k] = v[k] + 0.05F * normal(rng);
    return x;
  }

  serving::ItemVectors View() const {
    return {factors.data(), bias.data(), static_cast<uint32_t>(factors.rows()), dim};
  }
};

}  // namespace streamrec::bench
