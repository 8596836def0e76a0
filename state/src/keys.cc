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

std::string SamplerSegmentKey(uint32_t segment) {
  std::string key(kMetaSamplerSegmentPrefix);
  ByteWriter(&key).U32Be(segment);
  return key;
}

std::optional<uint32_t> SamplerSegmentOf(std::string_view key) {
  if (key.size() != kMetaSamplerSegmentPrefix.size() + 4 || !key.starts_with(kMetaSamplerSegmentPrefix)) {
    return std::nullopt;
  }
  ByteReader r(key.substr(kMetaSamplerSegmentPrefix.size()));
  uint32_t segment = 0;
  if (!r.U32Be(&segment)) return std::nullopt;
  return segment;
}

std::string DedupKey(uint64_t position) {
  std::string key(kMetaDedupPrefix);
  ByteWriter(&key).U64Be(position);
  return key;
}

std::optional<uint64_t> DedupKeyPosition(std::string_view key) {
  if (key.size() != kMetaDedupPrefix.size() + 8 || !key.starts_with(kMetaDedupPrefix)) return std::nullopt;
  ByteReader r(key.substr(kMetaDedupPrefix.size()));
  uint64_t position = 0;
  if (!r.U64Be(&position)) return std::nullopt;
  return position;
}

}  // namespace streamrec::state::internal
