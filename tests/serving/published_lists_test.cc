// PublishedLists: which users' lists hold a withdrawn item.

#include <catch2/catch.hpp>

#include "streamrec/serving/published_lists.h"

namespace streamrec::serving {
namespace {

std::vector<ItemIndex> Items(std::initializer_list<uint32_t> items) {
  std::vector<ItemIndex> out;
  for (uint32_t i : items) out.push_back(ItemIndex(i));
  return out;
}

std::vector<uint32_t> Users(const std::vector<UserIndex>& users) {
  std::vector<uint32_t> out;
  for (UserIndex u : users) out.push_back(u.value());
  return out;
}

std::vector<bool> Withdrawn(size_t items, std::initializer_list<uint32_t> withdrawn) {
  std::vector<bool> out(items);
  for (uint32_t i : withdrawn) out[i] = true;
  return out;
}

TEST_CASE("published lists: users listing a withdrawn item, each once, by their latest list", "[serving]") {
  PublishedLists lists(3);
  lists.Remember(UserIndex(0), Items({1, 2, 3}));
  lists.Remember(UserIndex(5), Items({3, 4}));  // short list; users 1-4 have none
  lists.Remember(UserIndex(2), Items({7}));
  CHECK(lists.size() == 3);

  CHECK(Users(lists.UsersListingAny(Withdrawn(10, {3}))) == std::vector<uint32_t>{0, 5});
  CHECK(Users(lists.UsersListingAny(Withdrawn(10, {2, 3}))) == std::vector<uint32_t>{0, 5});  // user 0 once
  CHECK(lists.UsersListingAny(Withdrawn(10, {0, 5, 6})).empty());
  // Items beyond the flags given are not withdrawn.
  CHECK(lists.UsersListingAny(Withdrawn(4, {})).empty());
  CHECK(Users(lists.UsersListingAny(Withdrawn(8, {7}))) == std::vector<uint32_t>{2});

  // A new list replaces the old one entirely, also when shorter.
  lists.Remember(UserIndex(0), Items({9}));
  CHECK(Users(lists.UsersListingAny(Withdrawn(10, {1, 2, 3}))) == std::vector<uint32_t>{5});
  CHECK(Users(lists.UsersListingAny(Withdrawn(10, {9}))) == std::vector<uint32_t>{0});
}

TEST_CASE("published lists: a dropped user (forgotten, index reused later) lists nothing", "[serving]") {
  PublishedLists lists(2);
  lists.Remember(UserIndex(1), Items({4, 6}));
  lists.Remember(UserIndex(3), Items({4}));
  lists.Drop(UserIndex(1));
  lists.Drop(UserIndex(1));  // twice: no harm
  lists.Drop(UserIndex(9));  // never listed: no harm
  CHECK(lists.size() == 1);
  CHECK(Users(lists.UsersListingAny(Withdrawn(8, {4, 6}))) == std::vector<uint32_t>{3});

  // The index's next owner is known by its own list only.
  lists.Remember(UserIndex(1), Items({5}));
  CHECK(Users(lists.UsersListingAny(Withdrawn(8, {6}))).empty());
  CHECK(Users(lists.UsersListingAny(Withdrawn(8, {5}))) == std::vector<uint32_t>{1});
  // An empty list counts as none.
  lists.Remember(UserIndex(1), {});
  CHECK(lists.size() == 1);
  CHECK(lists.UsersListingAny(Withdrawn(8, {5})).empty());
}

}  // namespace
}  // namespace streamrec::serving
