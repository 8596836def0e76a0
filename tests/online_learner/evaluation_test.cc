#include <catch2/catch.hpp>

#include "planted.h"
#include "streamrec/online_learner/evaluation.h"

namespace streamrec::online_learner {
namespace {

using schemas::Event;
using schemas::EventType;

// Scores every item the same: a model that knows nothing.
class Constant final : public Recommender {
 public:
  std::string_view Name() const override { return "constant"; }
  void AddUser(UserIndex, uint64_t) override {}
  void AddItem(ItemIndex item, uint64_t) override { items_ = std::max(items_, item.value() + 1); }
  void Learn(const Interaction&) override {}
  void Score(UserIndex, int64_t, std::span<float> s) const override { std::fill(s.begin(), s.end(), 1.f); }
  void ForgetUser(UserIndex) override {}
  uint32_t NumItems() const override { return items_; }

 private:
  uint32_t items_ = 0;
};

Event E(std::string user, std::string item, int64_t ts) {
  return {std::move(user), std::move(item), EventType::kClick, ts, std::nullopt, std::nullopt};
}

TEST_CASE("ties count against the target: a constant model never hits", "[online_learner]") {
  // Each event brings a new user and item, so from the second event on the
  // target ties with every earlier item; only the very first event (alone in
  // the catalog) can hit.
  Constant constant;
  IdMap users, items;
  std::vector<Event> events;
  for (int k = 0; k < 50; ++k) events.push_back(E("u" + std::to_string(k), "i" + std::to_string(k), k));
  EvaluationOptions o;
  o.top_n = 1;
  auto report = Evaluate(events, {&constant}, o, users, items);
  REQUIRE(report.scored_events == 50);
  CHECK(report.models[0].recall * 50 == Approx(1.0));
}

TEST_CASE("repeated (user, item) pairs are learned but not scored", "[online_learner]") {
  auto pop = MakePopularity();
  IdMap users, items;
  const std::vector<Event> events = {E("a", "x", 1), E("a", "x", 2), E("b", "x", 3), E("a", "y", 4),
                                     E("a", "x", 5)};
  auto report = Evaluate(events, {pop.get()}, {}, users, items);
  CHECK(report.events == 5);
  CHECK(report.scored_events == 3);
}

TEST_CASE("metrics follow the rank of the target", "[online_learner]") {
  // Popularity with a catalog where the target is the 2nd most popular
  // unseen item: rank 1, so recall 1, MRR 1/2, NDCG 1/log2(3).
  auto pop = MakePopularity();
  IdMap users, items;
  std::vector<Event> events;
  for (int k = 0; k < 3; ++k) events.push_back(E("w" + std::to_string(k), "top", k));
  for (int k = 0; k < 2; ++k) events.push_back(E("w" + std::to_string(k), "second", 10 + k));
  events.push_back(E("w0", "third", 20));
  const size_t warmup = events.size();
  events.push_back(E("target-user", "second", 30));
  EvaluationOptions o;
  o.top_n = 2;
  auto report = Evaluate(events, {pop.get()}, o, users, items);
  // Recompute the last event alone from the totals: warm-up events scored too.
  auto warm = MakePopularity();
  IdMap u2, i2;
  auto warm_report = Evaluate(std::vector<Event>(events.begin(), events.begin() + warmup), {warm.get()}, o, u2, i2);
  const double hits_last = report.models[0].recall * report.scored_events -
                           warm_report.models[0].recall * warm_report.scored_events;
  const double mrr_last = report.models[0].mrr * report.scored_events -
                          warm_report.models[0].mrr * warm_report.scored_events;
  const double ndcg_last = report.models[0].ndcg * report.scored_events -
                           warm_report.models[0].ndcg * warm_report.scored_events;
  CHECK(hits_last == Approx(1.0));
  CHECK(mrr_last == Approx(0.5));
  CHECK(ndcg_last == Approx(1.0 / std::log2(3.0)));
}

TEST_CASE("ISGD recovers a planted low-rank structure", "[online_learner]") {
  const auto events = testing::PlantedStream(200, 400, 8, 40, 99);
  LearnerOptions options;
  options.isgd.dim = 16;
  auto isgd = MakeRecommender("isgd", options);
  auto pop = MakeRecommender("popularity", options);
  REQUIRE(isgd.ok());
  REQUIRE(pop.ok());
  IdMap users, items;
  EvaluationOptions o;
  o.curve_window = 500;
  auto report = Evaluate(events, {isgd->get(), pop->get()}, o, users, items);
  const double isgd_recall = report.models[0].recall;
  const double pop_recall = report.models[1].recall;
  INFO("isgd " << isgd_recall << " popularity " << pop_recall);
  // A group's slice is 50 items: top-10 from the right slice hits ~1/5 of the
  // time; popularity cannot tell groups apart.
  CHECK(isgd_recall > 3 * pop_recall);
  CHECK(isgd_recall > 0.1);
  CHECK(report.models[0].recall_curve.size() == report.scored_events / 500);
  CHECK(report.models[0].coverage > report.models[1].coverage);
}

TEST_CASE("unknown model names are refused with the known ones listed", "[online_learner]") {
  auto r = MakeRecommender("svd", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "unknown model 'svd'; known models: isgd, popularity, popularity-decay, item-knn");
}

TEST_CASE("a forgotten user starts over", "[online_learner]") {
  auto pop = MakePopularity();
  IdMap users, items;
  std::vector<Event> events = {E("a", "x", 1), E("a", "y", 2)};
  Event forget{"a", "", EventType::kForget, 3, std::nullopt, std::nullopt};
  events.push_back(forget);
  events.push_back(E("a", "x", 4));  // scored again: the user's history is gone
  auto report = Evaluate(events, {pop.get()}, {}, users, items);
  CHECK(report.scored_events == 3);
  CHECK(users.Find("a").has_value());
}

}  // namespace
}  // namespace streamrec::online_learner
