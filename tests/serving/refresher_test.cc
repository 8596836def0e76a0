// Refresher: which users' lists a round computes, and when.

#include <catch2/catch.hpp>

#include "streamrec/serving/refresher.h"

namespace streamrec::serving {
namespace {

using std::chrono::milliseconds;

DueUser TouchAt(uint32_t user, int64_t at_ms, int64_t event_ts_ms = 0) {
  DueUser d;
  d.user = UserIndex(user);
  d.touched_at_ms = at_ms;
  d.newest_event_ts_ms = event_ts_ms;
  d.user_id = "u" + std::to_string(user);
  return d;
}

std::vector<uint32_t> Users(const std::vector<DueUser>& due) {
  std::vector<uint32_t> out;
  for (const DueUser& d : due) out.push_back(d.user.value());
  return out;
}

TEST_CASE("refresher: touches coalesce, stalest first, at most once per interval", "[serving]") {
  Refresher refresher(milliseconds(100));
  refresher.Touch(TouchAt(2, 1000, 50));
  refresher.Touch(TouchAt(1, 1001, 60));
  refresher.Touch(TouchAt(2, 1002, 70));  // the same user again: one entry, newest event kept
  REQUIRE(refresher.waiting() == 2);
  const auto due = refresher.TakeDue(1010, 10);
  REQUIRE(Users(due) == std::vector<uint32_t>{2, 1});
  CHECK(due[0].newest_event_ts_ms == 70);
  CHECK(due[0].touched_at_ms == 1000);  // waiting since its first touch

  refresher.Touch(TouchAt(2, 1020));
  CHECK(refresher.TakeDue(1050, 10).empty());  // refreshed 40 ms ago
  CHECK(refresher.NextDueMs() == 1110);
  CHECK(Users(refresher.TakeDue(1110, 10)) == std::vector<uint32_t>{2});
  // At shutdown the interval no longer holds anyone back.
  refresher.Touch(TouchAt(2, 1120));
  CHECK(Users(refresher.TakeDue(1121, 10, /*ignore_interval=*/true)) == std::vector<uint32_t>{2});
}

TEST_CASE("refresher: a round takes at most the batch size, the longest waiting first", "[serving]") {
  Refresher refresher(milliseconds(0));
  for (uint32_t u = 0; u < 10; ++u) refresher.Touch(TouchAt(u, 2000 - u));
  CHECK(Users(refresher.TakeDue(2000, 3)) == std::vector<uint32_t>{9, 8, 7});
  CHECK(refresher.waiting() == 7);
}

TEST_CASE("refresher: users gather for a shared round unless enough are waiting", "[serving]") {
  Refresher refresher(milliseconds(0), milliseconds(5), /*gather_users=*/4);
  refresher.Touch(TouchAt(1, 1000));
  refresher.Touch(TouchAt(2, 1002));
  CHECK(refresher.TakeDue(1003, 256).empty());  // the stalest waited 3 ms of 5
  CHECK(refresher.NextDueMs() == 1005);
  const auto gathered = refresher.TakeDue(1005, 256);
  CHECK(Users(gathered) == std::vector<uint32_t>{1, 2});

  // Four waiting fill a round at once.
  for (uint32_t u = 10; u < 14; ++u) refresher.Touch(TouchAt(u, 1010));
  CHECK(refresher.TakeDue(1010, 256).size() == 4);
  // So does a round as large as the batch.
  refresher.Touch(TouchAt(20, 1020));
  refresher.Touch(TouchAt(21, 1020));
  CHECK(refresher.TakeDue(1020, 2).size() == 2);
  // Shutdown does not wait.
  refresher.Touch(TouchAt(30, 1030));
  CHECK(refresher.TakeDue(1030, 256, /*ignore_interval=*/true).size() == 1);
}

TEST_CASE("refresher: a round takes whole groups while the rest may still gather", "[serving]") {
  Refresher refresher(milliseconds(0), milliseconds(5), /*gather_users=*/4);
  for (uint32_t u = 0; u < 6; ++u) refresher.Touch(TouchAt(u, 1000 + u));
  // Six due at 1005: four fill a group; 4 and 5 (touched at 1004, 1005) may
  // gather with later users.
  CHECK(Users(refresher.TakeDue(1005, 256)) == std::vector<uint32_t>{0, 1, 2, 3});
  CHECK(refresher.NextDueMs() == 1009);
  refresher.Touch(TouchAt(6, 1006));
  refresher.Touch(TouchAt(7, 1007));
  CHECK(Users(refresher.TakeDue(1007, 256)) == std::vector<uint32_t>{4, 5, 6, 7});
  // A remainder whose oldest waited its gather goes along.
  for (uint32_t u = 10; u < 15; ++u) refresher.Touch(TouchAt(u, 1010));
  CHECK(refresher.TakeDue(1015, 256).size() == 5);
  // So does everything at shutdown, and a round capped by the batch.
  for (uint32_t u = 20; u < 25; ++u) refresher.Touch(TouchAt(u, 1020));
  CHECK(refresher.TakeDue(1020, 3).size() == 3);
  CHECK(refresher.TakeDue(1020, 256, /*ignore_interval=*/true).size() == 2);

  // No groups (gather_users 0): everything due goes, nothing divides by 0.
  Refresher ungrouped(milliseconds(0), milliseconds(5), /*gather_users=*/0);
  for (uint32_t u = 0; u < 5; ++u) ungrouped.Touch(TouchAt(u, 1000));
  CHECK(ungrouped.TakeDue(1001, 256).size() == 5);
}

TEST_CASE("refresher: users held by the interval rejoin in stalest order, forgotten ones leave either queue",
          "[serving]") {
  Refresher refresher(milliseconds(100));
  for (uint32_t u = 1; u <= 4; ++u) refresher.Touch(TouchAt(u, 1000));
  REQUIRE(refresher.TakeDue(1000, 10).size() == 4);  // all refreshed at 1000
  refresher.Touch(TouchAt(3, 1010));  // held until 1100
  refresher.Touch(TouchAt(1, 1020));  // held until 1100
  refresher.Touch(TouchAt(5, 1030));  // never refreshed: ready
  refresher.Touch(TouchAt(2, 1040));  // held until 1100
  refresher.Touch(TouchAt(4, 1050));  // held until 1100
  refresher.Forget(UserIndex(2));     // held: gone
  CHECK(refresher.waiting() == 4);
  CHECK(refresher.NextDueMs() == 1030);
  CHECK(Users(refresher.TakeDue(1060, 10)) == std::vector<uint32_t>{5});
  CHECK(refresher.NextDueMs() == 1100);
  CHECK(refresher.TakeDue(1099, 10).empty());
  refresher.Touch(TouchAt(6, 1099));  // ready, but touched after the held ones
  refresher.Forget(UserIndex(6));     // ready: gone
  refresher.Touch(TouchAt(7, 1099));
  CHECK(Users(refresher.TakeDue(1100, 2)) == std::vector<uint32_t>{3, 1});
  CHECK(Users(refresher.TakeDue(1100, 10)) == std::vector<uint32_t>{4, 7});
  CHECK(refresher.waiting() == 0);
  CHECK_FALSE(refresher.NextDueMs().has_value());
}

}  // namespace
}  // namespace streamrec::serving
