#include "plot.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

namespace streamrec::apps {
namespace {

constexpr double kWidth = 820, kHeight = 460;
constexpr double kLeft = 70, kRight = 170, kTop = 50, kBottom = 60;  // margins; legend on the right
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;
constexpr int kTargetTicks = 5;

// Tableau 10: distinguishable, and readable by most colour-blind viewers.
constexpr std::array<std::string_view, 10> kColours = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                                       "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A tick step of 1, 2 or 5 times a power of ten giving about kTargetTicks
// ticks over [0, max].
double TickStep(double max) {
  const double raw = max / kTargetTicks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double factor : {1.0, 2.0, 5.0}) {
    if (factor * magnitude >= raw) return factor * magnitude;
  }
  return 10 * magnitude;
}

std::string FormatTick(double value, double step) {
  if (value == 0) return "0";
  if (step >= 1000 && std::fmod(value, 1000) == 0) return fmt::format("{}k", value / 1000);
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step))));
  return fmt::format("{:.{}f}", value, decimals);
}

}  // namespace

std::string RecallPlotSvg(const online_learner::EvaluationReport& report, std::string_view dataset) {
  size_t points = 0;
  double max_recall = 0;
  for (const auto& model : report.models) {
    points = std::max(points, model.recall_curve.size());
    for (double r : model.recall_curve) max_recall = std::max(max_recall, r);
  }
  const double window = std::max<uint32_t>(report.curve_window, 1);
  // Axes always span something, so an empty or flat curve still draws.
  const double x_step = TickStep(std::max(1.0, static_cast<double>(points)) * window);
  const double x_max = std::ceil(std::max(1.0, static_cast<double>(points)) * window / x_step) * x_step;
  const double y_step = TickStep(std::max(max_recall, 0.01));
  const double y_max = std::ceil(std::max(max_recall, 0.01) / y_step) * y_step;
  const auto x_of = [&](double x) { return kLeft + x / x_max * kPlotWidth; };
  const auto y_of = [&](double y) { return kTop + kPlotHeight - y / y_max * kPlotHeight; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">Recall@{3} over windows of {4} "
      "scored events - {5}</text>\n",
      kWidth, kHeight, kLeft + kPlotWidth / 2, report.top_n, report.curve_window, Escape(dataset));

  // Grid, ticks and tick labels.
  for (double x = 0; x <= x_max + x_step / 2; x += x_step) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        x_of(x), kTop, kTop + kPlotHeight, kTop + kPlotHeight + 18, FormatTick(x, x_step));
  }
  for (double y = 0; y <= y_max + y_step / 2; y += y_step) {
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        kLeft, y_of(y), kLeft + kPlotWidth, kLeft - 8, y_of(y) + 4, FormatTick(y, y_step));
  }
  // Axes and their labels.
  svg += fmt::format(
      "<path d=\"M{0} {1} V{2} H{3}\" fill=\"none\" stroke=\"#333\"/>\n"
      "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\">scored events</text>\n"
      "<text transform=\"translate(18 {6}) rotate(-90)\" text-anchor=\"middle\">recall@{7} "
      "(window of {8})</text>\n",
      kLeft, kTop, kTop + kPlotHeight, kLeft + kPlotWidth, kLeft + kPlotWidth / 2, kHeight - 15,
      kTop + kPlotHeight / 2, report.top_n, report.curve_window);

  // One line and one legend entry per model.
  for (size_t m = 0; m < report.models.size(); ++m) {
    const auto& model = report.models[m];
    const std::string_view colour = kColours[m % kColours.size()];
    std::string coordinates;
    for (size_t i = 0; i < model.recall_curve.size(); ++i) {
      coordinates += fmt::format("{}{:.1f},{:.1f}", i == 0 ? "" : " ", x_of((i + 1) * window),
                                 y_of(model.recall_curve[i]));
    }
    const double legend_y = kTop + 10 + 22 * static_cast<double>(m);
    svg += fmt::format(
        "<polyline fill=\"none\" stroke=\"{0}\" stroke-width=\"2\" "
        "points=\"{1}\"><title>{2}</title></polyline>\n"
        "<line x1=\"{3}\" y1=\"{4}\" x2=\"{5}\" y2=\"{4}\" stroke=\"{0}\" stroke-width=\"3\"/>"
        "<text x=\"{6}\" y=\"{7}\">{2}</text>\n",
        colour, coordinates, Escape(model.name), kWidth - kRight + 20, legend_y, kWidth - kRight + 44,
        kWidth - kRight + 50, legend_y + 4);
  }
  svg += "</svg>\n";
  return svg;
}

std::string RecallPlotHtml(const std::string& svg, std::string_view title) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n"
      "<body style=\"margin:2em;background:#fafafa\">\n{}</body>\n</html>\n",
      Escape(title), svg);
}

}  // namespace streamrec::apps
