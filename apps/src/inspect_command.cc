// `streamrec inspect`: one stored user or item as JSON, or the digest of a
// whole store (to compare `evaluate --state` with the pipeline's store).
// Opens the store read-only, so it works beside a running pipeline.

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "model_store.h"
#include "text.h"

namespace streamrec::apps {
namespace {

using Json = nlohmann::ordered_json;

Json Factors(const std::vector<float>& factors) {
  Json array = Json::array();
  for (float f : factors) array.push_back(ShortestDouble(f));
  return array;
}

Json ItemIds(const std::vector<uint32_t>& indices, const online_learner::IdMap& items) {
  Json array = Json::array();
  for (uint32_t index : indices) array.push_back(items.Name(index));
  return array;
}

Status PrintDigest(const state::FeatureStore& store, std::ostream& out) {
  auto digest = store.Digest();
  if (!digest.ok()) return digest.status();
  const auto& c = digest->counts;
  out << fmt::format("model: {}\noffsets: {}\ndedup: {}\nall: {}\n", digest->model, digest->offsets,
                     digest->dedup, digest->all)
      << fmt::format("counts: users={} items={} ids={} offsets={} meta={} pending={} dedup={}\n", c.users,
                     c.items, c.ids, c.offsets, c.meta, c.pending, c.dedup);
  return Status::Ok();
}

// One "user_id<TAB>event_count" line per stored user, in id order: the
// crash test's ledger (each valid event counts once for its user, so
// applied-twice and lost events both show).
Status PrintEventCounts(const state::FeatureStore& store, const Settings& settings, std::ostream& out) {
  online_learner::IsgdModel model(settings.learner.isgd);
  online_learner::IdMap users, items;
  STREAMREC_RETURN_IF_ERROR(store.LoadModel(model, users, items));
  std::vector<std::pair<std::string_view, uint32_t>> rows;
  for (uint32_t u = 0; u < users.size(); ++u) {
    const std::string_view id = users.Name(u);
    if (!id.empty()) rows.emplace_back(id, model.ExportUser(UserIndex(u)).event_count);
  }
  std::sort(rows.begin(), rows.end());
  for (const auto& [id, count] : rows) out << id << '\t' << count << '\n';
  return Status::Ok();
}

Status PrintUser(const state::FeatureStore& store, const Settings& settings, const std::string& id,
                 std::ostream& out) {
  auto user = store.ReadUser(id);
  if (!user.ok()) return user.status();
  // Rows hold item indices; the id maps of the loaded model name them.
  online_learner::IsgdModel model(settings.learner.isgd);
  online_learner::IdMap users, items;
  STREAMREC_RETURN_IF_ERROR(store.LoadModel(model, users, items));
  const auto& row = user->row;
  const Json json = {{"user_id", id},
                     {"index", user->index.value()},
                     {"event_count", row.event_count},
                     {"last_ts_ms", row.last_ts_ms},
                     {"factors", Factors(row.factors)},
                     {"recent_items", ItemIds(row.recent_items, items)},
                     {"seen_items", ItemIds(row.seen_items, items)}};
  out << json.dump(2) << "\n";
  return Status::Ok();
}

Status PrintItem(const state::FeatureStore& store, const std::string& id, std::ostream& out) {
  auto item = store.ReadItem(id);
  if (!item.ok()) return item.status();
  const auto& row = item->row;
  const Json json = {{"item_id", id},
                     {"index", item->index.value()},
                     {"bias", ShortestDouble(row.bias)},
                     {"count", row.count},
                     {"available", row.available},
                     {"last_ts_ms", row.last_ts_ms},
                     {"factors", Factors(row.factors)}};
  out << json.dump(2) << "\n";
  return Status::Ok();
}

Status RunInspect(const CommandContext& context) {
  const ParsedFlags& flags = context.flags;
  const int wanted = flags.Has("digest") + flags.Has("user") + flags.Has("item") + flags.Has("event-counts");
  if (wanted != 1) {
    return Status::InvalidArgument("inspect needs exactly one of --digest, --user ID, --item ID, --event-counts");
  }
  const std::string dir = flags.Get("state").value_or(context.settings.state.dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound(fmt::format("no store at '{}': the directory does not exist", dir));
  }
  state::StoreOptions options = StoreOptionsFor(context.settings, dir);
  options.read_only = true;
  auto store = state::FeatureStore::Open(options);
  if (!store.ok()) return store.status();
  if (flags.Has("digest")) return PrintDigest(**store, context.out);
  if (flags.Has("event-counts")) return PrintEventCounts(**store, context.settings, context.out);
  if (auto user = flags.Get("user")) return PrintUser(**store, context.settings, *user, context.out);
  return PrintItem(**store, *flags.Get("item"), context.out);
}

}  // namespace

Command InspectCommand() {
  return {"inspect",
          "Print a stored user or item as JSON, or a digest of a whole store",
          "[--state DIR] (--digest | --user ID | --item ID | --event-counts)",
          {
              {"state", "DIR", "the store (default: config key state.dir)"},
              {"digest", "", "print the digest of the model records and offsets, and per-family counts"},
              {"user", "ID", "print one user's record"},
              {"item", "ID", "print one item's record"},
              {"event-counts", "", "print every user's id and event count (tab-separated), for ledgers"},
          },
          RunInspect};
}

}  // namespace streamrec::apps
