#include "streamrec/schemas/codec.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <system_error>
#include <utility>

#include "json_text.h"
#include "message_sax.h"

namespace streamrec::schemas {
namespace {

using internal::JsonScalar;
using internal::KeySet;
using internal::MessageSax;
using Kind = JsonScalar::Kind;

// Where a value sits, for rejection details: "user_id", "items[3]",
// "items[3].score". Formatted only when something is rejected, so the parse
// of a valid message builds no names.
struct FieldPath {
  static constexpr size_t kNoIndex = std::numeric_limits<size_t>::max();
  std::string_view name;
  size_t index = kNoIndex;
  std::string_view member;

  std::string ToString() const {
    std::string text(name);
    if (index != kNoIndex) {
      text += '[';
      text += std::to_string(index);
      text += ']';
    }
    if (!member.empty()) {
      text += '.';
      text += member;
    }
    return text;
  }
  std::string Detail() const { return "field '" + ToString() + "'"; }
};

std::string DescribeValue(const JsonScalar& value) {
  switch (value.kind) {
    case Kind::kInteger:
      return "number " + std::to_string(value.integer);
    case Kind::kUnsigned:
      return "number " + std::to_string(value.unsigned_integer);
    case Kind::kFloat:
      return "number " + std::string(value.token);
    default:
      return std::string(internal::JsonKindName(value.kind));
  }
}

Rejection WrongType(const FieldPath& field, std::string_view expected, std::string_view got) {
  return {RejectReason::kWrongType,
          field.Detail() + ": expected " + std::string(expected) + ", got " + std::string(got)};
}

Rejection WrongType(const FieldPath& field, std::string_view expected, const JsonScalar& got) {
  return WrongType(field, expected, DescribeValue(got));
}

std::optional<Rejection> CheckIdAt(const FieldPath& field, std::string_view id) {
  if (id.empty()) return Rejection{RejectReason::kEmptyId, field.Detail()};
  if (id.size() > kMaxIdBytes) {
    return Rejection{RejectReason::kIdTooLong, field.Detail() + ": " + std::to_string(id.size()) +
                                                   " bytes > " + std::to_string(kMaxIdBytes)};
  }
  const auto control = [&](unsigned code_point, size_t pos) {
    char text[64];
    std::snprintf(text, sizeof(text), ": control character U+%04X at byte %zu", code_point, pos);
    return Rejection{RejectReason::kInvalidId, field.Detail() + text};
  };
  for (size_t pos = 0; pos < id.size();) {
    const auto byte = static_cast<unsigned char>(id[pos]);
    if (byte < 0x20 || byte == 0x7F) return control(byte, pos);
    if (byte < 0x80) {
      ++pos;
      continue;
    }
    const size_t length = internal::Utf8SequenceLength(id, pos);
    if (length == 0) {
      return Rejection{RejectReason::kInvalidId,
                       field.Detail() + ": invalid UTF-8 at byte " + std::to_string(pos)};
    }
    // C1 controls U+0080..U+009F are encoded C2 80..C2 9F.
    const auto next = static_cast<unsigned char>(id[pos + 1]);
    if (byte == 0xC2 && next <= 0x9F) return control(next, pos);
    pos += length;
  }
  return std::nullopt;
}

// Moves the id out of `value` into `out`.
std::optional<Rejection> ReadId(const FieldPath& field, JsonScalar& value, std::string& out) {
  if (value.kind != Kind::kString) return WrongType(field, "string", value);
  if (auto rejection = CheckIdAt(field, *value.string)) return rejection;
  out = std::move(*value.string);
  return std::nullopt;
}

std::optional<Rejection> ReadString(const FieldPath& field, JsonScalar& value, std::string& out) {
  if (value.kind != Kind::kString) return WrongType(field, "string", value);
  out = std::move(*value.string);
  return std::nullopt;
}

// nlohmann has already turned numbers beyond double's range into a
// non_finite_number rejection, so every number here is finite.
std::optional<Rejection> ReadDouble(const FieldPath& field, const JsonScalar& value, double& out) {
  switch (value.kind) {
    case Kind::kInteger:
      out = static_cast<double>(value.integer);
      return std::nullopt;
    case Kind::kUnsigned:
      out = static_cast<double>(value.unsigned_integer);
      return std::nullopt;
    case Kind::kFloat:
      out = value.number;
      return std::nullopt;
    default:
      return WrongType(field, "number", value);
  }
}

// Numbers at or beyond this magnitude round to infinity as a float: it is
// FLT_MAX plus half a unit in the last place, 2^128 - 2^103 (exactly
// 3.4028235677973366e38 as a double). FLT_MAX itself is not the bound: its
// shortest text, 3.4028235e38, is above it.
constexpr double kFloatOverflow = 0x1.ffffffp127;

// Numbers for float fields must have a magnitude below kFloatOverflow (the
// JSON Schemas state the same exclusive bounds). A float token is read
// straight into a float: reading it as a double first could round twice, and
// shortest float text would then not always come back as the same float.
std::optional<Rejection> ReadFloat(const FieldPath& field, const JsonScalar& value, float& out) {
  switch (value.kind) {
    case Kind::kInteger:
      out = static_cast<float>(value.integer);
      return std::nullopt;
    case Kind::kUnsigned:
      out = static_cast<float>(value.unsigned_integer);
      return std::nullopt;
    case Kind::kFloat:
      break;
    default:
      return WrongType(field, "number", value);
  }
  if (!(std::fabs(value.number) < kFloatOverflow)) {
    return Rejection{RejectReason::kNonFiniteNumber,
                     field.Detail() + ": " + std::string(value.token) + " is beyond float's range"};
  }
  const char* end = value.token.data() + value.token.size();
  if (std::from_chars(value.token.data(), end, out).ec != std::errc()) {
    // The bound above rules out overflow, so this is underflow to 0, which
    // the double holds too.
    out = static_cast<float>(value.number);
  }
  return std::nullopt;
}

// A JSON number with an integral value, as sign and magnitude, so that every
// integer JSON can carry (and integral floats such as 1.7e12 or 1e30) compares
// exactly against 64-bit limits.
struct WholeNumber {
  bool negative = false;
  uint64_t magnitude = 0;
  bool beyond_64_bits = false;  // |value| >= 2^64; `magnitude` is meaningless

  std::optional<int64_t> ToInt64() const {
    constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
    if (beyond_64_bits) return std::nullopt;
    if (negative) {
      if (magnitude > kMinMagnitude) return std::nullopt;
      return static_cast<int64_t>(0 - magnitude);  // modular, so -2^63 works too
    }
    if (magnitude >= kMinMagnitude) return std::nullopt;
    return static_cast<int64_t>(magnitude);
  }
  std::optional<uint64_t> ToUint64() const {
    if (beyond_64_bits || (negative && magnitude != 0)) return std::nullopt;
    return magnitude;
  }
};

// Nothing when `value` is not a number or has a fractional part.
std::optional<WholeNumber> AsWholeNumber(const JsonScalar& value) {
  switch (value.kind) {
    case Kind::kInteger: {
      const bool negative = value.integer < 0;
      const auto bits = static_cast<uint64_t>(value.integer);
      return WholeNumber{negative, negative ? 0 - bits : bits};
    }
    case Kind::kUnsigned:
      return WholeNumber{false, value.unsigned_integer};
    case Kind::kFloat: {
      if (std::trunc(value.number) != value.number) return std::nullopt;
      const double magnitude = std::fabs(value.number);
      constexpr double kTwoTo64 = 18446744073709551616.0;
      if (magnitude >= kTwoTo64) return WholeNumber{value.number < 0, 0, true};
      return WholeNumber{value.number < 0, static_cast<uint64_t>(magnitude)};
    }
    default:
      return std::nullopt;
  }
}

// A timestamp in ms: integral, not before `min_ms` (named `min_name` in the
// detail when that helps), within int64.
std::optional<Rejection> ReadTimestamp(const FieldPath& field, const JsonScalar& value,
                                       int64_t min_ms, std::string_view min_name, int64_t& out) {
  const auto whole = AsWholeNumber(value);
  if (!whole) return WrongType(field, "integer (ms since the Unix epoch)", value);
  const auto ms = whole->ToInt64();
  if (!ms) {
    return Rejection{RejectReason::kTimestampOutOfRange,
                     field.Detail() + ": " + DescribeValue(value) + " is outside the 64-bit range"};
  }
  if (*ms < min_ms) {
    std::string detail =
        field.Detail() + ": " + std::to_string(*ms) + " < " + std::to_string(min_ms);
    if (!min_name.empty()) detail += " (" + std::string(min_name) + ")";
    return Rejection{RejectReason::kTimestampOutOfRange, std::move(detail)};
  }
  out = *ms;
  return std::nullopt;
}

// Looks `key` up in a message type's field names; -1 when unknown.
template <size_t N>
int FieldIndex(const std::array<std::string_view, N>& names, std::string_view key) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == key) return static_cast<int>(i);
  }
  return -1;
}

Rejection DuplicateKey(const FieldPath& object, std::string_view key) {
  std::string detail = "key " + internal::QuoteForDetail(key) + " appears twice";
  if (!object.name.empty()) detail += " in " + object.ToString();
  return {RejectReason::kDuplicateKey, std::move(detail)};
}

// ---------------------------------------------------------------------------
// events

class EventSax : public MessageSax<EventSax> {
 public:
  explicit EventSax(const ParseOptions& options) : options_(options) {}

  bool OnKey(int /*level*/, std::string& key) {
    field_ = FieldIndex(kFields, key);
    if (!keys_.Insert(field_, key)) return Reject(DuplicateKey({}, key));
    if (field_ < 0) SkipNextValue();
    return true;
  }

  // Only known fields get here (unknown ones are skipped), and none of them
  // holds a container.
  bool OnOpen(int /*level*/, bool is_array) {
    return Reject(WrongType(Path(), kExpected[field_], is_array ? "array" : "object"));
  }

  bool OnScalar(int /*level*/, JsonScalar& value) {
    std::optional<Rejection> rejection;
    switch (field_) {
      case kUserId:
        rejection = ReadId(Path(), value, event_.user_id);
        break;
      case kItemId:
        rejection = ReadId(Path(), value, event_.item_id);
        break;
      case kType:
        rejection = ReadType(value);
        break;
      case kTs:
        rejection = ReadTs(value);
        break;
      case kEventId:
        rejection = ReadId(Path(), value, event_.event_id.emplace());
        break;
      case kValue:
        rejection = ReadDouble(Path(), value, event_.value.emplace());
        break;
    }
    return rejection ? Reject(std::move(*rejection)) : true;
  }

  bool OnClose(int /*level*/) { return true; }

  // Cross-field rules, once the whole message has been read.
  ParseResult<Event> Finish() {
    for (const int field : {kUserId, kType, kTs}) {
      if (!keys_.Contains(field)) return Missing(field);
    }
    const bool has_item = keys_.Contains(kItemId);
    if (event_.type == EventType::kForget) {
      if (has_item) {
        return Rejection{RejectReason::kUnexpectedItem, "field 'item_id' in a forget event"};
      }
    } else if (!has_item) {
      return Missing(kItemId);
    }
    if (event_.type == EventType::kRating && !event_.value) {
      return Rejection{RejectReason::kMissingValue, "field 'value' in a rating event"};
    }
    return std::move(event_);
  }

 private:
  enum Field { kUserId, kItemId, kType, kTs, kEventId, kValue };
  static constexpr std::array<std::string_view, 6> kFields = {"user_id", "item_id",  "type",
                                                              "ts",      "event_id", "value"};
  static constexpr std::array<std::string_view, 6> kExpected = {
      "string", "string", "string", "integer (ms since the Unix epoch)", "string", "number"};

  FieldPath Path() const { return {kFields[field_]}; }
  static Rejection Missing(int field) {
    return {RejectReason::kMissingField, FieldPath{kFields[field]}.Detail()};
  }

  std::optional<Rejection> ReadType(const JsonScalar& value) {
    if (value.kind != Kind::kString) return WrongType(Path(), "string", value);
    const auto type = EventTypeFromName(*value.string);
    if (!type) {
      std::string known;
      for (int i = 0; i < kEventTypeCount; ++i) {
        known += i == 0 ? "" : ", ";
        known += EventTypeName(static_cast<EventType>(i));
      }
      return Rejection{RejectReason::kUnknownEventType,
                       Path().Detail() + ": " + internal::QuoteForDetail(*value.string) +
                           " is not one of " + known};
    }
    event_.type = *type;
    return std::nullopt;
  }

  std::optional<Rejection> ReadTs(const JsonScalar& value) {
    if (auto rejection =
            ReadTimestamp(Path(), value, kMinTimestampMs, "1990-01-01", event_.ts_ms)) {
      return rejection;
    }
    if (!options_.reference_ts_ms) return std::nullopt;
    const int64_t reference = *options_.reference_ts_ms;
    int64_t limit;
    if (__builtin_add_overflow(reference, options_.max_future_skew_ms, &limit)) {
      limit = options_.max_future_skew_ms > 0 ? std::numeric_limits<int64_t>::max()
                                              : std::numeric_limits<int64_t>::min();
    }
    if (event_.ts_ms <= limit) return std::nullopt;
    return Rejection{RejectReason::kTimestampOutOfRange,
                     Path().Detail() + ": " + std::to_string(event_.ts_ms) + " is more than " +
                         std::to_string(options_.max_future_skew_ms) +
                         " ms ahead of the message timestamp " + std::to_string(reference)};
  }

  const ParseOptions& options_;
  Event event_;
  int field_ = -1;  // the field whose value comes next
  KeySet keys_;
};

// ---------------------------------------------------------------------------
// items

class ItemSax : public MessageSax<ItemSax> {
 public:
  bool OnKey(int /*level*/, std::string& key) {
    field_ = FieldIndex(kFields, key);
    if (!keys_.Insert(field_, key)) return Reject(DuplicateKey({}, key));
    if (field_ < 0) SkipNextValue();
    return true;
  }

  bool OnOpen(int level, bool is_array) {
    const char* got = is_array ? "array" : "object";
    if (level == 2) {
      if (is_array && (field_ == kTags || field_ == kEmbedding)) return true;
      return Reject(WrongType(Path(), kExpected[field_], got));
    }
    // A container inside tags or embedding.
    return Reject(WrongType(ElementPath(), field_ == kTags ? "string" : "number", got));
  }

  bool OnScalar(int level, JsonScalar& value) {
    std::optional<Rejection> rejection;
    if (level == 2) {
      rejection = field_ == kTags ? ReadTag(value) : ReadEmbeddingEntry(value);
    } else {
      switch (field_) {
        case kItemId:
          rejection = ReadId(Path(), value, item_.item_id);
          break;
        case kAvailable:
          if (value.kind != Kind::kBoolean) {
            rejection = WrongType(Path(), "boolean", value);
          } else {
            item_.available = value.boolean;
          }
          break;
        case kTitle:
          rejection = ReadString(Path(), value, item_.title.emplace());
          break;
        default:
          rejection = WrongType(Path(), kExpected[field_], value);
      }
    }
    return rejection ? Reject(std::move(*rejection)) : true;
  }

  bool OnClose(int /*level*/) { return true; }

  ParseResult<Item> Finish() {
    if (!keys_.Contains(kItemId)) {
      return Rejection{RejectReason::kMissingField, FieldPath{"item_id"}.Detail()};
    }
    return std::move(item_);
  }

 private:
  enum Field { kItemId, kAvailable, kTitle, kTags, kEmbedding };
  static constexpr std::array<std::string_view, 5> kFields = {"item_id", "available", "title",
                                                              "tags", "embedding"};
  static constexpr std::array<std::string_view, 5> kExpected = {
      "string", "boolean", "string", "array of strings", "array of numbers"};

  FieldPath Path() const { return {kFields[field_]}; }
  // The element about to be appended to tags or embedding.
  FieldPath ElementPath() const {
    return {kFields[field_], field_ == kTags ? item_.tags.size() : item_.embedding.size()};
  }

  std::optional<Rejection> ReadTag(JsonScalar& value) {
    if (value.kind != Kind::kString) return WrongType(ElementPath(), "string", value);
    item_.tags.push_back(std::move(*value.string));
    return std::nullopt;
  }

  std::optional<Rejection> ReadEmbeddingEntry(const JsonScalar& value) {
    if (item_.embedding.size() == kMaxEmbeddingEntries) {
      return Rejection{
          RejectReason::kTooManyEntries,
          Path().Detail() + ": more than " + std::to_string(kMaxEmbeddingEntries) + " entries"};
    }
    float entry;
    if (auto rejection = ReadFloat(ElementPath(), value, entry)) return rejection;
    item_.embedding.push_back(entry);
    return std::nullopt;
  }

  Item item_;
  int field_ = -1;
  KeySet keys_;
};

// ---------------------------------------------------------------------------
// recommendation lists

// Levels: 1 the list object, 2 the `items` array, 3 one entry object.
class RecommendationListSax : public MessageSax<RecommendationListSax> {
 public:
  bool OnKey(int level, std::string& key) {
    if (level == 1) {
      field_ = FieldIndex(kFields, key);
      if (!keys_.Insert(field_, key)) return Reject(DuplicateKey({}, key));
      if (field_ < 0) SkipNextValue();
    } else {
      entry_field_ = FieldIndex(kEntryFields, key);
      if (!entry_keys_.Insert(entry_field_, key)) return Reject(DuplicateKey(EntryPath(), key));
      if (entry_field_ < 0) SkipNextValue();
    }
    return true;
  }

  bool OnOpen(int level, bool is_array) {
    const char* got = is_array ? "array" : "object";
    switch (level) {
      case 2:
        if (field_ == kItems && is_array) return true;
        return Reject(WrongType(Path(), kExpected[field_], got));
      case 3:
        if (is_array) return Reject(WrongType(NextEntryPath(), "object", got));
        list_.items.emplace_back();
        entry_keys_.Clear();
        return true;
      default:  // the value of an entry's known field
        return Reject(WrongType(EntryFieldPath(), kEntryExpected[entry_field_], got));
    }
  }

  bool OnScalar(int level, JsonScalar& value) {
    if (level == 2) return Reject(WrongType(NextEntryPath(), "object", value));
    std::optional<Rejection> rejection;
    if (level == 3) {
      ScoredItem& entry = list_.items.back();
      rejection = entry_field_ == kEntryItemId ? ReadId(EntryFieldPath(), value, entry.item_id)
                                               : ReadFloat(EntryFieldPath(), value, entry.score);
    } else {
      switch (field_) {
        case kUserId:
          rejection = ReadId(Path(), value, list_.user_id);
          break;
        case kGeneratedAt:
          rejection = ReadTimestamp(Path(), value, 0, "", list_.generated_at_ms);
          break;
        case kSourceEventTs:
          rejection = ReadTimestamp(Path(), value, 0, "", list_.source_event_ts_ms);
          break;
        case kModel:
          rejection = ReadId(Path(), value, list_.model);
          break;
        case kSeq:
          rejection = ReadSeq(value);
          break;
        default:
          rejection = WrongType(Path(), kExpected[field_], value);
      }
    }
    return rejection ? Reject(std::move(*rejection)) : true;
  }

  bool OnClose(int level) {
    if (level != 3) return true;
    for (const int field : {kEntryItemId, kEntryScore}) {
      if (!entry_keys_.Contains(field)) {
        return Reject({RejectReason::kMissingField,
                       FieldPath{"items", EntryIndex(), kEntryFields[field]}.Detail()});
      }
    }
    return true;
  }

  ParseResult<RecommendationList> Finish() {
    for (int field = 0; field < static_cast<int>(kFields.size()); ++field) {
      if (!keys_.Contains(field)) {
        return Rejection{RejectReason::kMissingField, FieldPath{kFields[field]}.Detail()};
      }
    }
    return std::move(list_);
  }

 private:
  enum Field { kUserId, kItems, kGeneratedAt, kSourceEventTs, kModel, kSeq };
  static constexpr std::array<std::string_view, 6> kFields = {
      "user_id", "items", "generated_at", "source_event_ts", "model", "seq"};
  static constexpr std::array<std::string_view, 6> kExpected = {"string",
                                                                "array of {item_id, score} objects",
                                                                "integer (ms since the Unix epoch)",
                                                                "integer (ms since the Unix epoch)",
                                                                "string",
                                                                "unsigned integer"};
  enum EntryField { kEntryItemId, kEntryScore };
  static constexpr std::array<std::string_view, 2> kEntryFields = {"item_id", "score"};
  static constexpr std::array<std::string_view, 2> kEntryExpected = {"string", "number"};

  FieldPath Path() const { return {kFields[field_]}; }
  size_t EntryIndex() const { return list_.items.size() - 1; }
  FieldPath EntryPath() const { return {"items", EntryIndex()}; }
  FieldPath NextEntryPath() const { return {"items", list_.items.size()}; }
  FieldPath EntryFieldPath() const { return {"items", EntryIndex(), kEntryFields[entry_field_]}; }

  std::optional<Rejection> ReadSeq(const JsonScalar& value) {
    const auto whole = AsWholeNumber(value);
    const auto seq = whole ? whole->ToUint64() : std::nullopt;
    if (!seq) return WrongType(Path(), "unsigned 64-bit integer", value);
    list_.seq = *seq;
    return std::nullopt;
  }

  RecommendationList list_;
  int field_ = -1;
  int entry_field_ = -1;
  KeySet keys_;
  KeySet entry_keys_;
};

// Size first (no work at all on an oversized message), then one streaming
// pass, then the handler's cross-field rules.
template <typename Sax>
auto Parse(std::string_view json, Sax& sax) -> decltype(sax.Finish()) {
  if (json.size() > kMaxMessageBytes) {
    return Rejection{RejectReason::kMessageTooLarge,
                     std::to_string(json.size()) + " bytes > " + std::to_string(kMaxMessageBytes)};
  }
  if (!nlohmann::json::sax_parse(json.data(), json.data() + json.size(), &sax)) {
    return *sax.rejection();
  }
  return sax.Finish();
}

}  // namespace

std::optional<Rejection> CheckId(std::string_view field, std::string_view id) {
  return CheckIdAt(FieldPath{field}, id);
}

ParseResult<Event> ParseEvent(std::string_view json, const ParseOptions& options) {
  EventSax sax(options);
  return Parse(json, sax);
}

ParseResult<Item> ParseItem(std::string_view json) {
  ItemSax sax;
  return Parse(json, sax);
}

ParseResult<RecommendationList> ParseRecommendationList(std::string_view json) {
  RecommendationListSax sax;
  return Parse(json, sax);
}

std::string SerializeEvent(const Event& event) {
  std::string out;
  out.reserve(96 + event.user_id.size() + event.item_id.size());
  out += "{\"user_id\":";
  internal::AppendJsonString(out, event.user_id);
  if (!event.item_id.empty()) {
    out += ",\"item_id\":";
    internal::AppendJsonString(out, event.item_id);
  }
  out += ",\"type\":";
  internal::AppendJsonString(out, EventTypeName(event.type));
  out += ",\"ts\":";
  internal::AppendJsonInt(out, event.ts_ms);
  if (event.event_id) {
    out += ",\"event_id\":";
    internal::AppendJsonString(out, *event.event_id);
  }
  if (event.value) {
    out += ",\"value\":";
    internal::AppendJsonDouble(out, *event.value);
  }
  out += '}';
  return out;
}

std::string SerializeItem(const Item& item) {
  std::string out = "{\"item_id\":";
  internal::AppendJsonString(out, item.item_id);
  out += item.available ? ",\"available\":true" : ",\"available\":false";
  if (item.title) {
    out += ",\"title\":";
    internal::AppendJsonString(out, *item.title);
  }
  if (!item.tags.empty()) {
    out += ",\"tags\":[";
    for (size_t i = 0; i < item.tags.size(); ++i) {
      if (i != 0) out += ',';
      internal::AppendJsonString(out, item.tags[i]);
    }
    out += ']';
  }
  if (!item.embedding.empty()) {
    out += ",\"embedding\":[";
    for (size_t i = 0; i < item.embedding.size(); ++i) {
      if (i != 0) out += ',';
      internal::AppendJsonFloat(out, item.embedding[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string SerializeRecommendationList(const RecommendationList& list) {
  std::string out;
  out.reserve(128 + list.items.size() * 40);
  out += "{\"user_id\":";
  internal::AppendJsonString(out, list.user_id);
  out += ",\"items\":[";
  for (size_t i = 0; i < list.items.size(); ++i) {
    out += i == 0 ? "{\"item_id\":" : ",{\"item_id\":";
    internal::AppendJsonString(out, list.items[i].item_id);
    out += ",\"score\":";
    internal::AppendJsonFloat(out, list.items[i].score);
    out += '}';
  }
  out += "],\"generated_at\":";
  internal::AppendJsonInt(out, list.generated_at_ms);
  out += ",\"source_event_ts\":";
  internal::AppendJsonInt(out, list.source_event_ts_ms);
  out += ",\"model\":";
  internal::AppendJsonString(out, list.model);
  out += ",\"seq\":";
  internal::AppendJsonUint(out, list.seq);
  out += '}';
  return out;
}

}  // namespace streamrec::schemas
