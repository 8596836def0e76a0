#include "streamrec/serving/item_snapshot.h"

#include <algorithm>
#include <cassert>
#include <cstddef>

namespace streamrec::serving {

void ItemSnapshot::Apply(const ItemUpdate& update) {
  const uint32_t i = update.item.value();
  if (i >= NumItems()) {
    const size_t n = size_t{i} + 1;
    factors_.resize(n * static_cast<size_t>(dim_), 0.f);
    bias_.resize(n, 0.f);
    available_.resize(n, 0);
    count_.resize(n, 0);
    ids_.resize(n);
  }
  assert(update.factors.size() == static_cast<size_t>(dim_));
  std::copy(update.factors.begin(), update.factors.end(), factors_.begin() + static_cast<std::ptrdiff_t>(i) * dim_);
  if (quantized_) quantized_->Set(i, update.factors, update.bias);
  bias_[i] = update.bias;
  available_[i] = update.available ? 1 : 0;
  count_[i] = update.count;
  if (!update.id.empty()) ids_[i] = update.id;
}

void ItemSnapshot::RefreshScanOrder(float user_norm) {
  // Once about every item may have moved: a re-sort of 100k items at dim 64
  // costs a few ms. Between re-sorts the order only loses skips, never lists.
  if (quantized_ && quantized_->SetsSinceReorder() >= std::max<uint64_t>(NumItems(), kMinSetsPerReorder)) {
    quantized_->Reorder(user_norm);
  }
}

}  // namespace streamrec::serving
