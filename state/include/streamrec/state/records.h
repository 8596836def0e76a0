#pragma once

// The store's value records: compact binary, little-endian, fixed width, each
// led by a version byte of its own kind (state/README.md lists every layout).
// Decoders accept arbitrary bytes: a wrong version, a truncated record,
// inconsistent lengths, a factor count other than the store's dimension,
// non-finite floats, unsorted item lists or trailing bytes all give
// Status::Corruption naming the record's key, never a crash.
//
// Encoders refuse what a decoder would reject (non-finite values, a factor
// count other than `dim`), so nothing the store writes is unreadable later.
// All functions are pure and thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/base/status.h"
#include "streamrec/online_learner/isgd_model.h"

namespace streamrec::state {

// Version bytes written by this build; a decoder accepts exactly these.
inline constexpr uint8_t kUserRecordVersion = 1;
// Version 2 moved the context vector to a record of its own (item_context);
// version 1 records, which hold it, still decode (with the context filled).
inline constexpr uint8_t kItemRecordVersion = 2;
inline constexpr uint8_t kItemWithContextRecordVersion = 1;
inline constexpr uint8_t kItemContextRecordVersion = 1;
inline constexpr uint8_t kSamplerRecordVersion = 1;      // the whole ring in one record (still read)
inline constexpr uint8_t kSamplerHeadRecordVersion = 2;  // the ring's head; items in segments
inline constexpr uint8_t kSamplerSegmentRecordVersion = 1;
// Version 2 added the tombstone flag; version 1 records still decode (as lists).
inline constexpr uint8_t kPendingRecordVersion = 2;
inline constexpr uint8_t kOffsetRecordVersion = 1;
inline constexpr uint8_t kIndexLimitsRecordVersion = 1;
inline constexpr uint8_t kFingerprintRecordVersion = 1;
inline constexpr uint8_t kCounterRecordVersion = 1;
inline constexpr uint8_t kStringRecordVersion = 1;
inline constexpr uint8_t kDedupRecordVersion = 1;

// A user's row with the dense index it has in the model's IdMap.
struct StoredUser {
  UserIndex index;
  online_learner::UserRow row;
  bool operator==(const StoredUser&) const = default;
};

// An item's row with the dense index it has in the model's IdMap.
struct StoredItem {
  ItemIndex index;
  online_learner::ItemRow row;
  bool operator==(const StoredItem&) const = default;
};

// One past the largest user and item index ever handed out (IdMap::size()).
// Stored so a restart hands out the same next index as an uninterrupted run,
// even when the users with the largest indices were forgotten.
struct IndexLimits {
  uint32_t next_user = 0;
  uint32_t next_item = 0;
  bool operator==(const IndexLimits&) const = default;
};

// A user whose refreshed list (or, once forgotten, whose tombstone) is not
// yet published.
struct PendingEntry {
  int64_t event_ts_ms = 0;  // event time of the newest event applied for the user
  uint64_t batch_seq = 0;   // the store batch that last touched the user
  // The user was forgotten: what is owed is a tombstone, not a list. It is
  // the one key a forgotten user keeps, until Kafka acknowledges the
  // tombstone.
  bool tombstone = false;
  bool operator==(const PendingEntry&) const = default;
};

// The structural keys a store is bound to: a store made with one fingerprint
// cannot be read by a model with another. Tuning keys are deliberately absent
// so they can change between runs.
struct Fingerprint {
  uint32_t dim = 64;                  // learner.dim
  std::string id_scheme = "string-v1";  // how external ids map to keys
  bool operator==(const Fingerprint&) const = default;
};

// Each Decode* takes the record's key only to name it in errors. Append*
// encodes onto `out` (nothing is appended when the row is refused), so a
// writer can keep every row of a batch in one reused buffer.
[[nodiscard]] Status AppendUser(const StoredUser& user, uint32_t dim, std::string& out);
[[nodiscard]] Result<std::string> EncodeUser(const StoredUser& user, uint32_t dim);
[[nodiscard]] Result<StoredUser> DecodeUser(std::string_view key, std::string_view bytes,
                                            uint32_t dim);

// An item is two records: the row without its context (AppendItem; the
// context of a version 1 record is decoded into row.context, a version 2
// record leaves it empty) and the context vector (AppendItemContext), which
// change apart (online_learner::ItemParts).
[[nodiscard]] Status AppendItem(const StoredItem& item, uint32_t dim, std::string& out);
[[nodiscard]] Result<std::string> EncodeItem(const StoredItem& item, uint32_t dim);
[[nodiscard]] Result<StoredItem> DecodeItem(std::string_view key, std::string_view bytes,
                                            uint32_t dim);
[[nodiscard]] Status AppendItemContext(const StoredItem& item, uint32_t dim, std::string& out);
[[nodiscard]] Result<std::vector<float>> DecodeItemContext(std::string_view key, std::string_view bytes, uint32_t dim);

// The popularity sampler's ring as one record: how stores before segments
// kept it, and the canonical form a digest hashes.
[[nodiscard]] Result<std::string> EncodeSampler(const online_learner::SamplerRow& sampler);
[[nodiscard]] Result<online_learner::SamplerRow> DecodeSampler(std::string_view key,
                                                               std::string_view bytes);

// The ring is stored in segments of this many slots, so a batch rewrites
// only the segments its positives were pushed into (the whole ring, up to
// learner.sampler_window items, was rewritten by every batch before).
inline constexpr uint32_t kSamplerSegmentSlots = 1024;
struct SamplerHead {
  uint64_t pushes = 0;
  uint32_t ring_size = 0;  // <= pushes; the segments hold this many items
  bool operator==(const SamplerHead&) const = default;
};
[[nodiscard]] Result<std::string> EncodeSamplerHead(const SamplerHead& head);
// The record under the sampler key: a head, or (older stores) the whole ring.
[[nodiscard]] Result<std::variant<SamplerHead, online_learner::SamplerRow>> DecodeSamplerRecord(
    std::string_view key, std::string_view bytes);
[[nodiscard]] std::string EncodeSamplerSegment(std::span<const uint32_t> items);
[[nodiscard]] Result<std::vector<uint32_t>> DecodeSamplerSegment(std::string_view key, std::string_view bytes);

[[nodiscard]] std::string EncodePending(const PendingEntry& entry);
[[nodiscard]] Result<PendingEntry> DecodePending(std::string_view key, std::string_view bytes);

// A next offset to consume (>= 0).
[[nodiscard]] std::string EncodeOffset(KafkaOffset next);
[[nodiscard]] Result<KafkaOffset> DecodeOffset(std::string_view key, std::string_view bytes);

[[nodiscard]] std::string EncodeIndexLimits(const IndexLimits& limits);
[[nodiscard]] Result<IndexLimits> DecodeIndexLimits(std::string_view key, std::string_view bytes);

[[nodiscard]] std::string EncodeFingerprint(const Fingerprint& fingerprint);
[[nodiscard]] Result<Fingerprint> DecodeFingerprint(std::string_view key, std::string_view bytes);

// A plain u64 (the store's batch sequence).
[[nodiscard]] std::string EncodeCounter(uint64_t value);
[[nodiscard]] Result<uint64_t> DecodeCounter(std::string_view key, std::string_view bytes);

// A length-prefixed string (the consumed source's identity).
[[nodiscard]] std::string EncodeString(std::string_view value);
[[nodiscard]] Result<std::string> DecodeString(std::string_view key, std::string_view bytes);

// One id of the learner's dedup window: the hash of an event_id (its
// position is in the key).
[[nodiscard]] std::string EncodeDedupEntry(uint64_t event_id_hash);
[[nodiscard]] Result<uint64_t> DecodeDedupEntry(std::string_view key, std::string_view bytes);

// `key` made safe to print in a message: bytes outside printable ASCII become
// \xNN, and long keys are cut with "...".
[[nodiscard]] std::string PrintableKey(std::string_view key);

}  // namespace streamrec::state
