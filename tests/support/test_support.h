#pragma once

// Shared test helpers: a temp dir that cleans itself up, checks on Status and
// Result, and where to find the source tree and shared data sets.

#include <filesystem>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "streamrec/base/status.h"

namespace streamrec::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The repository root and the build directory (where build/streamrec is),
// as CMake configured them.
std::filesystem::path SourceDir();
std::filesystem::path BinaryDir();
// ../shared/datasets/<name> beside the repository, if it exists.
std::optional<std::filesystem::path> SharedDataset(const std::string& name);

}  // namespace streamrec::testing

#define REQUIRE_OK(expr)                                   \
  do {                                                     \
    const auto& streamrec_s_ = (expr);                     \
    INFO(streamrec_s_.ToString());                         \
    REQUIRE(streamrec_s_.ok());                            \
  } while (false)

#define REQUIRE_RESULT_OK(expr)                            \
  do {                                                     \
    const auto& streamrec_r_ = (expr);                     \
    INFO(streamrec_r_.status().ToString());                \
    REQUIRE(streamrec_r_.ok());                            \
  } while (false)
