#pragma once

// ListStream: fans out published lists (and once-a-second live stats) to
// the Server-Sent Events subscribers of GET /v1/stream. The publisher never
// waits: each subscriber has a bounded queue, and a subscriber that falls
// behind loses its oldest events (counted, so the stream can say so). Lists
// beyond a rate cap are not streamed at all: a pipeline publishing 100k
// lists/s should not spend its thread serialising them for a browser.
//
// Lifecycle: the ListStream outlives its subscriptions' use; Close() wakes
// every waiting subscriber for good (server shutdown).
// Thread-safety: every method may be called from any thread. Publishing
// costs nothing beyond an atomic load while nobody subscribes.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "streamrec/schemas/event.h"

namespace streamrec::serving {

struct StreamEvent {
  std::string name;                         // SSE `event:` field: "list" or "stats"
  std::shared_ptr<const std::string> data;  // JSON, shared by every subscriber
};

class ListStream;

// One subscriber's queue. Unsubscribes when destroyed.
class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Waits up to `timeout` for events; returns what is queued (possibly
  // nothing). Returns nullopt once the stream is closed.
  std::optional<std::vector<StreamEvent>> Wait(std::chrono::milliseconds timeout);
  // Events dropped because this subscriber fell behind, since the last call.
  uint64_t TakeDropped();

 private:
  friend class ListStream;
  Subscription(ListStream& stream, size_t capacity) : stream_(stream), capacity_(capacity) {}
  void Push(const StreamEvent& event);  // called with the stream's lock held

  ListStream& stream_;
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamEvent> queue_;
  uint64_t dropped_ = 0;
  bool closed_ = false;
};

class ListStream {
 public:
  // `queue_capacity`: events each subscriber may have waiting.
  // `max_lists_per_second`: lists streamed per second at most (a token
  // bucket with one second's burst); the rest are skipped.
  explicit ListStream(size_t queue_capacity = 256, double max_lists_per_second = 500)
      : queue_capacity_(queue_capacity), max_lists_per_second_(max_lists_per_second) {}
  ~ListStream() { Close(); }

  // Nullptr when closed or when `max_subscribers` are already subscribed.
  std::unique_ptr<Subscription> Subscribe(size_t max_subscribers);
  bool has_subscribers() const { return subscribers_count_.load(std::memory_order_relaxed) > 0; }
  size_t subscribers() const { return subscribers_count_.load(std::memory_order_relaxed); }

  // A fresh list, as `event: list` with the list's JSON (unless over the
  // rate cap).
  void PublishList(const schemas::RecommendationList& list);
  // Lists not streamed because of the rate cap.
  uint64_t lists_skipped() const { return lists_skipped_.load(std::memory_order_relaxed); }
  // Live numbers, as `event: stats` with `json` as data.
  void PublishStats(std::string json);
  // Ends every subscription; later Subscribe calls get nullptr.
  void Close();

 private:
  friend class Subscription;
  void Publish(const StreamEvent& event);
  void Unsubscribe(Subscription* subscription);
  bool TakeListToken();

  const size_t queue_capacity_;
  const double max_lists_per_second_;
  std::atomic<uint64_t> lists_skipped_{0};
  double list_tokens_ = 0;  // guarded by mutex_, as is what follows
  std::chrono::steady_clock::time_point list_tokens_at_{};
  std::mutex mutex_;
  std::vector<Subscription*> subscribers_;
  std::atomic<size_t> subscribers_count_{0};
  bool closed_ = false;
};

}  // namespace streamrec::serving
