#include <catch2/catch.hpp>

#include "support/test_support.h"
#include "streamrec/online_learner/evaluation.h"
#include "streamrec/schemas/log_reader.h"

namespace streamrec::online_learner {
namespace {

TEST_CASE("on MovieLens latest-small ISGD beats popularity by a clear margin", "[online_learner][dataset]") {
  auto dir = streamrec::testing::SharedDataset("ml-latest-small");
  if (!dir) {
    WARN("skipped: ../shared/datasets/ml-latest-small is absent");
    return;
  }
  auto log = schemas::ReadEventLog((*dir / "ratings.csv").string(), schemas::LogFormat::kMovieLensCsv);
  REQUIRE_RESULT_OK(log);
  REQUIRE(log->events.size() == 100836);
  schemas::SortByTime(log->events);

  LearnerOptions options;  // the defaults users get
  auto isgd = MakeRecommender("isgd", options);
  auto pop = MakeRecommender("popularity", options);
  REQUIRE(isgd.ok());
  REQUIRE(pop.ok());
  IdMap users, items;
  auto report = Evaluate(log->events, {isgd->get(), pop->get()}, {}, users, items);
  const double isgd_recall = report.models[0].recall;
  const double pop_recall = report.models[1].recall;
  INFO("isgd recall@10 " << isgd_recall << ", popularity " << pop_recall);
  CHECK(report.scored_events == 100836);
  CHECK(isgd_recall >= 1.3 * pop_recall);
  CHECK(report.models[0].ndcg > report.models[1].ndcg);
}

}  // namespace
}  // namespace streamrec::online_learner
