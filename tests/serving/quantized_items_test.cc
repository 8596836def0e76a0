// The int8 copy of serving.index=sq8: quantization error, and every kernel
// giving the same integer dot products.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include <catch2/catch.hpp>

#include "streamrec/serving/item_snapshot.h"
#include "streamrec/serving/quantized_items.h"

namespace streamrec::serving {
namespace {

std::vector<float> RandomRow(std::mt19937& rng, int dim, float spread) {
  std::normal_distribution<float> normal(0.f, spread);
  std::vector<float> row(static_cast<size_t>(dim));
  for (float& x : row) x = normal(rng);
  return row;
}

TEST_CASE("sq8: a quantized row is within half a step of the float one", "[serving]") {
  const int dim = GENERATE(1, 13, 64, 128);
  INFO("dim " << dim);
  std::mt19937 rng(1);
  QuantizedItems items(dim);
  CHECK(items.padded_dim() % kDimGroup == 0);
  CHECK(items.padded_dim() - dim < kDimGroup);
  for (uint32_t i = 0; i < 50; ++i) {
    const std::vector<float> row = RandomRow(rng, dim, 0.1f + static_cast<float>(i));
    items.Set(i, row, 0.f);
    const float scale = items.Scale(i);
    float largest = 0;
    for (float x : row) largest = std::max(largest, std::abs(x));
    CHECK(scale == Approx(largest / 127.f));
    int32_t sum = 0;
    for (int d = 0; d < items.padded_dim(); ++d) {
      const int8_t code = items.Codes(i)[d];
      sum += code;
      CHECK(code >= -127);
      if (d >= dim) {
        CHECK(code == 0);  // padding adds nothing to a dot
        continue;
      }
      CHECK(std::abs(row[static_cast<size_t>(d)] - scale * code) <= 0.5f * scale * (1 + 1e-5f));
    }
    CHECK(items.CodeSum(i) == sum);
  }
  // A zero row (and the rows skipped when the copy grows) has scale 0 and
  // codes 0.
  items.Set(60, std::vector<float>(static_cast<size_t>(dim), 0.f), 0.f);
  REQUIRE(items.NumItems() == 61);
  for (uint32_t i : {55u, 60u}) {
    CHECK(items.Scale(i) == 0.f);
    CHECK(items.CodeSum(i) == 0);
    for (int d = 0; d < items.padded_dim(); ++d) CHECK(items.Codes(i)[d] == 0);
  }
}

TEST_CASE("sq8: the item snapshot's int8 copy follows every applied row", "[serving]") {
  ItemSnapshot plain(3);
  CHECK(plain.quantized() == nullptr);
  ItemSnapshot snapshot(3, /*quantized=*/true);
  REQUIRE(snapshot.quantized() != nullptr);
  snapshot.Apply({ItemIndex(2), "b", 0.f, 1, true, {1.f, -2.f, 0.5f}});
  const QuantizedItems& q = *snapshot.quantized();
  REQUIRE(q.NumItems() == 3);
  CHECK(q.Scale(2) == Approx(2.f / 127));
  CHECK(q.Codes(2)[1] == -127);
  snapshot.Apply({ItemIndex(2), "", 0.f, 1, true, {0.f, 0.f, 4.f}});
  CHECK(q.Scale(2) == Approx(4.f / 127));
  CHECK(q.Codes(2)[0] == 0);
  CHECK(q.Codes(2)[2] == 127);
  CHECK(q.CodeSum(2) == 127);
}

// Integer vectors with a largest |x| of 127 quantize with scale 1 to
// themselves, so the kernels' scores are their integer dot products.
std::vector<float> IntegerRow(std::mt19937& rng, int dim, bool extreme) {
  std::uniform_int_distribution<int> code(-127, 127);
  std::vector<float> row(static_cast<size_t>(dim));
  for (float& x : row) x = static_cast<float>(extreme ? (code(rng) < 0 ? -127 : 127) : code(rng));
  row[0] = 127;
  return row;
}

TEST_CASE("sq8: the VNNI kernel gives the portable kernel's dot products", "[serving]") {
  if (!Int8KernelSupported(Int8Kernel::kAvx512Vnni)) {
    WARN("this CPU has no AVX-512 VNNI: only the portable kernel is checked");
  }
  const int dim = GENERATE(4, 13, 64, 128, 512);
  const size_t users = GENERATE(size_t{1}, size_t{16}, size_t{37});
  INFO("dim " << dim << ", users " << users);
  std::mt19937 rng(static_cast<uint32_t>(dim * 1000 + static_cast<int>(users)));
  // Extreme codes at dim 512 reach the largest sums an int32 must hold.
  const bool extreme = dim == 512;
  QuantizedItems items(dim);
  std::vector<std::vector<float>> item_rows;
  for (uint32_t i = 0; i < 45; ++i) {
    item_rows.push_back(IntegerRow(rng, dim, extreme));
    items.Set(i, item_rows.back(), 0.f);
  }
  QuantizedUsers quantized(dim, users);
  std::vector<std::vector<float>> user_rows;
  for (size_t k = 0; k < users; ++k) {
    user_rows.push_back(IntegerRow(rng, dim, extreme));
    quantized.Set(k, user_rows.back());
  }
  REQUIRE(quantized.padded_count() % kUserTile == 0);
  // A block that starts and ends off the kernel's chunk of 8 items.
  const uint32_t begin = 3;
  const uint32_t count = 41;
  const size_t ld = quantized.padded_count();
  std::vector<float> portable(count * ld, -1.f);
  Int8Scores(Int8Kernel::kPortable, quantized, items, begin, count, portable.data(), ld);
  for (uint32_t j = 0; j < count; ++j) {
    for (size_t k = 0; k < users; ++k) {
      int64_t dot = 0;
      for (int d = 0; d < dim; ++d) {
        dot += static_cast<int64_t>(user_rows[k][static_cast<size_t>(d)]) *
               static_cast<int64_t>(item_rows[begin + j][static_cast<size_t>(d)]);
      }
      REQUIRE(static_cast<double>(portable[j * ld + k]) == static_cast<double>(dot));
    }
  }
  if (!Int8KernelSupported(Int8Kernel::kAvx512Vnni)) return;
  std::vector<float> vnni(count * ld, -2.f);
  Int8Scores(Int8Kernel::kAvx512Vnni, quantized, items, begin, count, vnni.data(), ld);
  for (uint32_t j = 0; j < count; ++j) {
    for (size_t k = 0; k < users; ++k) REQUIRE(vnni[j * ld + k] == portable[j * ld + k]);
  }

  // Real-valued vectors (any scales, a zero user): bitwise the same scores.
  for (uint32_t i = 0; i < 45; ++i) items.Set(i, RandomRow(rng, dim, 0.3f), 0.f);
  for (size_t k = 0; k < users; ++k) {
    quantized.Set(k, k == 0 ? std::vector<float>(static_cast<size_t>(dim), 0.f) : RandomRow(rng, dim, 1.f));
  }
  Int8Scores(Int8Kernel::kPortable, quantized, items, begin, count, portable.data(), ld);
  Int8Scores(Int8Kernel::kAvx512Vnni, quantized, items, begin, count, vnni.data(), ld);
  for (uint32_t j = 0; j < count; ++j) {
    CHECK(portable[j * ld] == 0.f);  // the zero user
    for (size_t k = 0; k < users; ++k) {
      REQUIRE(std::memcmp(&vnni[j * ld + k], &portable[j * ld + k], sizeof(float)) == 0);
    }
  }
  // With a filter: the same hits too (a kernel may skip scores that cannot
  // be hits). Each user's threshold is its score of the block's first item
  // (bias 0 there), so every user has a hit; +inf for the padding users.
  std::vector<float> bias(count);
  for (float& b : bias) b = RandomRow(rng, 1, 0.5f)[0];
  bias[0] = 0.f;
  std::vector<float> threshold(ld, std::numeric_limits<float>::infinity());
  for (size_t k = 0; k < users; ++k) threshold[k] = portable[k];
  std::vector<Int8Hit> portable_hits;
  std::vector<Int8Hit> vnni_hits;
  const Int8Filter portable_filter{bias.data(), threshold.data(), &portable_hits};
  const Int8Filter vnni_filter{bias.data(), threshold.data(), &vnni_hits};
  Int8Scores(Int8Kernel::kPortable, quantized, items, begin, count, portable.data(), ld, &portable_filter);
  Int8Scores(Int8Kernel::kAvx512Vnni, quantized, items, begin, count, vnni.data(), ld, &vnni_filter);
  CHECK_FALSE(portable_hits.empty());
  CHECK(vnni_hits == portable_hits);
  // Every hit is a score at or above its user's threshold, and every such
  // score is in a hit.
  size_t reached = 0;
  for (uint32_t j = 0; j < count; ++j) {
    for (size_t k = 0; k < users; ++k) reached += portable[j * ld + k] + bias[j] >= threshold[k] ? 1 : 0;
  }
  size_t hit_bits = 0;
  for (const Int8Hit& h : portable_hits) hit_bits += static_cast<size_t>(std::popcount(h.users));
  CHECK(hit_bits == reached);
}

TEST_CASE("sq8: Reorder sorts slots by the bound, and every row stays its item's", "[serving]") {
  const int dim = 13;
  std::mt19937 rng(5);
  QuantizedItems items(dim);
  std::vector<std::vector<float>> rows;
  std::vector<float> bias;
  for (uint32_t i = 0; i < 300; ++i) {
    rows.push_back(RandomRow(rng, dim, 0.05f + 0.01f * static_cast<float>(i % 37)));
    bias.push_back(RandomRow(rng, 1, 0.3f)[0]);
    items.Set(i, rows.back(), bias.back());
  }
  CHECK(items.SetsSinceReorder() == 300);
  const auto check_rows = [&] {
    for (uint32_t i = 0; i < 300; ++i) {
      const uint32_t slot = items.SlotOf(i);
      REQUIRE(items.ItemAt(slot) == i);
      CHECK(items.Biases()[slot] == bias[i]);
      std::vector<int8_t> codes(static_cast<size_t>(items.padded_dim()));
      CHECK(items.Scale(slot) == QuantizeRow(rows[i], codes));
      CHECK(std::memcmp(items.Codes(slot), codes.data(), codes.size()) == 0);
      double squares = 0;
      for (int8_t c : codes) squares += c * c;
      CHECK(items.Norm(slot) == Approx(items.Scale(slot) * std::sqrt(squares)));
    }
  };
  check_rows();
  for (float user_norm : {0.f, 1.f, 30.f}) {
    INFO("user norm " << user_norm);
    items.Reorder(user_norm);
    CHECK(items.SetsSinceReorder() == 0);
    check_rows();
    for (uint32_t s = 1; s < 300; ++s) {
      REQUIRE(items.Biases()[s - 1] + user_norm * items.Norm(s - 1) >= items.Biases()[s] + user_norm * items.Norm(s));
    }
  }
  // A row set after the sort stays in its item's slot; a new item takes the
  // next slot.
  rows[7] = RandomRow(rng, dim, 1.f);
  items.Set(7, rows[7], bias[7]);
  check_rows();
  items.Set(300, rows[0], 0.5f);
  CHECK(items.SlotOf(300) == 300);
  CHECK(items.ItemAt(300) == 300);
  CHECK(items.SetsSinceReorder() == 2);
}

TEST_CASE("sq8: the kernel skips chunks whose bound cannot reach a threshold, with the same hits", "[serving]") {
  if (!Int8KernelSupported(Int8Kernel::kAvx512Vnni)) {
    WARN("this CPU has no AVX-512 VNNI: the portable kernel skips nothing");
    return;
  }
  const int dim = 64;
  const size_t users = 37;
  std::mt19937 rng(11);
  // Like learned vectors: users and items share a direction (popularity),
  // item norms spread over two orders of magnitude, and the slots sorted by
  // the bound as serving keeps them. Only the large norms can reach a list.
  const std::vector<float> common = RandomRow(rng, dim, 0.125f);
  const auto around_common = [&](float norm) {
    std::vector<float> row = RandomRow(rng, dim, 0.05f);
    for (size_t d = 0; d < row.size(); ++d) row[d] = norm * (row[d] + common[d]);
    return row;
  };
  QuantizedItems items(dim);
  const uint32_t count = 2000;
  for (uint32_t i = 0; i < count; ++i) {
    items.Set(i, around_common(0.01f + static_cast<float>(i % 100) / 100), RandomRow(rng, 1, 0.05f)[0]);
  }
  items.Reorder(1.f);
  QuantizedUsers quantized(dim, users);
  for (size_t k = 0; k < users; ++k) quantized.Set(k, around_common(1.f));
  const size_t ld = quantized.padded_count();
  std::vector<float> scores(count * ld);
  Int8Scores(Int8Kernel::kPortable, quantized, items, 0, count, scores.data(), ld);
  // Each user's threshold: its 20th best score, as a list of 20 would hold.
  std::vector<float> threshold(ld, std::numeric_limits<float>::infinity());
  for (size_t k = 0; k < users; ++k) {
    std::vector<float> own(count);
    for (uint32_t j = 0; j < count; ++j) own[j] = scores[j * ld + k] + items.Biases()[j];
    std::nth_element(own.begin(), own.begin() + 19, own.end(), std::greater<float>());
    threshold[k] = own[19];
  }
  std::vector<Int8Hit> portable_hits;
  std::vector<Int8Hit> vnni_hits;
  uint64_t portable_scored = 0;
  uint64_t scored = 0;
  const Int8Filter portable_filter{items.Biases(), threshold.data(), &portable_hits, &portable_scored};
  const Int8Filter vnni_filter{items.Biases(), threshold.data(), &vnni_hits, &scored};
  std::vector<float> out(count * ld);
  Int8Scores(Int8Kernel::kPortable, quantized, items, 0, count, out.data(), ld, &portable_filter);
  Int8Scores(Int8Kernel::kAvx512Vnni, quantized, items, 0, count, out.data(), ld, &vnni_filter);
  CHECK(vnni_hits == portable_hits);
  size_t hit_bits = 0;
  for (const Int8Hit& h : vnni_hits) hit_bits += static_cast<size_t>(std::popcount(h.users));
  CHECK(hit_bits == 20 * users);  // ties aside, exactly each user's 20
  const uint64_t chunk_tiles = count / kItemChunk * (ld / kUserTile);
  CHECK(portable_scored == chunk_tiles);  // the portable kernel skips nothing
  CHECK(scored < chunk_tiles / 2);
}

}  // namespace
}  // namespace streamrec::serving
