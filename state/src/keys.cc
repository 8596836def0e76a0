#include "keys.h"

#include "byte_codec.h"

namespace streamrec::state::internal {

std::string OffsetKeyPrefix(std::string_view topic) {
  std::string key;
  ByteWriter w(&key);
  w.U16Be(static_cast<uint16_t>(topic.size()));
  w.Bytes(topic);
  return key;
}

std::string OffsetKey(std::string_view topic, PartitionId partition) {
  std::string key = OffsetKeyPrefix(topic);
  ByteWriter(&key).U32Be(static_cast<uint32_t>(partition.value()));
  return key;
}

std::optional<PartitionId> OffsetKeyPartition(std::string_view key, size_t prefix_size) {
  if (key.size() != prefix_size + 4) return std::nullopt;
  ByteReader r(key.substr(prefix_size));
  uint32_t raw = 0;
  if (!r.U32Be(&raw) || raw > 0x7fffffffu) return std::nullopt;
  return PartitionId(static_cast<int32_t>(raw));
}

namespace {

// prefix | value big-endian, so keys under one prefix sort numerically.
template <typename Int>
std::string BigEndianKey(std::string_view prefix, Int value) {
  std::string key(prefix);
  ByteWriter w(&key);
  if constexpr (sizeof(Int) == 4) {
    w.U32Be(value);
  } else {
    w.U64Be(value);
  }
  return key;
}

// The value of a key made by BigEndianKey with `prefix`, or nullopt when the
// key has another prefix or length.
template <typename Int>
std::optional<Int> BigEndianKeyValue(std::string_view key, std::string_view prefix) {
  if (key.size() != prefix.size() + sizeof(Int) || !key.starts_with(prefix)) return std::nullopt;
  ByteReader r(key.substr(prefix.size()));
  Int value = 0;
  bool read = false;
  if constexpr (sizeof(Int) == 4) {
    read = r.U32Be(&value);
  } else {
    read = r.U64Be(&value);
  }
  if (!read) return std::nullopt;
  return value;
}

}  // namespace

std::string SamplerSegmentKey(uint32_t segment) { return BigEndianKey(kMetaSamplerSegmentPrefix, segment); }

std::optional<uint32_t> SamplerSegmentOf(std::string_view key) {
  return BigEndianKeyValue<uint32_t>(key, kMetaSamplerSegmentPrefix);
}

std::string DedupKey(uint64_t position) { return BigEndianKey(kMetaDedupPrefix, position); }

std::optional<uint64_t> DedupKeyPosition(std::string_view key) {
  return BigEndianKeyValue<uint64_t>(key, kMetaDedupPrefix);
}

}  // namespace streamrec::state::internal
