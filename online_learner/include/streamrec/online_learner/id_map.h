#pragma once

// Maps external string ids to dense indices 0, 1, 2... in order of first
// appearance, and back. Erase() frees the name but never reuses its index, so
// indices held elsewhere stay unambiguous. Not thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace streamrec::online_learner {

class IdMap {
 public:
  // The index of `id`, creating it if new. `created` tells which happened.
  uint32_t Intern(std::string_view id, bool* created = nullptr);
  std::optional<uint32_t> Find(std::string_view id) const;
  // The id of an index; empty for an erased or unknown index.
  std::string_view Name(uint32_t index) const;
  // Restores a mapping read from a store; grows the index space as needed.
  void Restore(std::string_view id, uint32_t index);
  void Erase(std::string_view id);
  // One past the largest index ever handed out.
  uint32_t size() const { return static_cast<uint32_t>(names_.size()); }
  size_t live_count() const { return index_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
  std::vector<std::string> names_;
};

}  // namespace streamrec::online_learner
