// `streamrec snapshot` and `streamrec restore`: a consistent backup of a
// store and its way back. The snapshot is a RocksDB checkpoint taken under
// the store's write mutex, so its model, dedup window, pending users and
// offsets are those of one batch boundary; a pipeline started on the
// restored store seeks to those offsets and resumes exactly there.

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "command.h"
#include "model_store.h"

namespace streamrec::apps {
namespace {

namespace fs = std::filesystem;

// What a snapshot or a restored store holds, in the words of `inspect`.
Status Describe(const state::FeatureStore& store, const Settings& settings, std::ostream& out) {
  auto digest = store.Digest();
  if (!digest.ok()) return digest.status();
  for (const std::string& topic : {settings.pipeline.events_topic, settings.pipeline.items_topic}) {
    auto offsets = store.ReadOffsets(topic);
    if (!offsets.ok()) return offsets.status();
    for (const auto& [partition, next] : *offsets) {
      out << fmt::format("offset {}/{}: {}\n", topic, partition.value(), next.value());
    }
  }
  const auto& c = digest->counts;
  out << fmt::format("model: {}\ndedup: {}\nall: {}\n", digest->model, digest->dedup, digest->all)
      << fmt::format("counts: users={} items={} pending={} dedup={}\n", c.users, c.items, c.pending, c.dedup);
  return Status::Ok();
}

Status RunSnapshot(const CommandContext& context) {
  const std::string dir = context.flags.Get("state").value_or(context.settings.state.dir);
  const auto target = context.flags.Get("to");
  if (!target) return Status::InvalidArgument("snapshot needs --to BACKUP (a path that does not exist yet)");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound(fmt::format("no store at '{}': the directory does not exist", dir));
  }
  // A checkpoint needs a writable open, hence the store's lock: a running
  // pipeline on `dir` makes this fail with "the store is locked".
  state::StoreOptions options = StoreOptionsFor(context.settings, dir);
  options.create_if_missing = false;
  auto store = state::FeatureStore::Open(options);
  if (!store.ok()) return store.status().WithContext("snapshot (stop `streamrec run` on this store first)");
  STREAMREC_RETURN_IF_ERROR((*store)->Checkpoint(*target));
  context.err << fmt::format("streamrec snapshot: {} -> {}\n", dir, *target);
  return Describe(**store, context.settings, context.out);
}

Status RunRestore(const CommandContext& context) {
  const auto source = context.flags.Get("from");
  if (!source) return Status::InvalidArgument("restore needs --from BACKUP (a directory written by snapshot)");
  const std::string dir = context.flags.Get("state").value_or(context.settings.state.dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Status::FailedPrecondition(fmt::format(
        "'{}' is not empty; restore writes a new store (move the old one away or choose another --state)", dir));
  }
  // The backup must open as a store of this configuration (fingerprint);
  // read-only, so the backup itself is never modified.
  state::StoreOptions backup_options = StoreOptionsFor(context.settings, *source);
  backup_options.read_only = true;
  auto backup = state::FeatureStore::Open(backup_options);
  if (!backup.ok()) return backup.status().WithContext(fmt::format("restore from '{}'", *source));
  auto backup_digest = (*backup)->Digest();
  if (!backup_digest.ok()) return backup_digest.status();
  backup->reset();

  // Copy into a sibling first and rename at the end: an interrupted restore
  // leaves no half-copied store at `dir` that a pipeline could start on.
  const fs::path final_path = fs::absolute(dir, ec);
  const fs::path staging = final_path.string() + ".restoring";
  fs::remove_all(staging, ec);
  fs::create_directories(final_path.parent_path(), ec);
  fs::copy(*source, staging, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    return Status::IoError(fmt::format("copying '{}' to '{}': {}", *source, staging.string(), ec.message()));
  }
  {
    state::StoreOptions options = StoreOptionsFor(context.settings, staging.string());
    options.create_if_missing = false;
    auto copy = state::FeatureStore::Open(options);
    if (!copy.ok()) return copy.status().WithContext("opening the restored copy");
    auto digest = (*copy)->Digest();
    if (!digest.ok()) return digest.status();
    if (digest->all != backup_digest->all) {
      return Status::Corruption(fmt::format("the copy at '{}' does not match '{}' (digest {} vs {})", staging.string(),
                                            *source, digest->all, backup_digest->all));
    }
  }
  if (fs::exists(final_path, ec)) fs::remove(final_path, ec);  // empty, checked above
  fs::rename(staging, final_path, ec);
  if (ec) return Status::IoError(fmt::format("renaming '{}' to '{}': {}", staging.string(), dir, ec.message()));

  state::StoreOptions options = StoreOptionsFor(context.settings, dir);
  options.read_only = true;
  auto restored = state::FeatureStore::Open(options);
  if (!restored.ok()) return restored.status();
  context.err << fmt::format("streamrec restore: {} -> {}\n", *source, dir);
  return Describe(**restored, context.settings, context.out);
}

}  // namespace

Command SnapshotCommand() {
  return {"snapshot",
          "Write a consistent backup of a stopped store (model, dedup window, pending lists and offsets)",
          "--to BACKUP [--state DIR]",
          {
              {"state", "DIR", "the store (default: config key state.dir); no pipeline may be running on it"},
              {"to", "BACKUP", "where to write the backup; must not exist (files are hard-linked when possible)"},
          },
          RunSnapshot};
}

Command RestoreCommand() {
  return {"restore",
          "Make a store from a backup written by snapshot; `run` on it resumes where the snapshot was taken",
          "--from BACKUP [--state DIR]",
          {
              {"from", "BACKUP", "a directory written by `streamrec snapshot` (left unchanged)"},
              {"state", "DIR", "the new store (default: config key state.dir); must be missing or empty"},
          },
          RunRestore};
}

}  // namespace streamrec::apps
