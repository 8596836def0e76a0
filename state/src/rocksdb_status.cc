#include "rocksdb_status.h"

#include <string>

#include <fmt/format.h>

namespace streamrec::state::internal {

Status FromRocks(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return Status::Ok();
  const std::string detail = status.ToString();
  auto message = [&](std::string_view hint) {
    return hint.empty() ? fmt::format("{}: {}", context, detail)
                        : fmt::format("{}: {} ({})", context, detail, hint);
  };
  if (status.IsNotFound()) return Status::NotFound(message(""));
  if (status.IsCorruption()) return Status::Corruption(message(""));
  if (status.IsInvalidArgument()) return Status::InvalidArgument(message(""));
  if (status.IsNoSpace()) return Status::IoError(message("the disk is full; free space and restart"));
  if (status.IsIOError()) {
    // RocksDB reports a LOCK file held by another process (EAGAIN) or by
    // this one as an IO error; say what it means. Other errors on the LOCK
    // file (e.g. permission denied) stay IO errors.
    if (detail.find("Resource temporarily unavailable") != std::string::npos ||
        detail.find("lock hold by current process") != std::string::npos) {
      return Status::FailedPrecondition(
          message("the store is locked: is another streamrec process using it?"));
    }
    return Status::IoError(message(""));
  }
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) {
    return Status::Unavailable(message(""));
  }
  if (status.IsNotSupported()) return Status::FailedPrecondition(message(""));
  return Status::Internal(message(""));
}

}  // namespace streamrec::state::internal
