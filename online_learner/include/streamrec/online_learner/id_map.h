#pragma once

// Maps external string ids to dense indices 0, 1, 2... in order of first
// appearance, and back. By default Erase() frees the name but never reuses
// its index, so indices held elsewhere stay unambiguous. With `reuse_erased`
// (the learner's user map when users expire), Intern() hands out the
// smallest erased index before a new one, so the model's dense arrays stay
// as large as the most users ever live at once instead of growing forever.
// The smallest-first rule makes the reuse deterministic: an index space
// rebuilt by Restore() (every unrestored index below size() counts as
// erased) hands out the same indices as the map it was stored from.
// Not thread-safe.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace streamrec::online_learner {

class IdMap {
 public:
  explicit IdMap(bool reuse_erased = false) : reuse_erased_(reuse_erased) {}

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
  bool reuse_erased() const { return reuse_erased_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
  std::vector<std::string> names_;
  bool reuse_erased_ = false;
  std::set<uint32_t> erased_;  // indices below size() with no name
};

}  // namespace streamrec::online_learner
