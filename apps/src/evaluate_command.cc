// `streamrec evaluate`: prequential evaluation of models and baselines on a
// log file (online_learner::Evaluate), reported as a table, JSON and a plot;
// optionally the final ISGD model goes into a store for `inspect --digest`.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "event_log_report.h"
#include "model_store.h"
#include "plot.h"
#include "streamrec/online_learner/evaluation.h"
#include "streamrec/schemas/log_reader.h"
#include "text.h"

namespace streamrec::apps {
namespace {

using online_learner::EvaluationReport;
using online_learner::Recommender;

constexpr std::string_view kDefaultModels = "isgd,popularity,popularity-decay,item-knn";
// The recall curve gets about this many points unless --window says otherwise.
constexpr uint64_t kCurvePoints = 100;

enum class PlotKind { kSvg, kHtml };

// Everything the flags ask for, checked before the log is read.
struct Request {
  std::string input;
  schemas::LogFormat format;
  std::vector<std::unique_ptr<Recommender>> models;
  uint32_t top_n;
  std::optional<double> min_rating;
  std::optional<uint32_t> window;
  std::optional<std::string> json_path;
  std::optional<std::string> plot_path;
  PlotKind plot_kind = PlotKind::kSvg;
  std::optional<std::string> state_dir;
};

bool HasModel(const std::vector<std::unique_ptr<Recommender>>& models, std::string_view name) {
  return std::any_of(models.begin(), models.end(), [&](const auto& model) { return model->Name() == name; });
}

Result<Request> ParseRequest(const CommandContext& context) {
  const ParsedFlags& flags = context.flags;
  Request request;
  auto input = flags.Get("input");
  auto format_name = flags.Get("format");
  if (!input || !format_name) {
    return Status::InvalidArgument(
        "evaluate needs --input FILE and --format movielens-csv|movielens-tsv|jsonl");
  }
  request.input = *input;
  auto format = schemas::LogFormatFromName(*format_name);
  if (!format.ok()) return format.status();
  request.format = *format;

  const std::string model_names = flags.Get("models").value_or(std::string(kDefaultModels));
  for (std::string_view name : Split(model_names, ',')) {
    if (HasModel(request.models, name)) {
      return Status::InvalidArgument(fmt::format("model '{}' listed twice in --models", name));
    }
    auto model = online_learner::MakeRecommender(name, context.settings.learner);
    if (!model.ok()) return model.status();
    request.models.push_back(std::move(*model));
  }
  if (request.models.empty()) return Status::InvalidArgument("--models lists no model");

  auto top_n = flags.GetInt("top", online_learner::EvaluationOptions().top_n, 1, 10000);
  if (!top_n.ok()) return top_n.status();
  request.top_n = static_cast<uint32_t>(*top_n);
  auto min_rating = flags.GetNumber("min-rating");
  if (!min_rating.ok()) return min_rating.status();
  request.min_rating = *min_rating;
  if (flags.Has("window")) {
    auto window = flags.GetInt("window", 0, 1, UINT32_MAX);
    if (!window.ok()) return window.status();
    request.window = static_cast<uint32_t>(*window);
  }

  request.json_path = flags.Get("json");
  request.plot_path = flags.Get("plot");
  if (request.plot_path) {
    const std::string extension = std::filesystem::path(*request.plot_path).extension().string();
    if (extension == ".html" || extension == ".htm") {
      request.plot_kind = PlotKind::kHtml;
    } else if (extension != ".svg") {
      return Status::InvalidArgument(
          fmt::format("--plot writes .svg or .html, got '{}'", *request.plot_path));
    }
  }
  request.state_dir = flags.Get("state");
  if (request.state_dir) {
    if (!HasModel(request.models, "isgd")) {
      return Status::InvalidArgument("--state stores the ISGD model, so --models must include isgd");
    }
    STREAMREC_RETURN_IF_ERROR(CheckNewStoreDir(*request.state_dir));
  }
  return request;
}


// Keeps events that are not ratings, and ratings of at least `min_rating`.
void FilterRatings(std::vector<schemas::Event>& events, double min_rating) {
  std::erase_if(events, [&](const schemas::Event& event) {
    return event.type == schemas::EventType::kRating && event.value.value_or(min_rating) < min_rating;
  });
}

void PrintSummary(const EvaluationReport& report, std::ostream& out) {
  const std::string n = std::to_string(report.top_n);
  size_t width = 5;
  for (const auto& model : report.models) width = std::max(width, model.name.size());
  out << fmt::format("{:<{}}  {:>10}  {:>10}  {:>10}  {:>9}  {:>9}  {:>10}\n", "model", width, "recall@" + n,
                     "NDCG@" + n, "MRR@" + n, "coverage", "pop.bias", "events/s");
  for (const auto& m : report.models) {
    out << fmt::format("{:<{}}  {:>10.4f}  {:>10.4f}  {:>10.4f}  {:>9.4f}  {:>9.4f}  {:>10.0f}\n", m.name,
                       width, m.recall, m.ndcg, m.mrr, m.coverage, m.popularity_bias, m.events_per_second);
  }
  out << fmt::format("events: {}, scored events: {} (first time a user meets an item)\n", report.events,
                     report.scored_events);
}

nlohmann::ordered_json ReportJson(const EvaluationReport& report, const Settings& settings) {
  nlohmann::ordered_json json = {
      {"top", report.top_n}, {"events", report.events}, {"scored_events", report.scored_events}};
  auto& models = json["models"] = nlohmann::ordered_json::object();
  for (const auto& m : report.models) {
    models[m.name] = {{"recall", m.recall},
                      {"ndcg", m.ndcg},
                      {"mrr", m.mrr},
                      {"coverage", m.coverage},
                      {"popularity_bias", m.popularity_bias},
                      {"events_per_second", m.events_per_second},
                      {"recall_curve", m.recall_curve}};
  }
  json["curve_window"] = report.curve_window;
  // The keys that shape the models, so a report says how it was made.
  auto& config = json["config"] = nlohmann::ordered_json::object();
  for (const auto& key : ConfigTable()) {
    if (!key.name.starts_with("learner.") && !key.name.starts_with("baselines.")) continue;
    std::visit([&](const auto& value) { config[key.name] = value; }, GetConfigValue(key, settings));
  }
  return json;
}

Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return Status::IoError(fmt::format("cannot write '{}'", path));
  return Status::Ok();
}

Status RunEvaluate(const CommandContext& context) {
  auto request = ParseRequest(context);
  if (!request.ok()) return request.status();

  auto log = schemas::ReadEventLog(request->input, request->format);
  if (!log.ok()) return log.status();
  ReportBadLines(*log, request->input, "evaluate", context.err);
  std::vector<schemas::Event>& events = log->events;
  if (request->min_rating) FilterRatings(events, *request->min_rating);
  if (events.empty())
    return Status::FailedPrecondition(fmt::format("no events to evaluate in '{}'", request->input));
  schemas::SortByTime(events);

  online_learner::EvaluationOptions options;
  options.top_n = request->top_n;
  options.curve_window = request->window.value_or(
      static_cast<uint32_t>(std::clamp<uint64_t>(events.size() / kCurvePoints, 1, options.curve_window)));
  options.expiry = context.settings.learner.expiry;
  // The same window as `run`, so both drop the same redeliveries and reach the same model.
  options.dedup_window = static_cast<size_t>(context.settings.pipeline.dedup_window);
  std::vector<Recommender*> models;
  for (const auto& model : request->models) models.push_back(model.get());
  // User indices are reused under a TTL exactly as the pipeline's Learner
  // reuses them, so `--state` stores the same model.
  online_learner::IdMap users(/*reuse_erased=*/options.expiry.user_ttl_ms > 0), items;
  const EvaluationReport report = online_learner::Evaluate(events, models, options, users, items);

  PrintSummary(report, context.out);
  if (request->json_path) {
    STREAMREC_RETURN_IF_ERROR(
        WriteFile(*request->json_path, ReportJson(report, context.settings).dump(2) + "\n"));
  }
  if (request->plot_path) {
    const std::string dataset = std::filesystem::path(request->input).filename().string();
    std::string plot = RecallPlotSvg(report, dataset);
    if (request->plot_kind == PlotKind::kHtml) plot = RecallPlotHtml(plot, "streamrec evaluate - " + dataset);
    STREAMREC_RETURN_IF_ERROR(WriteFile(*request->plot_path, plot));
  }
  if (request->state_dir) {
    for (const auto& model : request->models) {
      if (auto* isgd = dynamic_cast<online_learner::IsgdModel*>(model.get())) {
        STREAMREC_RETURN_IF_ERROR(
            WriteModelToStore(*request->state_dir, context.settings, *isgd, users, items, report.stream_time_ms));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Command EvaluateCommand() {
  return {
      "evaluate",
      "Prequential evaluation of models and baselines on a log file (table, JSON, plot)",
      "--input FILE --format FORMAT [flags]",
      {
          {"input", "FILE", "event log to replay"},
          {"format", "FORMAT", "movielens-csv, movielens-tsv (MovieLens-100K u.data) or jsonl"},
          {"models", "LIST", "comma-separated: isgd, popularity, popularity-decay, item-knn (default: all)"},
          {"top", "N", "list length N of recall@N, NDCG@N, MRR@N (default 10)"},
          {"min-rating", "R", "keep only rating events with value >= R"},
          {"window", "N", "scored events per point of the recall curve (default: events/100, at most 1000)"},
          {"json", "FILE", "write the report as JSON"},
          {"plot", "FILE", "write the recall curves as .svg or .html"},
          {"state", "DIR", "write the final ISGD model into a store at DIR (for inspect --digest)"},
      },
      RunEvaluate};
}

}  // namespace streamrec::apps
