// Event parsing: schemas::ParseEvent (validating SAX codec) on ~120-byte
// events, beside references parsing the same bytes:
//   NlohmannDom      nlohmann::json::parse into a DOM (no validation)
//   SimdjsonOndemand simdjson on-demand, reading the five fields (no
//                    validation beyond types), when libsimdjson-dev is found
// The events cycle through 4096 distinct messages, so no branch predictor
// learns one message.

#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "streamrec/base/hash.h"
#include "streamrec/schemas/codec.h"

#ifdef STREAMREC_BENCH_SIMDJSON
#include <simdjson.h>
#endif

namespace streamrec::bench {
namespace {

const std::vector<std::string>& SampleEvents() {
  static const std::vector<std::string> events = [] {
    std::vector<std::string> out;
    CounterRng rng(3);
    constexpr const char* kTypes[] = {"view", "click", "add_to_cart", "purchase", "click", "view"};
    for (int k = 0; k < 4096; ++k) {
      schemas::Event e;
      e.user_id = fmt::format("u{}", rng.NextBelow(1000000));
      e.item_id = fmt::format("sku-{}", rng.NextBelow(100000));
      e.type = *schemas::EventTypeFromName(kTypes[rng.NextBelow(6)]);
      e.ts_ms = 1732350000000 + k * 37;
      e.event_id = fmt::format("{:016x}-{:08x}", rng.Next(), static_cast<uint32_t>(rng.Next()));
      out.push_back(schemas::SerializeEvent(e));
    }
    return out;
  }();
  return events;
}

double MeanBytes() {
  double total = 0;
  for (const auto& e : SampleEvents()) total += static_cast<double>(e.size());
  return total / static_cast<double>(SampleEvents().size());
}

template <typename Fn>
void ParseLoop(benchmark::State& state, Fn&& parse) {
  const auto& events = SampleEvents();
  size_t k = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& e = events[k];
    parse(e);
    bytes += static_cast<int64_t>(e.size());
    k = (k + 1) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["event_bytes"] = MeanBytes();
}

void BM_ParseEvent(benchmark::State& state) {
  schemas::ParseOptions options;
  options.reference_ts_ms = 1732350000000 + 3600000;  // as ingest: checked against the Kafka timestamp
  ParseLoop(state, [&](const std::string& e) {
    auto parsed = schemas::ParseEvent(e, options);
    benchmark::DoNotOptimize(parsed);
  });
}
BENCHMARK(BM_ParseEvent);

void BM_NlohmannDom(benchmark::State& state) {
  ParseLoop(state, [](const std::string& e) {
    auto doc = nlohmann::json::parse(e, nullptr, /*allow_exceptions=*/false);
    benchmark::DoNotOptimize(doc);
  });
}
BENCHMARK(BM_NlohmannDom);

#ifdef STREAMREC_BENCH_SIMDJSON
void BM_SimdjsonOndemand(benchmark::State& state) {
  simdjson::ondemand::parser parser;
  // simdjson needs SIMDJSON_PADDING readable bytes past the end.
  std::vector<simdjson::padded_string> padded;
  for (const auto& e : SampleEvents()) padded.emplace_back(e);
  size_t k = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    auto doc = parser.iterate(padded[k]);
    std::string_view user, item, type, event_id;
    int64_t ts = 0;
    bool ok = doc["user_id"].get_string().get(user) == simdjson::SUCCESS &&
              doc["item_id"].get_string().get(item) == simdjson::SUCCESS &&
              doc["type"].get_string().get(type) == simdjson::SUCCESS &&
              doc["ts"].get_int64().get(ts) == simdjson::SUCCESS &&
              doc["event_id"].get_string().get(event_id) == simdjson::SUCCESS;
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(ts);
    bytes += static_cast<int64_t>(padded[k].size());
    k = (k + 1) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["event_bytes"] = MeanBytes();
}
BENCHMARK(BM_SimdjsonOndemand);
#endif

}  // namespace
}  // namespace streamrec::bench
