// libFuzzer target over schemas and the learner (scripts/fuzz.sh): the
// input is one or more newline-separated messages. Each line is parsed as an
// event (against a fixed Kafka timestamp, as ingest does), an item and a
// recommendation list. Properties checked, beyond ASan/UBSan's:
//   - round trip: whatever a parser accepts, Parse(Serialize(x)) == x;
//   - every accepted event goes through Learner::Apply (the one update path
//     of `run` and `evaluate`), and afterwards every user and item row of
//     the model is finite;
//   - a redelivered event (same event_id) is reported as a duplicate.
// A violated property aborts, which libFuzzer reports as a crash.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "streamrec/online_learner/learner.h"
#include "streamrec/schemas/codec.h"

namespace {

using namespace streamrec;

constexpr int64_t kReferenceTsMs = 1732350000000;

[[noreturn]] void Violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput line: %.*s\n", property, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

template <typename T, typename Parse, typename Serialize>
void RoundTrip(std::string_view line, Parse parse, Serialize serialize, const char* what) {
  auto parsed = parse(line);
  const T* value = std::get_if<T>(&parsed);
  if (value == nullptr) return;
  auto again = parse(serialize(*value));
  const T* back = std::get_if<T>(&again);
  if (back == nullptr || !(*back == *value)) Violated(what, line);
}

bool Finite(const std::vector<float>& values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  schemas::ParseOptions options;
  options.reference_ts_ms = kReferenceTsMs;
  online_learner::IsgdOptions isgd;
  isgd.dim = 8;
  isgd.negatives = 4;
  // A fresh learner per input: a crash then reproduces from its input alone.
  online_learner::Learner learner(isgd, 64);

  size_t start = 0;
  while (start <= input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    start = end + 1;

    auto parse_event = [&](std::string_view json) { return schemas::ParseEvent(json, options); };
    RoundTrip<schemas::Event>(line, parse_event, schemas::SerializeEvent, "event round trip");
    RoundTrip<schemas::Item>(
        line, [](std::string_view json) { return schemas::ParseItem(json); }, schemas::SerializeItem,
        "item round trip");
    RoundTrip<schemas::RecommendationList>(
        line, [](std::string_view json) { return schemas::ParseRecommendationList(json); },
        schemas::SerializeRecommendationList, "recommendation list round trip");

    auto parsed = parse_event(line);
    if (const auto* event = std::get_if<schemas::Event>(&parsed)) {
      const auto first = learner.Apply(*event);
      if (event->event_id && first.outcome != online_learner::ApplyOutcome::kDuplicate &&
          learner.Apply(*event).outcome != online_learner::ApplyOutcome::kDuplicate) {
        Violated("a redelivered event was not dropped", line);
      }
    }
    if (auto item = schemas::ParseItem(line); const auto* i = std::get_if<schemas::Item>(&item)) learner.ApplyItem(*i);
  }

  const auto& model = learner.model();
  for (uint32_t u = 0; u < model.NumUsers(); ++u) {
    if (!Finite(model.ExportUser(UserIndex(u)).factors)) Violated("a user row is not finite", input);
  }
  for (uint32_t i = 0; i < model.NumItems(); ++i) {
    const auto row = model.ExportItem(ItemIndex(i));
    if (!std::isfinite(row.bias) || !Finite(row.factors) || !Finite(row.context)) {
      Violated("an item row is not finite", input);
    }
  }
  return 0;
}
