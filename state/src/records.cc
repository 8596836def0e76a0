#include "streamrec/state/records.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "byte_codec.h"

namespace streamrec::state {
namespace {

using internal::ByteReader;
using internal::ByteWriter;

// Builds the one shape of message every decoding error has:
//   "<kind> record '<key>': <what>"
// so an operator can find the record (e.g. with ldb) from the message alone.
class Decoding {
 public:
  Decoding(std::string_view kind, std::string_view key, std::string_view bytes)
      : kind_(kind), key_(key), reader_(bytes) {}

  ByteReader& reader() { return reader_; }

  Status Fail(std::string_view what) const {
    return Status::Corruption(fmt::format("{} record '{}': {}", kind_, PrintableKey(key_), what));
  }
  Status Truncated(std::string_view field) const {
    return Fail(fmt::format("truncated at {} (record is {} bytes)", field,
                            reader_.position() + reader_.remaining()));
  }

  Status Version(uint8_t expected) {
    uint8_t version = 0;
    return Version(expected, expected, &version);
  }
  // For a kind whose older layouts are still read: any of [oldest, newest].
  Status Version(uint8_t oldest, uint8_t newest, uint8_t* version) {
    if (!reader_.U8(version)) return Fail("empty record");
    if (*version < oldest || *version > newest) {
      return Fail(oldest == newest
                      ? fmt::format("unknown version byte {} (this build reads {})", *version, newest)
                      : fmt::format("unknown version byte {} (this build reads {} to {})", *version, oldest, newest));
    }
    return Status::Ok();
  }

  // Reads a u32 count followed by that many 4-byte elements. The count is
  // checked against the bytes left before anything is allocated, so a forged
  // count cannot make the decoder reserve gigabytes.
  Status CountFor(std::string_view field, uint32_t* count) {
    if (!reader_.U32(count)) return Truncated(fmt::format("{} count", field));
    if (uint64_t{*count} * 4 > reader_.remaining()) {
      return Fail(fmt::format("{} count {} needs {} bytes, only {} left", field, *count,
                              uint64_t{*count} * 4, reader_.remaining()));
    }
    return Status::Ok();
  }

  Status Floats(std::string_view field, uint32_t expected, std::vector<float>* out) {
    uint32_t n = 0;
    STREAMREC_RETURN_IF_ERROR(CountFor(field, &n));
    if (n != expected) {
      return Fail(fmt::format("{} has {} values, the store's dimension is {}", field, n, expected));
    }
    out->resize(n);
    for (uint32_t k = 0; k < n; ++k) {
      // CountFor proved the bytes are there.
      (void)reader_.F32(&(*out)[k]);
      if (!std::isfinite((*out)[k])) return Fail(fmt::format("{}[{}] is not finite", field, k));
    }
    return Status::Ok();
  }

  Status Indices(std::string_view field, std::vector<uint32_t>* out) {
    uint32_t n = 0;
    STREAMREC_RETURN_IF_ERROR(CountFor(field, &n));
    out->resize(n);
    for (uint32_t k = 0; k < n; ++k) (void)reader_.U32(&(*out)[k]);
    return Status::Ok();
  }

  Status Finite(std::string_view field, float v) const {
    return std::isfinite(v) ? Status::Ok() : Fail(fmt::format("{} is not finite", field));
  }

  Status End() const {
    if (reader_.remaining() != 0) {
      return Fail(fmt::format("{} trailing bytes after the last field", reader_.remaining()));
    }
    return Status::Ok();
  }

 private:
  std::string_view kind_;
  std::string_view key_;
  ByteReader reader_;
};

bool StrictlyAscending(const std::vector<uint32_t>& v) {
  for (size_t k = 1; k < v.size(); ++k) {
    if (v[k - 1] >= v[k]) return false;
  }
  return true;
}

// Names the record an encoding error is about ("item index 7"). Formatted
// only when an error is reported: every stored row is checked, and a name
// formatted per row cost more than the checks.
struct RecordName {
  std::string_view kind;
  std::optional<uint32_t> index;
  std::string Describe() const { return index ? fmt::format("{} index {}", kind, *index) : std::string(kind); }
};

Status CheckFloats(const RecordName& what, std::string_view field, std::span<const float> values, uint32_t dim) {
  if (values.size() != dim) {
    return Status::InvalidArgument(fmt::format("{}: {} has {} values, the store's dimension is {}", what.Describe(),
                                               field, values.size(), dim));
  }
  // A non-finite float has every exponent bit set. Tested branch-free over
  // the bit patterns, the loop vectorises: every stored row passes here
  // (about 20 item rows per event), and std::isfinite per value was ~1% of
  // all CPU at 5k events/s.
  uint32_t non_finite = 0;
  for (float v : values) {
    non_finite |= static_cast<uint32_t>((std::bit_cast<uint32_t>(v) & 0x7F800000U) == 0x7F800000U);
  }
  if (non_finite == 0) return Status::Ok();
  const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  return Status::InvalidArgument(
      fmt::format("{}: {}[{}] is not finite", what.Describe(), field, std::distance(values.begin(), bad)));
}

Status CheckCount(const RecordName& what, std::string_view field, size_t n) {
  if (n > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument(
        fmt::format("{}: {} has {} entries, more than a record holds", what.Describe(), field, n));
  }
  return Status::Ok();
}

void PutIndices(ByteWriter& w, std::span<const uint32_t> v) {
  w.U32(static_cast<uint32_t>(v.size()));
  for (uint32_t x : v) w.U32(x);
}

void PutFloats(ByteWriter& w, const std::vector<float>& v) {
  w.U32(static_cast<uint32_t>(v.size()));
  if constexpr (std::endian::native == std::endian::little) {
    // The little-endian encoding is the floats' own bytes: one copy (a
    // tenth of the store writer's time went to writing them one by one).
    w.Bytes({reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)});
  } else {
    for (float x : v) w.F32(x);
  }
}

// One-number records: u8 version | u64 value.
std::string EncodeU64Record(uint8_t version, uint64_t value) {
  std::string out;
  ByteWriter w(&out);
  w.U8(version);
  w.U64(value);
  return out;
}

Result<uint64_t> DecodeU64Record(std::string_view kind, uint8_t version, std::string_view field,
                                 std::string_view key, std::string_view bytes) {
  Decoding d(kind, key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(version));
  uint64_t value = 0;
  if (!d.reader().U64(&value)) return d.Truncated(field);
  STREAMREC_RETURN_IF_ERROR(d.End());
  return value;
}

}  // namespace

std::string PrintableKey(std::string_view key) {
  constexpr size_t kMaxShown = 96;
  std::string out;
  for (size_t k = 0; k < key.size() && k < kMaxShown; ++k) {
    const auto c = static_cast<unsigned char>(key[k]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (key.size() > kMaxShown) out += "...";
  return out;
}

// users: u8 version | u32 index | u64 key | u32 event_count | i64 last_ts_ms
//        | u32 n, f32[n] factors | u32 n, u32[n] recent_items | u32 n, u32[n] seen_items
Status AppendUser(const StoredUser& user, uint32_t dim, std::string& out) {
  const auto& row = user.row;
  const RecordName what{"user", user.index.value()};
  STREAMREC_RETURN_IF_ERROR(CheckFloats(what, "factors", row.factors, dim));
  STREAMREC_RETURN_IF_ERROR(CheckCount(what, "recent_items", row.recent_items.size()));
  STREAMREC_RETURN_IF_ERROR(CheckCount(what, "seen_items", row.seen_items.size()));
  if (!StrictlyAscending(row.seen_items)) {
    return Status::InvalidArgument(fmt::format("{}: seen_items are not strictly ascending", what.Describe()));
  }
  out.reserve(out.size() + 1 + 4 + 8 + 4 + 8 + 12 +
              4 * (row.factors.size() + row.recent_items.size() + row.seen_items.size()));
  ByteWriter w(&out);
  w.U8(kUserRecordVersion);
  w.U32(user.index.value());
  w.U64(row.key);
  w.U32(row.event_count);
  w.I64(row.last_ts_ms);
  PutFloats(w, row.factors);
  PutIndices(w, row.recent_items);
  PutIndices(w, row.seen_items);
  return Status::Ok();
}

Result<std::string> EncodeUser(const StoredUser& user, uint32_t dim) {
  std::string out;
  STREAMREC_RETURN_IF_ERROR(AppendUser(user, dim, out));
  return out;
}

Result<StoredUser> DecodeUser(std::string_view key, std::string_view bytes, uint32_t dim) {
  Decoding d("users", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kUserRecordVersion));
  auto& r = d.reader();
  uint32_t index = 0;
  StoredUser user;
  auto& row = user.row;
  if (!r.U32(&index)) return d.Truncated("index");
  if (!r.U64(&row.key)) return d.Truncated("key");
  if (!r.U32(&row.event_count)) return d.Truncated("event_count");
  if (!r.I64(&row.last_ts_ms)) return d.Truncated("last_ts_ms");
  STREAMREC_RETURN_IF_ERROR(d.Floats("factors", dim, &row.factors));
  STREAMREC_RETURN_IF_ERROR(d.Indices("recent_items", &row.recent_items));
  STREAMREC_RETURN_IF_ERROR(d.Indices("seen_items", &row.seen_items));
  if (!StrictlyAscending(row.seen_items)) return d.Fail("seen_items are not strictly ascending");
  STREAMREC_RETURN_IF_ERROR(d.End());
  user.index = UserIndex(index);
  return user;
}

// items: u8 version | u32 index | u64 key | f32 bias | u32 count | u8 available (0|1)
//        | i64 last_ts_ms | u32 n, f32[n] factors
// Version 1 (format 1 stores) went on with | u32 n, f32[n] context.
Status AppendItem(const StoredItem& item, uint32_t dim, std::string& out) {
  const auto& row = item.row;
  const RecordName what{"item", item.index.value()};
  STREAMREC_RETURN_IF_ERROR(CheckFloats(what, "factors", row.factors, dim));
  STREAMREC_RETURN_IF_ERROR(CheckFloats(what, "bias", std::span<const float>(&row.bias, 1), 1));
  out.reserve(out.size() + 1 + 4 + 8 + 4 + 4 + 1 + 8 + 4 + 4 * row.factors.size());
  ByteWriter w(&out);
  w.U8(kItemRecordVersion);
  w.U32(item.index.value());
  w.U64(row.key);
  w.F32(row.bias);
  w.U32(row.count);
  w.U8(row.available ? 1 : 0);
  w.I64(row.last_ts_ms);
  PutFloats(w, row.factors);
  return Status::Ok();
}

Result<std::string> EncodeItem(const StoredItem& item, uint32_t dim) {
  std::string out;
  STREAMREC_RETURN_IF_ERROR(AppendItem(item, dim, out));
  return out;
}

Result<StoredItem> DecodeItem(std::string_view key, std::string_view bytes, uint32_t dim) {
  Decoding d("items", key, bytes);
  uint8_t version = 0;
  STREAMREC_RETURN_IF_ERROR(d.Version(kItemWithContextRecordVersion, kItemRecordVersion, &version));
  auto& r = d.reader();
  uint32_t index = 0;
  uint8_t available = 0;
  StoredItem item;
  auto& row = item.row;
  if (!r.U32(&index)) return d.Truncated("index");
  if (!r.U64(&row.key)) return d.Truncated("key");
  if (!r.F32(&row.bias)) return d.Truncated("bias");
  STREAMREC_RETURN_IF_ERROR(d.Finite("bias", row.bias));
  if (!r.U32(&row.count)) return d.Truncated("count");
  if (!r.U8(&available)) return d.Truncated("available");
  if (available > 1) return d.Fail(fmt::format("available is {}, not 0 or 1", available));
  row.available = available == 1;
  if (!r.I64(&row.last_ts_ms)) return d.Truncated("last_ts_ms");
  STREAMREC_RETURN_IF_ERROR(d.Floats("factors", dim, &row.factors));
  if (version == kItemWithContextRecordVersion) STREAMREC_RETURN_IF_ERROR(d.Floats("context", dim, &row.context));
  STREAMREC_RETURN_IF_ERROR(d.End());
  item.index = ItemIndex(index);
  return item;
}

// item_context: u8 version | u32 n, f32[n] context
Status AppendItemContext(const StoredItem& item, uint32_t dim, std::string& out) {
  STREAMREC_RETURN_IF_ERROR(CheckFloats({"item", item.index.value()}, "context", item.row.context, dim));
  out.reserve(out.size() + 1 + 4 + 4 * item.row.context.size());
  ByteWriter w(&out);
  w.U8(kItemContextRecordVersion);
  PutFloats(w, item.row.context);
  return Status::Ok();
}

Result<std::vector<float>> DecodeItemContext(std::string_view key, std::string_view bytes, uint32_t dim) {
  Decoding d("item_context", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kItemContextRecordVersion));
  std::vector<float> context;
  STREAMREC_RETURN_IF_ERROR(d.Floats("context", dim, &context));
  STREAMREC_RETURN_IF_ERROR(d.End());
  return context;
}

// meta/sampler: u8 version | u64 pushes | u32 n, u32[n] ring   (n <= pushes)
Result<std::string> EncodeSampler(const online_learner::SamplerRow& sampler) {
  STREAMREC_RETURN_IF_ERROR(CheckCount({"sampler"}, "ring", sampler.ring.size()));
  if (sampler.ring.size() > sampler.pushes) {
    return Status::InvalidArgument(fmt::format("sampler: ring holds {} items but only {} were pushed",
                                               sampler.ring.size(), sampler.pushes));
  }
  std::string out;
  ByteWriter w(&out);
  w.U8(kSamplerRecordVersion);
  w.U64(sampler.pushes);
  PutIndices(w, sampler.ring);
  return out;
}

Result<online_learner::SamplerRow> DecodeSampler(std::string_view key, std::string_view bytes) {
  Decoding d("meta", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kSamplerRecordVersion));
  online_learner::SamplerRow sampler;
  if (!d.reader().U64(&sampler.pushes)) return d.Truncated("pushes");
  STREAMREC_RETURN_IF_ERROR(d.Indices("ring", &sampler.ring));
  if (sampler.ring.size() > sampler.pushes) {
    return d.Fail(fmt::format("ring holds {} items but only {} were pushed", sampler.ring.size(),
                              sampler.pushes));
  }
  STREAMREC_RETURN_IF_ERROR(d.End());
  return sampler;
}

// meta/sampler, version 2: u8 version | u64 pushes | u32 ring_size
Result<std::string> EncodeSamplerHead(const SamplerHead& head) {
  if (head.ring_size > head.pushes) {
    return Status::InvalidArgument(
        fmt::format("sampler: ring holds {} items but only {} were pushed", head.ring_size, head.pushes));
  }
  std::string out;
  ByteWriter w(&out);
  w.U8(kSamplerHeadRecordVersion);
  w.U64(head.pushes);
  w.U32(head.ring_size);
  return out;
}

Result<std::variant<SamplerHead, online_learner::SamplerRow>> DecodeSamplerRecord(std::string_view key,
                                                                                 std::string_view bytes) {
  if (!bytes.empty() && static_cast<uint8_t>(bytes.front()) == kSamplerRecordVersion) {
    auto whole = DecodeSampler(key, bytes);
    if (!whole.ok()) return whole.status();
    return std::variant<SamplerHead, online_learner::SamplerRow>(std::move(*whole));
  }
  Decoding d("meta", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kSamplerHeadRecordVersion));
  SamplerHead head;
  if (!d.reader().U64(&head.pushes)) return d.Truncated("pushes");
  if (!d.reader().U32(&head.ring_size)) return d.Truncated("ring_size");
  if (head.ring_size > head.pushes) {
    return d.Fail(fmt::format("ring holds {} items but only {} were pushed", head.ring_size, head.pushes));
  }
  STREAMREC_RETURN_IF_ERROR(d.End());
  return std::variant<SamplerHead, online_learner::SamplerRow>(head);
}

// meta/sampler/<segment>: u8 version | u32 n, u32[n] items
std::string EncodeSamplerSegment(std::span<const uint32_t> items) {
  std::string out;
  out.reserve(1 + 4 + 4 * items.size());
  ByteWriter w(&out);
  w.U8(kSamplerSegmentRecordVersion);
  PutIndices(w, items);
  return out;
}

Result<std::vector<uint32_t>> DecodeSamplerSegment(std::string_view key, std::string_view bytes) {
  Decoding d("meta", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kSamplerSegmentRecordVersion));
  std::vector<uint32_t> items;
  STREAMREC_RETURN_IF_ERROR(d.Indices("items", &items));
  STREAMREC_RETURN_IF_ERROR(d.End());
  return items;
}

// pending: u8 version | i64 event_ts_ms | u64 batch_seq | u8 tombstone (0/1;
// absent in version 1, which owed lists only)
std::string EncodePending(const PendingEntry& entry) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kPendingRecordVersion);
  w.I64(entry.event_ts_ms);
  w.U64(entry.batch_seq);
  w.U8(entry.tombstone ? 1 : 0);
  return out;
}

Result<PendingEntry> DecodePending(std::string_view key, std::string_view bytes) {
  Decoding d("pending", key, bytes);
  uint8_t version = 0;
  STREAMREC_RETURN_IF_ERROR(d.Version(1, kPendingRecordVersion, &version));
  PendingEntry entry;
  if (!d.reader().I64(&entry.event_ts_ms)) return d.Truncated("event_ts_ms");
  if (!d.reader().U64(&entry.batch_seq)) return d.Truncated("batch_seq");
  if (version >= 2) {
    uint8_t tombstone = 0;
    if (!d.reader().U8(&tombstone)) return d.Truncated("tombstone");
    if (tombstone > 1) return d.Fail(fmt::format("tombstone is {}", tombstone));
    entry.tombstone = tombstone == 1;
  }
  STREAMREC_RETURN_IF_ERROR(d.End());
  return entry;
}

// meta/dedup/<position>: u8 version | u64 event id hash
std::string EncodeDedupEntry(uint64_t event_id_hash) { return EncodeU64Record(kDedupRecordVersion, event_id_hash); }

Result<uint64_t> DecodeDedupEntry(std::string_view key, std::string_view bytes) {
  return DecodeU64Record("dedup", kDedupRecordVersion, "hash", key, bytes);
}

// offsets: u8 version | i64 next offset (>= 0)
std::string EncodeOffset(KafkaOffset next) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kOffsetRecordVersion);
  w.I64(next.value());
  return out;
}

Result<KafkaOffset> DecodeOffset(std::string_view key, std::string_view bytes) {
  Decoding d("offsets", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kOffsetRecordVersion));
  int64_t next = 0;
  if (!d.reader().I64(&next)) return d.Truncated("offset");
  if (next < 0) return d.Fail(fmt::format("offset {} is negative", next));
  STREAMREC_RETURN_IF_ERROR(d.End());
  return KafkaOffset(next);
}

// ids/next_index: u8 version | u32 next_user | u32 next_item
std::string EncodeIndexLimits(const IndexLimits& limits) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kIndexLimitsRecordVersion);
  w.U32(limits.next_user);
  w.U32(limits.next_item);
  return out;
}

Result<IndexLimits> DecodeIndexLimits(std::string_view key, std::string_view bytes) {
  Decoding d("ids", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kIndexLimitsRecordVersion));
  IndexLimits limits;
  if (!d.reader().U32(&limits.next_user)) return d.Truncated("next_user");
  if (!d.reader().U32(&limits.next_item)) return d.Truncated("next_item");
  STREAMREC_RETURN_IF_ERROR(d.End());
  return limits;
}

// meta/fingerprint: u8 version | u32 dim (> 0) | u32 n, u8[n] id_scheme
std::string EncodeFingerprint(const Fingerprint& fingerprint) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kFingerprintRecordVersion);
  w.U32(fingerprint.dim);
  w.U32(static_cast<uint32_t>(fingerprint.id_scheme.size()));
  w.Bytes(fingerprint.id_scheme);
  return out;
}

Result<Fingerprint> DecodeFingerprint(std::string_view key, std::string_view bytes) {
  Decoding d("meta", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kFingerprintRecordVersion));
  Fingerprint fingerprint;
  uint32_t n = 0;
  std::string_view scheme;
  if (!d.reader().U32(&fingerprint.dim)) return d.Truncated("dim");
  if (fingerprint.dim == 0) return d.Fail("dim is 0");
  if (!d.reader().U32(&n)) return d.Truncated("id_scheme length");
  if (!d.reader().Bytes(n, &scheme)) return d.Truncated("id_scheme");
  STREAMREC_RETURN_IF_ERROR(d.End());
  fingerprint.id_scheme = std::string(scheme);
  return fingerprint;
}

// u8 version | u64 value
std::string EncodeCounter(uint64_t value) { return EncodeU64Record(kCounterRecordVersion, value); }

Result<uint64_t> DecodeCounter(std::string_view key, std::string_view bytes) {
  return DecodeU64Record("meta", kCounterRecordVersion, "value", key, bytes);
}

// u8 version | u32 n, u8[n] bytes
std::string EncodeString(std::string_view value) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kStringRecordVersion);
  w.U32(static_cast<uint32_t>(value.size()));
  w.Bytes(value);
  return out;
}

Result<std::string> DecodeString(std::string_view key, std::string_view bytes) {
  Decoding d("meta", key, bytes);
  STREAMREC_RETURN_IF_ERROR(d.Version(kStringRecordVersion));
  uint32_t n = 0;
  std::string_view value;
  if (!d.reader().U32(&n)) return d.Truncated("length");
  if (!d.reader().Bytes(n, &value)) return d.Truncated("bytes");
  STREAMREC_RETURN_IF_ERROR(d.End());
  return std::string(value);
}

}  // namespace streamrec::state
