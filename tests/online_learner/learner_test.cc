#include <catch2/catch.hpp>

#include "planted.h"
#include "streamrec/online_learner/evaluation.h"
#include "streamrec/online_learner/learner.h"

namespace streamrec::online_learner {
namespace {

using schemas::Event;
using schemas::EventType;

IsgdOptions Small() {
  IsgdOptions o;
  o.dim = 8;
  o.negatives = 2;
  return o;
}

TEST_CASE("the dedup window drops repeats and forgets the oldest", "[online_learner]") {
  DedupWindow w(2);
  CHECK(w.Admit("a"));
  CHECK_FALSE(w.Admit("a"));
  CHECK(w.Admit("b"));
  CHECK(w.Admit("c"));  // evicts "a"
  CHECK(w.Admit("a"));
  CHECK_FALSE(w.Admit("c"));
}

TEST_CASE("the dedup window reports its changes and restores from them", "[online_learner]") {
  DedupWindow w(3);
  for (const char* id : {"a", "b"}) REQUIRE(w.Admit(id));
  auto first = w.TakeChanges();
  CHECK(first.added.size() == 2);
  CHECK(first.evicted.empty());
  CHECK(w.TakeChanges().empty());
  // Five more ids: "a" and "b" leave, and of the new ones only the last
  // three stay, so the two admitted and evicted at once are never reported.
  for (const char* id : {"c", "d", "e", "f", "g"}) REQUIRE(w.Admit(id));
  auto second = w.TakeChanges();
  CHECK(second.evicted == std::vector<uint64_t>{0, 1});
  REQUIRE(second.added.size() == 3);
  CHECK(second.added.front().position == 4);
  CHECK(w.Export() == second.added);

  DedupWindow restored(3);
  restored.Import(w.Export());
  CHECK(restored.TakeChanges().empty());
  CHECK_FALSE(restored.Admit("f"));
  CHECK(restored.Admit("a"));
  CHECK(restored.TakeChanges().added.front().position == 7);
}

TEST_CASE("a redelivered event is not learned twice", "[online_learner]") {
  Learner once(Small(), 100), twice(Small(), 100);
  Event e{"u", "i", EventType::kClick, 1'700'000'000'000, "ev-1", std::nullopt};
  Event other{"u", "j", EventType::kClick, 1'700'000'000'001, "ev-2", std::nullopt};
  once.Apply(e);
  once.Apply(other);
  twice.Apply(e);
  CHECK(twice.Apply(e).outcome == ApplyOutcome::kDuplicate);
  twice.Apply(other);
  CHECK(once.model().ExportUser(UserIndex(0)) == twice.model().ExportUser(UserIndex(0)));
}

TEST_CASE("forget erases the user's id and state", "[online_learner]") {
  Learner learner(Small(), 100);
  learner.Apply({"u", "i", EventType::kClick, 1'700'000'000'000, std::nullopt, std::nullopt});
  const auto r = learner.Apply({"u", "", EventType::kForget, 1'700'000'000'001, std::nullopt, std::nullopt});
  CHECK(r.outcome == ApplyOutcome::kForgotten);
  CHECK_FALSE(learner.users().Find("u").has_value());
  REQUIRE(r.user.has_value());
  CHECK(learner.model().ExportUser(*r.user).event_count == 0);
}

TEST_CASE("catalog updates set availability", "[online_learner]") {
  Learner learner(Small(), 100);
  learner.ApplyItem({"sku-1", false, std::nullopt, {}, {}});
  const auto i = learner.items().Find("sku-1");
  REQUIRE(i.has_value());
  CHECK_FALSE(learner.model().IsAvailable(ItemIndex(*i)));
}

TEST_CASE("Learner and Evaluate reach the same model from the same events", "[online_learner]") {
  // One update path, two drivers: run (Learner) and evaluate (Evaluate).
  const auto events = testing::PlantedStream(20, 60, 3, 15, 4);
  Learner learner(Small(), 1000);
  for (const auto& e : events) learner.Apply(e);

  IsgdModel evaluated(Small());
  IdMap users, items;
  Evaluate(events, {&evaluated}, {}, users, items);
  REQUIRE(evaluated.NumUsers() == learner.model().NumUsers());
  for (uint32_t u = 0; u < evaluated.NumUsers(); ++u) {
    REQUIRE(evaluated.ExportUser(UserIndex(u)) == learner.model().ExportUser(UserIndex(u)));
  }
  for (uint32_t i = 0; i < evaluated.NumItems(); ++i) {
    REQUIRE(evaluated.ExportItem(ItemIndex(i)) == learner.model().ExportItem(ItemIndex(i)));
  }
}

}  // namespace
}  // namespace streamrec::online_learner
