#pragma once

// Strong types for ids and offsets (in the spirit of Redpanda's named_type):
// a partition cannot be passed where an offset is expected.

#include <compare>
#include <cstdint>
#include <functional>

namespace streamrec {

template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  explicit constexpr NamedType(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;

 private:
  T value_{};
};

// Dense index of a user or item inside the in-memory model (0, 1, 2, ... in
// order of first appearance). External ids are strings; the `ids` column
// family of the store maps one to the other.
using UserIndex = NamedType<uint32_t, struct UserIndexTag>;
using ItemIndex = NamedType<uint32_t, struct ItemIndexTag>;

using PartitionId = NamedType<int32_t, struct PartitionIdTag>;
using KafkaOffset = NamedType<int64_t, struct KafkaOffsetTag>;

}  // namespace streamrec

template <typename T, typename Tag>
struct std::hash<streamrec::NamedType<T, Tag>> {
  size_t operator()(const streamrec::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
