#pragma once

// DemoFeed: the synthetic website feed of `streamrec demo` — realistic JSON
// events for the `events` topic and catalog records for `items`, generated
// from a seed, so the same seed and the same sequence of clock readings
// give the same records.
//
// The hidden world behind the events:
// - each user likes 1-3 of `genres` genres; an item has one genre and a
//   Zipf-like popularity (exponent `zipf_exponent`) over the whole catalog;
// - `concurrent_sessions` users are active at a time, their actions
//   interleaved; a session is a few actions of one user, mostly on items of
//   the user's genres (now and then any popular item);
// - within a session a viewed item goes down the funnel view -> click ->
//   add_to_cart -> purchase with falling probabilities; an item outside the
//   user's genres is sometimes disliked;
// - new items arrive (a catalog record, then events), items occasionally
//   become unavailable (a record with available=false; no event names them
//   afterwards), users' tastes drift, and a rare user asks to be forgotten;
// - a `malformed_share` of event records is broken on purpose (bad JSON, a
//   missing user_id, an unknown type, a NaN-like value, ts in seconds...) so
//   the dead-letter path has work.
// Item ids name their genre ("jazz-17"), so a list's fit to a user's taste
// shows at a glance; user ids are "u0".."u<users-1>".
//
// Thread-compatible: one thread at a time (the demo's producer loop).

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "streamrec/schemas/event.h"

namespace streamrec::apps {

struct DemoFeedOptions {
  // Users in the population. Default: 2000.
  int users = 2000;
  // Items in the catalog at the start. Default: 5000.
  int items = 5000;
  // Genres items belong to and users like (at most the 20 named ones).
  // Default: 20.
  int genres = 20;
  // Seeds everything; event ids carry it, so runs with different seeds
  // never share an event id. Default: 1.
  uint64_t seed = 1;
  // Share of event records that are malformed on purpose. Default: 0.002.
  double malformed_share = 0.002;
  // A new item arrives once per this many events. Default: 500.
  int new_item_every = 500;
  // An item becomes unavailable once per this many events. Default: 4000.
  int withdraw_every = 4000;
  // One user's taste shifts (a liked genre swapped for another) once per
  // this many events; with the defaults each user drifts every ~100k events.
  // Default: 50.
  int drift_every = 50;
  // Share of session starts that are a user asking to be forgotten.
  // Default: 0.001.
  double forget_share = 0.001;
  // Popularity of the item of rank r is proportional to 1/(r+1)^exponent.
  // Default: 1.1.
  double zipf_exponent = 1.1;
  // Users acting at the same time. Default: 32.
  int concurrent_sessions = 32;
};

enum class FeedTopic { kEvents, kItems };

// One record to produce.
struct FeedRecord {
  FeedTopic topic = FeedTopic::kEvents;
  std::string key;         // user_id for events (even a malformed one), item_id for items
  std::string value;       // JSON
  bool malformed = false;  // broken on purpose: the pipeline must dead-letter it
};

class DemoFeed {
 public:
  explicit DemoFeed(const DemoFeedOptions& options = {});

  // Catalog records (availability, title, genre tag) of the items present
  // at the start, for the `items` topic before the feed runs.
  std::vector<FeedRecord> InitialCatalog() const;

  // The next record, with ts = `now_ms` for events. A catalog record comes
  // whenever an item arrives or is withdrawn: a new item's record precedes
  // every event about it.
  FeedRecord Next(int64_t now_ms);

 private:
  struct Item {
    std::string id;
    int genre;
    double weight;  // popularity; 0 once unavailable
  };
  struct User {
    std::vector<int> genres;  // 1-3 liked genres
  };
  struct Session {
    int user = -1;
    int item = -1;  // the item going down the funnel, or -1
    int stage = 0;  // funnel stage reached with `item` (0 view ... 3 purchase)
  };
  // Sampling by weight: prefix sums and the items they belong to.
  struct Sampler {
    std::vector<int> items;
    std::vector<double> cumulative;
  };

  double Uniform();       // [0, 1)
  int UniformInt(int n);  // [0, n)
  double RankWeight(int rank) const;
  int SampleItem(const Sampler& sampler);
  int PickItemFor(const User& user);
  void Rebuild(Sampler& sampler) const;
  int AddItem(int genre, double weight);
  FeedRecord ItemRecord(int item) const;
  // `item` -1: none (forget).
  FeedRecord EventRecord(int user, int item, schemas::EventType type, int64_t now_ms);
  FeedRecord Malformed(int user, int64_t now_ms);
  FeedRecord SessionStep(Session& session, int64_t now_ms);
  void StartSession(Session& session);
  void Drift();

  DemoFeedOptions options_;
  std::mt19937_64 rng_;
  std::vector<Item> items_;
  std::vector<User> users_;
  std::vector<Sampler> by_genre_;
  Sampler all_;
  std::vector<Session> sessions_;
  std::vector<int> next_number_;  // per genre, for item ids
  uint64_t events_ = 0;           // event records so far, malformed included
  uint64_t next_event_id_ = 0;
  // The event counts at which the next arrival, withdrawal and drift happen.
  uint64_t next_arrival_ = 0;
  uint64_t next_withdrawal_ = 0;
  uint64_t next_drift_ = 0;
};

}  // namespace streamrec::apps
