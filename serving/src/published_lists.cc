#include "streamrec/serving/published_lists.h"

#include <algorithm>
#include <cassert>

namespace streamrec::serving {

PublishedLists::PublishedLists(uint32_t slots_per_user) : slots_(std::max(slots_per_user, 1u)) {}

void PublishedLists::Remember(UserIndex user, std::span<const ItemIndex> items) {
  assert(items.size() <= slots_);
  const size_t at = size_t{user.value()} * slots_;
  if (items_.size() < at + slots_) items_.resize(at + slots_, kEmpty);
  const bool had = items_[at] != kEmpty;
  const size_t n = std::min<size_t>(items.size(), slots_);
  for (size_t k = 0; k < slots_; ++k) items_[at + k] = k < n ? items[k].value() : kEmpty;
  // An empty list holds nothing to withdraw: as good as none.
  const bool has = n > 0;
  if (has && !had) ++users_;
  if (had && !has) --users_;
}

void PublishedLists::Drop(UserIndex user) {
  const size_t at = size_t{user.value()} * slots_;
  if (at >= items_.size() || items_[at] == kEmpty) return;
  std::fill_n(items_.begin() + static_cast<std::ptrdiff_t>(at), slots_, kEmpty);
  --users_;
}

std::vector<UserIndex> PublishedLists::UsersListingAny(const std::vector<bool>& withdrawn) const {
  std::vector<UserIndex> out;
  for (size_t at = 0; at < items_.size(); at += slots_) {
    for (size_t k = 0; k < slots_ && items_[at + k] != kEmpty; ++k) {
      const uint32_t item = items_[at + k];
      if (item < withdrawn.size() && withdrawn[item]) {
        out.push_back(UserIndex(static_cast<uint32_t>(at / slots_)));
        break;
      }
    }
  }
  return out;
}

}  // namespace streamrec::serving
