#pragma once

// The one place where rocksdb::Status becomes streamrec::Status.

#include <string_view>

#include <rocksdb/status.h>

#include "streamrec/base/status.h"

namespace streamrec::state::internal {

// `context` says what was being done, with the store's path, e.g.
// "writing batch 12 to store at /var/lib/streamrec".
[[nodiscard]] Status FromRocks(const rocksdb::Status& status, std::string_view context);

}  // namespace streamrec::state::internal
