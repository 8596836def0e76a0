#pragma once

// What the end-to-end phases share: pipeline settings built like the
// command line's, client configs derived from them the way the pipeline
// derives its own, an embedded broker with explicit topics, a bulk loader.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "e2e/synthetic.h"
#include "e2e/util.h"
#include "streamrec/apps/config.h"
#include "streamrec/kafka/config.h"
#include "streamrec/kafka/consumer.h"
#include "streamrec/kafka/embedded_broker.h"
#include "streamrec/kafka/producer.h"

namespace streamrec::bench {

// The bench's --set overrides, then the run's own keys (bootstrap, state
// dir, group), exactly as `streamrec run --set ...` would apply them.
Result<apps::Settings> MakeSettings(const std::vector<std::string>& sets, const std::string& bootstrap,
                                    const std::string& state_dir, const std::string& group);

// The consumer properties the pipeline's ingest consumer gets from
// `settings` (apps/src/pipeline.cc drops producer-only keys the same way),
// with `group` as group.id.
Result<kafka::KafkaConfig> PipelineConsumerConfig(const apps::Settings& settings, const std::string& group);

// The settings as "key=value" for the report: every table key that differs
// from its default, and every passthrough kafka.* key.
Json DescribeSettings(const apps::Settings& settings);

// An embedded broker with exactly these topics (name -> partitions).
Result<kafka::EmbeddedBroker> StartBroker(const std::map<std::string, int>& topics);

// Produces events k = first .. first + count - 1 of `stream` to `topic`
// (keyed by user id, lz4, large batches), event k at ts_of(k), then waits for
// every delivery. Fails when any record is not acknowledged.
struct LoadResult {
  uint64_t records = 0;
  uint64_t bytes = 0;  // serialised values
  double seconds = 0;
};
Result<LoadResult> BulkLoad(const std::string& bootstrap, const std::string& topic, const SyntheticStream& stream,
                            uint64_t first, uint64_t count, const std::function<int64_t(uint64_t)>& ts_of);

// Checks that every partition of `topic` still holds everything produced:
// low watermark 0 and the high watermarks summing to `expected` (the mock
// silently drops the oldest batches past ~5 MiB or 100k batches per partition).
Status VerifyNothingDropped(const std::string& bootstrap, const std::string& topic, int partitions,
                            uint64_t expected);

}  // namespace streamrec::bench
