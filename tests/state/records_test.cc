#include <cmath>
#include <limits>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "state_test_util.h"
#include "streamrec/state/records.h"
#include "support/test_support.h"

namespace streamrec::state {
namespace {

using testing::RandomItemRow;
using testing::RandomUserRow;

constexpr uint32_t kDim = 8;

StoredUser SomeUser() {
  std::mt19937_64 rng(1);
  return {UserIndex(7), RandomUserRow(rng, kDim, 20)};
}

StoredItem SomeItem() {
  std::mt19937_64 rng(2);
  return {ItemIndex(3), RandomItemRow(rng, kDim)};
}

std::string Encoded(const StoredUser& user) {
  auto bytes = EncodeUser(user, kDim);
  REQUIRE_RESULT_OK(bytes);
  return *bytes;
}

void RequireCorruption(const Status& status, std::string_view needle) {
  INFO(status.ToString());
  REQUIRE(status.code() == StatusCode::kCorruption);
  CHECK(status.message().find(needle) != std::string::npos);
}

TEST_CASE("Records round-trip for many random rows", "[state]") {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 2000; ++trial) {
    const uint32_t dim = 1 + static_cast<uint32_t>(rng() % 70);
    const uint32_t items = 1 + static_cast<uint32_t>(rng() % 200);
    const StoredUser user{UserIndex(static_cast<uint32_t>(rng())), RandomUserRow(rng, dim, items)};
    auto user_bytes = EncodeUser(user, dim);
    REQUIRE_RESULT_OK(user_bytes);
    auto user_back = DecodeUser("u", *user_bytes, dim);
    REQUIRE_RESULT_OK(user_back);
    REQUIRE(*user_back == user);

    const StoredItem item{ItemIndex(static_cast<uint32_t>(rng())), RandomItemRow(rng, dim)};
    auto item_bytes = EncodeItem(item, dim);
    REQUIRE_RESULT_OK(item_bytes);
    auto item_back = DecodeItem("i", *item_bytes, dim);
    REQUIRE_RESULT_OK(item_back);
    CHECK(item_back->row.context.empty());  // a record of its own
    std::string context_bytes;
    REQUIRE_OK(AppendItemContext(item, dim, context_bytes));
    auto context_back = DecodeItemContext("i", context_bytes, dim);
    REQUIRE_RESULT_OK(context_back);
    item_back->row.context = std::move(*context_back);
    REQUIRE(*item_back == item);

    online_learner::SamplerRow sampler;
    for (size_t k = rng() % 100; k > 0; --k) sampler.ring.push_back(static_cast<uint32_t>(rng()));
    sampler.pushes = sampler.ring.size() + rng() % 1000;
    auto sampler_bytes = EncodeSampler(sampler);
    REQUIRE_RESULT_OK(sampler_bytes);
    auto sampler_back = DecodeSampler("sampler", *sampler_bytes);
    REQUIRE_RESULT_OK(sampler_back);
    REQUIRE(*sampler_back == sampler);
    // The same ring as a head and one segment, and the one-record form read
    // through the head's decoder.
    const SamplerHead head{sampler.pushes, static_cast<uint32_t>(sampler.ring.size())};
    auto head_back = DecodeSamplerRecord("sampler", *EncodeSamplerHead(head));
    REQUIRE_RESULT_OK(head_back);
    REQUIRE(std::get<SamplerHead>(*head_back) == head);
    auto whole_back = DecodeSamplerRecord("sampler", *sampler_bytes);
    REQUIRE_RESULT_OK(whole_back);
    REQUIRE(std::get<online_learner::SamplerRow>(*whole_back) == sampler);
    auto segment_back = DecodeSamplerSegment("sampler/0", EncodeSamplerSegment(sampler.ring));
    REQUIRE_RESULT_OK(segment_back);
    REQUIRE(*segment_back == sampler.ring);

    const PendingEntry pending{static_cast<int64_t>(rng()), rng(), rng() % 2 == 0};
    auto pending_back = DecodePending("u", EncodePending(pending));
    REQUIRE_RESULT_OK(pending_back);
    REQUIRE(*pending_back == pending);

    const KafkaOffset offset(static_cast<int64_t>(rng() >> 1));
    auto offset_back = DecodeOffset("o", EncodeOffset(offset));
    REQUIRE_RESULT_OK(offset_back);
    REQUIRE(*offset_back == offset);

    const IndexLimits limits{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
    auto limits_back = DecodeIndexLimits("next_index", EncodeIndexLimits(limits));
    REQUIRE_RESULT_OK(limits_back);
    REQUIRE(*limits_back == limits);
  }
}

TEST_CASE("Small records round-trip", "[state]") {
  const Fingerprint fp{32, "string-v1"};
  auto fp_back = DecodeFingerprint("fingerprint", EncodeFingerprint(fp));
  REQUIRE_RESULT_OK(fp_back);
  CHECK(*fp_back == fp);
  auto counter = DecodeCounter("batch_seq", EncodeCounter(123456789012345ULL));
  REQUIRE_RESULT_OK(counter);
  CHECK(*counter == 123456789012345ULL);
  auto text = DecodeString("source", EncodeString(std::string("cluster-1/events\0x", 18)));
  REQUIRE_RESULT_OK(text);
  CHECK(*text == std::string("cluster-1/events\0x", 18));
  // A version-1 pending record (before tombstones were owed) reads as a list.
  auto old_pending = DecodePending("u", std::string("\x01\x05\0\0\0\0\0\0\0\x06\0\0\0\0\0\0\0", 17));
  REQUIRE_RESULT_OK(old_pending);
  CHECK(*old_pending == PendingEntry{5, 6, false});
  auto hash = DecodeDedupEntry("dedup", EncodeDedupEntry(0xfedcba9876543210ULL));
  REQUIRE_RESULT_OK(hash);
  CHECK(*hash == 0xfedcba9876543210ULL);
}

TEST_CASE("The user record layout is pinned", "[state]") {
  // A change here is a format change: bump kUserRecordVersion and keep a
  // decoder for the old version.
  StoredUser user{UserIndex(1), {}};
  user.row.key = 0x0102030405060708ULL;
  user.row.event_count = 2;
  user.row.last_ts_ms = -1;
  user.row.factors = {1.0f};
  user.row.recent_items = {5};
  user.row.seen_items = {};
  auto bytes = EncodeUser(user, 1);
  REQUIRE_RESULT_OK(bytes);
  const std::string expected(
      "\x01"                               // version
      "\x01\x00\x00\x00"                   // index
      "\x08\x07\x06\x05\x04\x03\x02\x01"   // key
      "\x02\x00\x00\x00"                   // event_count
      "\xff\xff\xff\xff\xff\xff\xff\xff"   // last_ts_ms
      "\x01\x00\x00\x00" "\x00\x00\x80\x3f"  // 1 factor: 1.0f
      "\x01\x00\x00\x00" "\x05\x00\x00\x00"  // 1 recent item
      "\x00\x00\x00\x00",                  // 0 seen items
      45);
  CHECK(*bytes == expected);
}

TEST_CASE("Encoders refuse rows a decoder would reject", "[state]") {
  StoredUser user = SomeUser();
  user.row.factors.pop_back();
  CHECK(EncodeUser(user, kDim).status().code() == StatusCode::kInvalidArgument);

  user = SomeUser();
  user.row.factors[2] = std::numeric_limits<float>::quiet_NaN();
  auto nan = EncodeUser(user, kDim);
  CHECK(nan.status().code() == StatusCode::kInvalidArgument);
  CHECK(nan.status().message().find("factors[2] is not finite") != std::string::npos);

  user = SomeUser();
  user.row.seen_items = {3, 3};
  CHECK(EncodeUser(user, kDim).status().code() == StatusCode::kInvalidArgument);

  StoredItem item = SomeItem();
  item.row.bias = std::numeric_limits<float>::infinity();
  CHECK(EncodeItem(item, kDim).status().code() == StatusCode::kInvalidArgument);
  item = SomeItem();
  item.row.context[5] = std::numeric_limits<float>::quiet_NaN();
  std::string context;
  const Status nan_context = AppendItemContext(item, kDim, context);
  CHECK(nan_context.code() == StatusCode::kInvalidArgument);
  CHECK(nan_context.message().find("context[5] is not finite") != std::string::npos);
  CHECK(context.empty());
  item.row.context.pop_back();
  CHECK(AppendItemContext(item, kDim, context).code() == StatusCode::kInvalidArgument);

  online_learner::SamplerRow sampler{{1, 2, 3}, 2};
  CHECK(EncodeSampler(sampler).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Corrupt user records give Corruption naming the key", "[state]") {
  const std::string good = Encoded(SomeUser());

  SECTION("empty") { RequireCorruption(DecodeUser("u42", "", kDim).status(), "users record 'u42': empty"); }
  SECTION("wrong version") {
    std::string bad = good;
    bad[0] = 9;
    RequireCorruption(DecodeUser("u42", bad, kDim).status(), "users record 'u42': unknown version byte 9");
  }
  SECTION("every truncation") {
    for (size_t n = 0; n < good.size(); ++n) {
      const Status s = DecodeUser("u42", good.substr(0, n), kDim).status();
      INFO("prefix of " << n << " bytes");
      RequireCorruption(s, "'u42'");
    }
  }
  SECTION("trailing bytes") {
    RequireCorruption(DecodeUser("u42", good + "x", kDim).status(), "1 trailing bytes");
  }
  SECTION("factor count other than dim") {
    RequireCorruption(DecodeUser("u42", good, kDim + 1).status(), "the store's dimension is 9");
  }
  SECTION("non-finite factor") {
    std::string bad = good;
    // factors start after version, index, key, event_count, last_ts, count.
    const size_t first = 1 + 4 + 8 + 4 + 8 + 4;
    bad.replace(first, 4, std::string("\x00\x00\xc0\x7f", 4));  // quiet NaN
    RequireCorruption(DecodeUser("u42", bad, kDim).status(), "factors[0] is not finite");
  }
  SECTION("a count larger than the bytes left") {
    std::string bad = good;
    const size_t count = 1 + 4 + 8 + 4 + 8 + 4 + 4 * kDim;  // recent_items count
    bad.replace(count, 4, std::string("\xff\xff\xff\x7f", 4));
    RequireCorruption(DecodeUser("u42", bad, kDim).status(), "recent_items count 2147483647 needs");
  }
  SECTION("unsorted seen items") {
    StoredUser user = SomeUser();
    user.row.seen_items = {1, 2};
    std::string bad = Encoded(user);
    bad.replace(bad.size() - 8, 8, std::string("\x02\x00\x00\x00\x01\x00\x00\x00", 8));
    RequireCorruption(DecodeUser("u42", bad, kDim).status(), "not strictly ascending");
  }
  SECTION("unprintable keys are escaped") {
    RequireCorruption(DecodeUser(std::string("a\x01'b", 4), "", kDim).status(), "'a\\x01\\x27b'");
  }
}

// Format 1 stores hold version 1 item records, the context inside: they
// still decode, so a writable open can move the contexts out.
TEST_CASE("A version 1 item record decodes with its context", "[state]") {
  const StoredItem item = SomeItem();
  std::string v1 = *EncodeItem(item, kDim);
  v1[0] = static_cast<char>(kItemWithContextRecordVersion);
  v1 += std::string("\x08\x00\x00\x00", 4);  // u32 context count = kDim
  v1.append(reinterpret_cast<const char*>(item.row.context.data()), kDim * sizeof(float));
  auto back = DecodeItem("sku-1", v1, kDim);
  REQUIRE_RESULT_OK(back);
  CHECK(*back == item);
  RequireCorruption(DecodeItem("sku-1", v1.substr(0, v1.size() - 1), kDim).status(), "sku-1");
  v1[0] = 3;
  RequireCorruption(DecodeItem("sku-1", v1, kDim).status(), "unknown version byte 3 (this build reads 1 to 2)");
}

TEST_CASE("Corrupt item and small records give Corruption", "[state]") {
  auto item = EncodeItem(SomeItem(), kDim);
  REQUIRE_RESULT_OK(item);
  std::string bad = *item;
  bad[1 + 4 + 8 + 4 + 4] = 2;  // available
  RequireCorruption(DecodeItem("sku-1", bad, kDim).status(), "items record 'sku-1': available is 2");
  bad = *item;
  bad.replace(1 + 4 + 8, 4, std::string("\x00\x00\x80\x7f", 4));  // +inf bias
  RequireCorruption(DecodeItem("sku-1", bad, kDim).status(), "bias is not finite");

  std::string context;
  REQUIRE_OK(AppendItemContext(SomeItem(), kDim, context));
  RequireCorruption(DecodeItemContext("sku-1", context, kDim + 1).status(),
                    "item_context record 'sku-1': context has 8 values, the store's dimension is 9");
  RequireCorruption(DecodeItemContext("sku-1", context + "x", kDim).status(), "1 trailing bytes");
  context[0] = 2;
  RequireCorruption(DecodeItemContext("sku-1", context, kDim).status(), "unknown version byte 2");

  std::string offset = EncodeOffset(KafkaOffset(-5));
  RequireCorruption(DecodeOffset("o", offset).status(), "offset -5 is negative");
  RequireCorruption(DecodeFingerprint("fingerprint", EncodeFingerprint({0, "x"})).status(), "dim is 0");
  std::string sampler = *EncodeSampler({{1, 2}, 2});
  sampler[1] = 1;  // pushes = 1 < ring size 2
  RequireCorruption(DecodeSampler("sampler", sampler).status(), "only 1 were pushed");
  CHECK(EncodeSamplerHead({1, 2}).status().code() == StatusCode::kInvalidArgument);
  std::string head = *EncodeSamplerHead({2, 2});
  head[1] = 1;  // pushes = 1 < ring size 2
  RequireCorruption(DecodeSamplerRecord("sampler", head).status(), "only 1 were pushed");
  RequireCorruption(DecodeSamplerRecord("sampler", head.substr(0, 10)).status(), "truncated at ring_size");
  RequireCorruption(DecodeSamplerSegment("sampler/x", EncodeSamplerSegment(std::vector<uint32_t>{1, 2}) + "z").status(),
                    "1 trailing bytes");
  std::string pending = EncodePending({1, 2, true});
  pending.back() = 2;
  RequireCorruption(DecodePending("p", pending).status(), "pending record 'p': tombstone is 2");
  RequireCorruption(DecodePending("p", std::string("\x03", 1)).status(), "this build reads 1 to 2");
  std::string dedup = EncodeDedupEntry(7);
  RequireCorruption(DecodeDedupEntry("d", dedup.substr(0, 5)).status(), "dedup record 'd': truncated at hash");
  RequireCorruption(DecodeDedupEntry("d", dedup + "x").status(), "1 trailing bytes");
  dedup[0] = 2;
  RequireCorruption(DecodeDedupEntry("d", dedup).status(), "unknown version byte 2");
}

// Fuzz-like: every decoder fed random bytes, and valid records with random
// byte flips and cuts, must return a value or Corruption, never crash (run
// under the asan-ubsan preset to also catch undefined behaviour).
TEST_CASE("Decoders survive arbitrary bytes", "[state]") {
  std::mt19937_64 rng(7);
  std::string context;
  REQUIRE_OK(AppendItemContext(SomeItem(), kDim, context));
  std::vector<std::string> seeds = {Encoded(SomeUser()),
                                    *EncodeItem(SomeItem(), kDim),
                                    context,
                                    *EncodeSampler({{1, 2, 3}, 10}),
                                    *EncodeSamplerHead({10, 3}),
                                    EncodeSamplerSegment(std::vector<uint32_t>{1, 2, 3}),
                                    EncodePending({5, 6}),
                                    EncodeOffset(KafkaOffset(9)),
                                    EncodeIndexLimits({3, 4}),
                                    EncodeFingerprint({kDim, "string-v1"}),
                                    EncodeCounter(8),
                                    EncodeString("topic"),
                                    EncodeDedupEntry(0x0123456789abcdefULL)};
  auto check = [](const Status& s) {
    INFO(s.ToString());
    REQUIRE((s.ok() || s.code() == StatusCode::kCorruption));
  };
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes;
    if (trial % 2 == 0) {
      bytes.resize(rng() % 64);
      for (char& c : bytes) c = static_cast<char>(rng());
      // Give the version check a fair chance to pass, so later fields get fuzzed.
      if (!bytes.empty() && rng() % 2 == 0) bytes[0] = 1;
    } else {
      bytes = seeds[rng() % seeds.size()];
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      if (rng() % 3 == 0) bytes.resize(rng() % (bytes.size() + 1));
    }
    check(DecodeUser("k", bytes, kDim).status());
    check(DecodeItem("k", bytes, kDim).status());
    check(DecodeItemContext("k", bytes, kDim).status());
    check(DecodeSampler("k", bytes).status());
    check(DecodeSamplerRecord("k", bytes).status());
    check(DecodeSamplerSegment("k", bytes).status());
    check(DecodePending("k", bytes).status());
    check(DecodeOffset("k", bytes).status());
    check(DecodeIndexLimits("k", bytes).status());
    check(DecodeFingerprint("k", bytes).status());
    check(DecodeCounter("k", bytes).status());
    check(DecodeString("k", bytes).status());
    check(DecodeDedupEntry("k", bytes).status());
  }
}

}  // namespace
}  // namespace streamrec::state
