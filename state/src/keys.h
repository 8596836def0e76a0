#pragma once

// The store's column families and keys (state/README.md documents them).
// Private to state/: callers see only FeatureStore's typed API.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "streamrec/base/ids.h"

namespace streamrec::state::internal {

inline constexpr std::string_view kCfUsers = "users";
inline constexpr std::string_view kCfItems = "items";
inline constexpr std::string_view kCfIds = "ids";
inline constexpr std::string_view kCfOffsets = "offsets";
inline constexpr std::string_view kCfMeta = "meta";
inline constexpr std::string_view kCfPending = "pending";
// Since format 2; a format 1 store gets it when it is upgraded.
inline constexpr std::string_view kCfItemContext = "item_context";
// Open order; FeatureStore::Impl indexes its handles by this order.
inline constexpr std::array<std::string_view, 7> kColumnFamilies = {kCfUsers, kCfItems,   kCfIds,        kCfOffsets,
                                                                    kCfMeta,  kCfPending, kCfItemContext};

// ids
inline constexpr std::string_view kIdsNextIndex = "next_index";
// meta
inline constexpr std::string_view kMetaFormatVersion = "format_version";
inline constexpr std::string_view kMetaFingerprint = "fingerprint";
// The popularity sampler's ring: a head record under kMetaSampler and the
// items in segments of kSamplerSegmentSlots under kMetaSamplerSegmentPrefix |
// u32 big-endian segment (records.h). Format 1 kept the whole ring in the
// head key, which is still read.
inline constexpr std::string_view kMetaSampler = "sampler";
inline constexpr std::string_view kMetaSamplerSegmentPrefix = "sampler/";
std::string SamplerSegmentKey(uint32_t segment);
// The segment of a key that starts with kMetaSamplerSegmentPrefix, or nullopt
// when the rest is not exactly 4 bytes.
std::optional<uint32_t> SamplerSegmentOf(std::string_view key);
inline constexpr std::string_view kMetaSource = "source";
inline constexpr std::string_view kMetaBatchSeq = "batch_seq";
inline constexpr std::string_view kMetaStreamTime = "stream_time";
// The learner's dedup window, one key per remembered event id:
// kMetaDedupPrefix | u64 big-endian position (so a prefix scan reads the
// window oldest first).
inline constexpr std::string_view kMetaDedupPrefix = "dedup/";
std::string DedupKey(uint64_t position);
// The position of a key that starts with kMetaDedupPrefix, or nullopt when
// the rest is not exactly 8 bytes.
std::optional<uint64_t> DedupKeyPosition(std::string_view key);

// Topics are length-prefixed rather than separator-terminated so any topic
// bytes are unambiguous; the partition is big-endian so a topic's partitions
// sort numerically and one prefix scan reads them all.
inline constexpr size_t kMaxTopicBytes = 0xffff;

// u16 big-endian topic length | topic bytes
std::string OffsetKeyPrefix(std::string_view topic);
// OffsetKeyPrefix(topic) | i32 big-endian partition (>= 0)
std::string OffsetKey(std::string_view topic, PartitionId partition);
// The partition of a key that starts with OffsetKeyPrefix(topic), or nullopt
// when the rest is not exactly one non-negative big-endian i32.
std::optional<PartitionId> OffsetKeyPartition(std::string_view key, size_t prefix_size);

}  // namespace streamrec::state::internal
