#pragma once

// A synthetic event stream for the end-to-end bench: users uniform, items
// with a Zipf(1)-like popularity (a log-uniform rank, scattered over the
// catalog), types view 50% / click 30% / add_to_cart 12% / purchase 8%,
// a random 16-hex-digit event id. Serialised events are ~110-120 bytes, as
// in the micro benchmark. Everything is a pure function of (seed, k).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "streamrec/schemas/event.h"

namespace streamrec::bench {

struct StreamShape {
  uint32_t users = 100000;
  uint32_t items = 10000;
  uint64_t seed = 1;
};

class SyntheticStream {
 public:
  explicit SyntheticStream(const StreamShape& shape) : shape_(shape) {}
  const StreamShape& shape() const { return shape_; }

  // The k-th event, for `user` (or a uniform user when unset), at `ts_ms`.
  schemas::Event EventAt(uint64_t k, int64_t ts_ms) const;
  schemas::Event EventFor(uint64_t k, uint32_t user, int64_t ts_ms) const;
  uint32_t UserAt(uint64_t k) const;
  uint32_t ItemAt(uint64_t k) const;

  static std::string UserId(uint32_t user);
  static std::string ItemId(uint32_t item);
  // The user of an id UserId made; nothing for any other string.
  static std::optional<uint32_t> UserOf(std::string_view user_id);

 private:
  StreamShape shape_;
};

}  // namespace streamrec::bench
