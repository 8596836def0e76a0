#pragma once

// The `evaluate --plot` chart: sliding-window recall of every model as a
// self-contained SVG (no scripts, fonts or external assets), or the same SVG
// in a minimal HTML page.

#include <string>
#include <string_view>

#include "streamrec/online_learner/evaluation.h"

namespace streamrec::apps {

// One line per model: x = scored events, y = recall@N of each window of
// report.curve_window scored events. `dataset` names the input in the title.
std::string RecallPlotSvg(const online_learner::EvaluationReport& report, std::string_view dataset);

// `svg` embedded in an HTML page titled `title`.
std::string RecallPlotHtml(const std::string& svg, std::string_view title);

}  // namespace streamrec::apps
