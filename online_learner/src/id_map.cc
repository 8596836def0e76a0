#include "streamrec/online_learner/id_map.h"

namespace streamrec::online_learner {

uint32_t IdMap::Intern(std::string_view id, bool* created) {
  if (auto it = index_.find(id); it != index_.end()) {
    if (created) *created = false;
    return it->second;
  }
  uint32_t index = 0;
  if (reuse_erased_ && !erased_.empty()) {
    index = *erased_.begin();
    erased_.erase(erased_.begin());
    names_[index] = std::string(id);
  } else {
    index = static_cast<uint32_t>(names_.size());
    names_.emplace_back(id);
  }
  index_.emplace(std::string(id), index);
  if (created) *created = true;
  return index;
}

std::optional<uint32_t> IdMap::Find(std::string_view id) const {
  if (auto it = index_.find(id); it != index_.end()) return it->second;
  return std::nullopt;
}

std::string_view IdMap::Name(uint32_t index) const {
  return index < names_.size() ? std::string_view(names_[index]) : std::string_view();
}

void IdMap::Restore(std::string_view id, uint32_t index) {
  if (index >= names_.size()) {
    for (auto k = static_cast<uint32_t>(names_.size()); k < index; ++k) erased_.insert(k);
    names_.resize(index + 1);
  }
  erased_.erase(index);
  names_[index] = std::string(id);
  index_.insert_or_assign(std::string(id), index);
}

void IdMap::Erase(std::string_view id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  names_[it->second].clear();
  erased_.insert(it->second);
  index_.erase(it);
}

}  // namespace streamrec::online_learner
