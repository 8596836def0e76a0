#pragma once

// ItemSnapshot: the refresher thread's own copy of the item side of the
// model (q_i, b_i, availability, popularity, ids). The learner thread never
// shares its model with the refresher: after each batch it sends the rows
// that batch changed (ItemUpdate), and the refresher applies them between
// two top-N computations. So learning never waits on top-N and top-N never
// reads a vector half-written.
//
// Cost: one more copy of q_i and b_i (dim + 1 floats per item: 51 MB for
// 100k items at dim 128), and copying each changed row once per batch.
// With `quantized` (serving.index=sq8) it also keeps an int8 copy of q_i
// (QuantizedItems: dim bytes + 8 per item), each changed row quantized again
// as it is applied.
//
// Thread-safety: none; one thread owns it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "streamrec/base/ids.h"
#include "streamrec/serving/quantized_items.h"

namespace streamrec::serving {

// One item's serving state after a batch. `id` is set for an item the
// snapshot does not hold yet (it may be left empty for known ones).
struct ItemUpdate {
  ItemIndex item;
  std::string id;
  float bias = 0;
  uint32_t count = 0;
  bool available = true;
  std::vector<float> factors;  // dim values
};

class ItemSnapshot {
 public:
  explicit ItemSnapshot(int dim, bool quantized = false) : dim_(dim) {
    if (quantized) quantized_.emplace(dim);
  }

  // Sets the item's row; indices beyond the current size grow the snapshot
  // (rows in between stay unavailable until their own update arrives).
  void Apply(const ItemUpdate& update);

  // Re-sorts the int8 copy's scan order (QuantizedItems::Reorder) for users
  // of about `user_norm`, once as many rows were applied as it holds (at
  // least kMinSetsPerReorder). Does nothing without the int8 copy.
  void RefreshScanOrder(float user_norm);
  static constexpr uint64_t kMinSetsPerReorder = 4096;

  // The same reads top-N makes of IsgdModel (serving/top_n.h).
  int dim() const { return dim_; }
  uint32_t NumItems() const { return static_cast<uint32_t>(bias_.size()); }
  const float* ItemMatrix() const { return factors_.data(); }
  const float* ItemBias() const { return bias_.data(); }
  bool IsAvailable(ItemIndex item) const { return available_[item.value()] != 0; }
  uint32_t ItemCount(ItemIndex item) const { return count_[item.value()]; }
  std::string_view Name(ItemIndex item) const { return ids_[item.value()]; }
  // The int8 copy of the item matrix (same rows), or null when not kept.
  const QuantizedItems* quantized() const { return quantized_ ? &*quantized_ : nullptr; }

 private:
  int dim_;
  std::vector<float> factors_;
  std::vector<float> bias_;
  std::vector<uint8_t> available_;
  std::vector<uint32_t> count_;
  std::vector<std::string> ids_;
  std::optional<QuantizedItems> quantized_;
};

}  // namespace streamrec::serving
