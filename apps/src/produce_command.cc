// `streamrec produce`: replays an event log into a Kafka topic in time
// order, keyed by user id (so each user's events stay in one partition, in
// order), at full speed, N events/s or X times real time, with progress on
// stderr and a delivery count at the end.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "event_log_report.h"
#include "kafka_settings.h"
#include "streamrec/kafka/embedded_broker.h"
#include "streamrec/kafka/producer.h"
#include "streamrec/schemas/codec.h"
#include "streamrec/schemas/log_reader.h"
#include "text.h"

namespace streamrec::apps {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Under --speed, a longer gap in the log (a quiet night, a gap of years)
// would stall the replay for no insight.
constexpr double kMaxPauseMs = 5000;
constexpr milliseconds kMetadataTimeout{10000};
constexpr milliseconds kFlushSlice{500};
constexpr auto kBarInterval = milliseconds(100);
constexpr auto kLineInterval = milliseconds(2000);
// Serialized sizes of about this many events give the per-partition
// estimate without serializing a large log twice.
constexpr size_t kSizeSamples = 10000;

// Replay defaults; any of them can be overridden with --set kafka.KEY=VALUE.
// enable.idempotence=true is the Producer's own default; linger.ms comes
// from the config table (kafka.linger.ms): at full speed batches fill anyway.
constexpr std::pair<std::string_view, std::string_view> kProducerDefaults[] = {
    {"compression.type", "lz4"},       // JSON events shrink several-fold
    {"batch.num.messages", "100000"},  // batches bounded by batch.size (1 MB) instead
};

enum class PaceKind { kMax, kRate, kSpeed };
struct Pace {
  PaceKind kind = PaceKind::kMax;
  double value = 0;  // events per second (kRate) or the speed factor (kSpeed)
};

struct Request {
  std::string input;
  schemas::LogFormat format;
  std::string topic;
  Pace pace;
  std::optional<int64_t> limit;
};

Result<Pace> ParsePace(const ParsedFlags& flags) {
  const auto rate = flags.Get("rate");
  const auto speed = flags.Get("speed");
  if (rate && speed) return Status::InvalidArgument("--rate and --speed cannot be combined");
  if (rate && *rate != "max") {
    const auto value = ParseNumber(*rate);
    if (!value || *value <= 0) {
      return Status::InvalidArgument(
          fmt::format("--rate expects 'max' or events per second > 0, got '{}'", *rate));
    }
    return Pace{PaceKind::kRate, *value};
  }
  if (speed) {
    const auto value = ParseNumber(*speed);
    if (!value || *value <= 0) {
      return Status::InvalidArgument(
          fmt::format("--speed expects a factor > 0 (60: an hour of log per minute), got '{}'", *speed));
    }
    return Pace{PaceKind::kSpeed, *value};
  }
  return Pace{};
}

Result<Request> ParseRequest(const CommandContext& context) {
  const ParsedFlags& flags = context.flags;
  auto input = flags.Get("input");
  auto format_name = flags.Get("format");
  if (!input || !format_name) {
    return Status::InvalidArgument(
        "produce needs --input FILE and --format movielens-csv|movielens-tsv|jsonl");
  }
  Request request;
  request.input = *input;
  auto format = schemas::LogFormatFromName(*format_name);
  if (!format.ok()) return format.status().WithContext("--format");
  request.format = *format;
  request.topic = flags.Get("topic").value_or(context.settings.pipeline.events_topic);
  if (request.topic.empty()) return Status::InvalidArgument("--topic is empty");
  auto pace = ParsePace(flags);
  if (!pace.ok()) return pace.status();
  request.pace = *pace;
  if (flags.Has("limit")) {
    auto limit = flags.GetInt("limit", 0, 1, INT64_MAX);
    if (!limit.ok()) return limit.status();
    request.limit = *limit;
  }
  return request;
}


// The replay defaults, then the config's producer properties.
Result<kafka::KafkaConfig> ProducerConfig(const Settings& settings) {
  kafka::KafkaConfig config;
  for (const auto& [key, value] : kProducerDefaults) STREAMREC_RETURN_IF_ERROR(config.Set(key, value));
  STREAMREC_RETURN_IF_ERROR(AddKafkaProperties(settings, KafkaRole::kProducer, config));
  return config;
}

// When each event is due, in ms after the replay started: never (kMax), at
// fixed intervals (kRate), or after the log's own gaps divided by the speed
// factor, each capped at kMaxPauseMs (kSpeed). Asked for events in order.
class Schedule {
 public:
  Schedule(const Pace& pace, const std::vector<schemas::Event>& events) : pace_(pace), events_(events) {
    for (size_t i = 0; i < events.size(); ++i) total_ms_ = DueMs(i);
    due_ms_ = 0;
  }

  bool paced() const { return pace_.kind != PaceKind::kMax; }

  // Event `i`'s due time; `i` is 0 or one more than at the previous call.
  double DueMs(size_t i) {
    switch (pace_.kind) {
      case PaceKind::kMax:
        return 0;
      case PaceKind::kRate:
        return static_cast<double>(i) * 1000.0 / pace_.value;
      case PaceKind::kSpeed:
        if (i > 0) {
          const double gap = static_cast<double>(events_[i].ts_ms - events_[i - 1].ts_ms) / pace_.value;
          due_ms_ += std::min(gap, kMaxPauseMs);
        }
        return due_ms_;
    }
    return 0;
  }

  // Scheduled time left `elapsed_ms` after the start.
  double RemainingMs(double elapsed_ms) const { return std::max(0.0, total_ms_ - elapsed_ms); }

 private:
  Pace pace_;
  const std::vector<schemas::Event>& events_;
  double due_ms_ = 0;
  double total_ms_ = 0;
};

std::string FormatEta(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// Progress on stderr: a bar redrawn in place on a terminal, plain lines
// (which logs and CI keep readable) otherwise.
class Progress {
 public:
  Progress(std::ostream& err, bool terminal, uint64_t total)
      : err_(err), terminal_(terminal), total_(total), start_(Clock::now()), last_(start_) {}

  // `scheduled_remaining_ms`: the pacing's own estimate of the time left;
  // unset at full speed, where the average rate predicts it.
  // Draws at most every kBarInterval (terminal) or kLineInterval, unless
  // `force`.
  void Update(uint64_t produced, uint64_t delivered, std::optional<double> scheduled_remaining_ms,
              bool force = false) {
    const auto now = Clock::now();
    if (!force && now - last_ < (terminal_ ? kBarInterval : kLineInterval)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(produced) / seconds : 0;
    const double eta = scheduled_remaining_ms ? *scheduled_remaining_ms / 1000
                       : rate > 0             ? static_cast<double>(total_ - produced) / rate
                                              : 0;
    const double share = total_ == 0 ? 1 : static_cast<double>(produced) / static_cast<double>(total_);
    const std::string counts = fmt::format("{}/{} events ({:.1f}%), {:.0f} ev/s, {} delivered, ETA {}",
                                           produced, total_, share * 100, rate, delivered, FormatEta(eta));
    if (terminal_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(share * kWidth);
      // Trailing blanks wipe what a longer previous line left.
      err_ << fmt::format("\r[{}{}] {}   ", std::string(filled, '#'), std::string(kWidth - filled, '.'),
                          counts)
           << std::flush;
      drawn_ = true;
    } else {
      err_ << "streamrec produce: " << counts << "\n";
    }
  }

  // Shows the final state of a bar drawn before and ends its line, so what
  // follows starts on a fresh one.
  void Finish(uint64_t produced, uint64_t delivered) {
    if (!drawn_) return;
    Update(produced, delivered, 0.0, /*force=*/true);
    err_ << "\n";
  }

 private:
  std::ostream& err_;
  bool terminal_;
  uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_;
  bool drawn_ = false;
};

// Warns when the replay could outrun the embedded broker, which keeps about
// kMockPartitionMaxBytes or kMockPartitionMaxBatches per partition and
// silently drops the oldest. Kafka itself keeps what its retention says, so
// this is only a warning.
void WarnAboutMockBounds(const std::vector<schemas::Event>& events, const std::string& topic, int partitions,
                         bool paced, std::ostream& err) {
  if (events.empty()) return;
  const size_t step = std::max<size_t>(1, events.size() / kSizeSamples);
  uint64_t sampled_bytes = 0, samples = 0;
  for (size_t i = 0; i < events.size(); i += step, ++samples) {
    sampled_bytes += events[i].user_id.size() + schemas::SerializeEvent(events[i]).size();
  }
  const double events_per_partition = static_cast<double>(events.size()) / partitions;
  const double bytes_per_partition = events_per_partition * static_cast<double>(sampled_bytes) / samples;
  constexpr double kMiB = 1024.0 * 1024.0;
  constexpr std::string_view kAdvice =
      "; run the consumer (`streamrec run`) while producing, or use more partitions "
      "(`streamrec broker --partitions N`)\n";
  if (bytes_per_partition > static_cast<double>(kafka::kMockPartitionMaxBytes)) {
    err << fmt::format(
        "streamrec produce: warning: about {:.1f} MiB per partition of '{}' ({} events over {} partition(s); "
        "uncompressed, lz4 usually makes it several times smaller). If the broker is streamrec's embedded "
        "broker, each partition keeps only about {} MiB and silently drops the oldest{}",
        bytes_per_partition / kMiB, topic, events.size(), partitions,
        kafka::kMockPartitionMaxBytes / (1024 * 1024), kAdvice);
  }
  // Paced, each event may leave in a batch of its own.
  if (paced && events_per_partition > static_cast<double>(kafka::kMockPartitionMaxBatches)) {
    err << fmt::format(
        "streamrec produce: warning: paced, up to {:.0f} batches per partition of '{}'. If the broker is "
        "streamrec's embedded broker, each partition keeps only {} batches and silently drops the oldest{}",
        events_per_partition, topic, kafka::kMockPartitionMaxBatches, kAdvice);
  }
}

// Delivery counts, written by the producer's callback on this thread.
struct Deliveries {
  uint64_t delivered = 0;
  uint64_t failed = 0;
  std::optional<std::string> first_error;
};

// Serves delivery reports until `due`, updating the progress meanwhile.
void WaitUntil(Clock::time_point due, kafka::Producer& producer, const std::function<void()>& on_tick) {
  for (auto left = due - Clock::now(); left > Clock::duration::zero(); left = due - Clock::now()) {
    const auto whole_ms = std::chrono::floor<milliseconds>(left);
    if (whole_ms.count() == 0) {
      // Poll works in whole ms; a sub-ms wait (high rates) serves what is
      // ready and sleeps the rest.
      producer.Poll(milliseconds(0));
      std::this_thread::sleep_until(due);
      return;
    }
    producer.Poll(std::min(whole_ms, milliseconds(100)));
    on_tick();
  }
}

Status RunProduce(const CommandContext& context) {
  auto request = ParseRequest(context);
  if (!request.ok()) return request.status();
  auto config = ProducerConfig(context.settings);
  if (!config.ok()) return config.status();

  auto log = schemas::ReadEventLog(request->input, request->format);
  if (!log.ok()) return log.status();
  ReportBadLines(*log, request->input, "produce", context.err);
  std::vector<schemas::Event>& events = log->events;
  schemas::SortByTime(events);
  if (request->limit && events.size() > static_cast<uint64_t>(*request->limit)) {
    events.resize(static_cast<size_t>(*request->limit));
  }

  Deliveries deliveries;
  kafka::ProducerOptions options;
  options.config = std::move(*config);
  options.on_delivery = [&deliveries](const kafka::DeliveryReport& report) {
    if (report.status.ok()) {
      ++deliveries.delivered;
    } else {
      ++deliveries.failed;
      if (!deliveries.first_error) deliveries.first_error = report.status.message();
    }
  };
  auto producer = kafka::Producer::Create(std::move(options));
  if (!producer.ok()) return producer.status();
  // Also the first contact with the broker: a wrong address fails here,
  // before anything is queued.
  auto partitions = producer->PartitionCount(request->topic, kMetadataTimeout);
  if (!partitions.ok()) {
    return partitions.status().WithContext(
        fmt::format("topic '{}' at {}", request->topic, context.settings.kafka.bootstrap_servers));
  }
  Schedule schedule(request->pace, events);
  WarnAboutMockBounds(events, request->topic, *partitions, schedule.paced(), context.err);

  const bool terminal = &context.err == &std::cerr && isatty(STDERR_FILENO) == 1;
  Progress progress(context.err, terminal, events.size());
  uint64_t produced = 0;
  const auto start = Clock::now();
  const auto tick = [&] {
    const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    progress.Update(produced, deliveries.delivered,
                    schedule.paced() ? std::optional(schedule.RemainingMs(elapsed_ms)) : std::nullopt);
  };

  Status stopped;
  for (size_t i = 0; i < events.size(); ++i) {
    if (schedule.paced()) {
      const std::chrono::duration<double, std::milli> due(schedule.DueMs(i));
      WaitUntil(start + std::chrono::duration_cast<Clock::duration>(due), *producer, tick);
    }
    const schemas::Event& event = events[i];
    const std::string value = schemas::SerializeEvent(event);
    // No timestamp: librdkafka stamps the send time. Event validation
    // compares an event's ts with its message's timestamp (plus a skew), and
    // a replayed event's own ts is legitimately old.
    stopped = producer->Produce({.topic = request->topic, .key = event.user_id, .value = value, .tag = i});
    if (!stopped.ok()) {
      stopped = stopped.WithContext(fmt::format("producing event {} of {}", i + 1, events.size()));
      break;
    }
    ++produced;
    // At full speed, reports pile up between the queue-full waits otherwise.
    if (i % 1024 == 0) producer->Poll(milliseconds(0));
    tick();
  }

  Status flushed;
  while ((flushed = producer->Flush(kFlushSlice)).code() == StatusCode::kUnavailable) tick();
  progress.Finish(produced, deliveries.delivered);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  context.out << fmt::format(
      "produced {} of {} events to '{}' in {:.1f} s ({:.0f} ev/s): {} delivered, {} failed\n", produced,
      events.size(), request->topic, seconds, seconds > 0 ? static_cast<double>(produced) / seconds : 0.0,
      deliveries.delivered, deliveries.failed);
  if (!stopped.ok()) return stopped;
  if (!flushed.ok()) return flushed;
  if (deliveries.failed > 0) {
    return Status::Unavailable(fmt::format("{} of {} events were not delivered (first: {})",
                                           deliveries.failed, produced, *deliveries.first_error));
  }
  return Status::Ok();
}

}  // namespace

Command ProduceCommand() {
  return {
      "produce",
      "Replay an event log into a Kafka topic in time order, keyed by user id (lz4, idempotent producer)",
      "--input FILE --format movielens-csv|movielens-tsv|jsonl [--topic TOPIC] [--rate max|N] [--speed X] "
      "[--limit N] [--config FILE] [--set KEY=VALUE ...]",
      {
          {"input", "FILE", "the event log to replay"},
          {"format", "FORMAT", "movielens-csv, movielens-tsv (u.data) or jsonl"},
          {"topic", "TOPIC", "topic to produce to (default: topics.events)"},
          {"rate", "max|N", "full speed (max, the default) or N events per second"},
          {"speed", "X",
           "X times real time: the gaps between event timestamps divided by X, each pause capped at 5 s"},
          {"limit", "N", "replay only the first N events (in time order)"},
      },
      RunProduce};
}

}  // namespace streamrec::apps
