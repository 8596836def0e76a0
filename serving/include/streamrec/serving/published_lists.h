#pragma once

// PublishedLists: the items of each user's last published list, so that the
// users whose list holds an item the catalog withdraws are listed again.
//
// One flat table of `slots_per_user` (serving.top_n) item indices per user
// index: 40 bytes a user at top-10. An item -> users index would answer a
// withdrawal without a scan, but cost ~500 bytes a user in hash nodes and
// churn on every published list; withdrawals are rare beside lists (one
// batch's withdrawals cost one pass over the table), so the scan wins.
//
// Thread-safety: none; the pipeline thread owns it.

#include <cstdint>
#include <span>
#include <vector>

#include "streamrec/base/ids.h"

namespace streamrec::serving {

class PublishedLists {
 public:
  explicit PublishedLists(uint32_t slots_per_user);

  // `user`'s list is now `items` (at most slots_per_user; more are a bug and
  // are cut, since a list is never longer than top_n).
  void Remember(UserIndex user, std::span<const ItemIndex> items);
  // `user` has no list any more (forgotten or expired; its index may be reused).
  void Drop(UserIndex user);
  // Users whose list holds an item with `withdrawn[item]` set, each once, in
  // index order. Items past the end of `withdrawn` are not withdrawn.
  std::vector<UserIndex> UsersListingAny(const std::vector<bool>& withdrawn) const;

  // Users with a remembered list.
  size_t size() const { return users_; }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  uint32_t slots_;
  size_t users_ = 0;
  std::vector<uint32_t> items_;  // user * slots_ + k; kEmpty pads a short or absent list
};

}  // namespace streamrec::serving
