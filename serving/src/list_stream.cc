#include "streamrec/serving/list_stream.h"

#include <algorithm>
#include <utility>

#include "streamrec/schemas/codec.h"

namespace streamrec::serving {

Subscription::~Subscription() { stream_.Unsubscribe(this); }

std::optional<std::vector<StreamEvent>> Subscription::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  if (closed_) return std::nullopt;
  std::vector<StreamEvent> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

uint64_t Subscription::TakeDropped() {
  std::lock_guard lock(mutex_);
  return std::exchange(dropped_, 0);
}

void Subscription::Push(const StreamEvent& event) {
  {
    std::lock_guard lock(mutex_);
    // Drop the oldest: a dashboard wants what is fresh, not a backlog.
    if (queue_.size() >= capacity_) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(event);
  }
  ready_.notify_one();
}

std::unique_ptr<Subscription> ListStream::Subscribe(size_t max_subscribers) {
  std::lock_guard lock(mutex_);
  if (closed_ || subscribers_.size() >= max_subscribers) return nullptr;
  std::unique_ptr<Subscription> subscription(new Subscription(*this, queue_capacity_));
  subscribers_.push_back(subscription.get());
  subscribers_count_.store(subscribers_.size(), std::memory_order_relaxed);
  return subscription;
}

void ListStream::Unsubscribe(Subscription* subscription) {
  std::lock_guard lock(mutex_);
  std::erase(subscribers_, subscription);
  subscribers_count_.store(subscribers_.size(), std::memory_order_relaxed);
}

void ListStream::Publish(const StreamEvent& event) {
  std::lock_guard lock(mutex_);
  for (Subscription* s : subscribers_) s->Push(event);
}

bool ListStream::TakeListToken() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - list_tokens_at_).count();
  list_tokens_ = std::min(max_lists_per_second_, list_tokens_ + elapsed * max_lists_per_second_);
  list_tokens_at_ = now;
  if (list_tokens_ < 1) return false;
  list_tokens_ -= 1;
  return true;
}

void ListStream::PublishList(const schemas::RecommendationList& list) {
  // Serialised once for every subscriber, and not at all without any.
  if (!has_subscribers()) return;
  if (!TakeListToken()) {
    lists_skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Publish({"list", std::make_shared<const std::string>(schemas::SerializeRecommendationList(list))});
}

void ListStream::PublishStats(std::string json) {
  if (!has_subscribers()) return;
  Publish({"stats", std::make_shared<const std::string>(std::move(json))});
}

void ListStream::Close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (Subscription* s : subscribers_) {
    {
      std::lock_guard sub_lock(s->mutex_);
      s->closed_ = true;
    }
    s->ready_.notify_all();
  }
}

}  // namespace streamrec::serving
