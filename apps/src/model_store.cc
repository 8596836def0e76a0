#include "model_store.h"

#include <filesystem>

#include <fmt/format.h>

namespace streamrec::apps {

state::StoreOptions StoreOptionsFor(const Settings& settings, const std::string& dir) {
  state::StoreOptions options = settings.state;
  options.dir = dir;
  options.fingerprint.dim = static_cast<uint32_t>(settings.learner.isgd.dim);
  return options;
}

Status CheckNewStoreDir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return Status::FailedPrecondition(
        fmt::format("'{}' is not empty; evaluate --state writes a new store (remove it first)", dir));
  }
  return Status::Ok();
}

Status WriteModelToStore(const std::string& dir, const Settings& settings, online_learner::IsgdModel& model,
                         const online_learner::IdMap& users, const online_learner::IdMap& items,
                         std::optional<int64_t> stream_time_ms) {
  auto store = state::FeatureStore::Open(StoreOptionsFor(settings, dir));
  if (!store.ok()) return store.status();
  state::StoreBatch batch;
  state::AppendModelChanges(model, users, items, batch);
  // Only with expiry on, as the pipeline writes it: a `run` continuing this
  // store then scans for idle users where an uninterrupted run would.
  if (settings.learner.expiry.enabled()) batch.stream_time_ms = stream_time_ms;
  auto written = (*store)->Write(batch);
  return written.ok() ? Status::Ok() : written.status().WithContext(fmt::format("writing store {}", dir));
}

}  // namespace streamrec::apps
