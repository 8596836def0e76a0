#include <atomic>
#include <cstdlib>
#include <random>
#include <system_error>

#include <unistd.h>

#include "test_support.h"

namespace streamrec::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("streamrec-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path SourceDir() { return STREAMREC_SOURCE_DIR; }

std::filesystem::path BinaryDir() { return STREAMREC_BINARY_DIR; }

std::optional<std::filesystem::path> SharedDataset(const std::string& name) {
  auto path = SourceDir().parent_path() / "shared" / "datasets" / name;
  if (std::filesystem::is_directory(path)) return path;
  return std::nullopt;
}

}  // namespace streamrec::testing
