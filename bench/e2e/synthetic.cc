#include "e2e/synthetic.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "streamrec/base/hash.h"

namespace streamrec::bench {
namespace {

constexpr uint64_t kUserStream = 0x7573657273ULL;
constexpr uint64_t kItemStream = 0x6974656d73ULL;
constexpr uint64_t kTypeStream = 0x7479706573ULL;
constexpr uint64_t kIdStream = 0x6964730000ULL;

double Unit(uint64_t seed, uint64_t stream, uint64_t k) {
  return static_cast<double>(Mix64(Mix64(seed ^ stream) ^ k) >> 11) * 0x1.0p-53;
}

}  // namespace

uint32_t SyntheticStream::UserAt(uint64_t k) const {
  return static_cast<uint32_t>(Unit(shape_.seed, kUserStream, k) * shape_.users);
}

uint32_t SyntheticStream::ItemAt(uint64_t k) const {
  // Rank r with P(rank <= r) = log(r + 1) / log(items + 1): Zipf with s = 1.
  const double n = shape_.items;
  auto rank = static_cast<uint64_t>(std::exp(Unit(shape_.seed, kItemStream, k) * std::log(n + 1.0)) - 1.0);
  if (rank >= shape_.items) rank = shape_.items - 1;
  // Scatter ranks over the catalog (a fixed odd multiplier is a bijection
  // modulo a power of two; modulo items it merely spreads them).
  return static_cast<uint32_t>((rank * 2654435761ULL) % shape_.items);
}

schemas::Event SyntheticStream::EventAt(uint64_t k, int64_t ts_ms) const { return EventFor(k, UserAt(k), ts_ms); }

schemas::Event SyntheticStream::EventFor(uint64_t k, uint32_t user, int64_t ts_ms) const {
  schemas::Event e;
  e.user_id = UserId(user);
  e.item_id = ItemId(ItemAt(k));
  const double t = Unit(shape_.seed, kTypeStream, k);
  e.type = t < 0.5    ? schemas::EventType::kView
           : t < 0.8  ? schemas::EventType::kClick
           : t < 0.92 ? schemas::EventType::kAddToCart
                      : schemas::EventType::kPurchase;
  e.ts_ms = ts_ms;
  e.event_id = fmt::format("{:016x}", Mix64(Mix64(shape_.seed ^ kIdStream) ^ k));
  return e;
}

std::string SyntheticStream::UserId(uint32_t user) { return fmt::format("user-{}", user); }
std::string SyntheticStream::ItemId(uint32_t item) { return fmt::format("sku-{}", item); }

std::optional<uint32_t> SyntheticStream::UserOf(std::string_view user_id) {
  constexpr std::string_view kPrefix = "user-";
  if (!user_id.starts_with(kPrefix)) return std::nullopt;
  uint32_t user = 0;
  const char* end = user_id.data() + user_id.size();
  const auto [at, error] = std::from_chars(user_id.data() + kPrefix.size(), end, user);
  if (error != std::errc() || at != end) return std::nullopt;
  return user;
}

}  // namespace streamrec::bench
