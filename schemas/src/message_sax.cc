#include "message_sax.h"

namespace streamrec::schemas::internal {

std::string_view JsonKindName(JsonScalar::Kind kind) {
  switch (kind) {
    case JsonScalar::Kind::kNull:
      return "null";
    case JsonScalar::Kind::kBoolean:
      return "boolean";
    case JsonScalar::Kind::kInteger:
    case JsonScalar::Kind::kUnsigned:
    case JsonScalar::Kind::kFloat:
      return "number";
    case JsonScalar::Kind::kString:
      return "string";
  }
  return "value";
}

bool KeySet::Insert(int field, const std::string& key) {
  if (field >= 0) {
    const uint32_t bit = uint32_t{1} << field;
    if ((known_ & bit) != 0) return false;
    known_ |= bit;
    return true;
  }
  return unknown_.insert(key).second;
}

void KeySet::Clear() {
  known_ = 0;
  unknown_.clear();
}

std::string DescribeJsonError(std::string_view what) {
  constexpr size_t kMaxBytes = 200;
  if (what.starts_with("[json.exception.")) {
    const size_t end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  std::string text;
  for (const char c : what) {
    if (text.size() >= kMaxBytes) {
      text += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      text += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      text += "\\x";
      text += kHex[byte >> 4];
      text += kHex[byte & 0xF];
    }
  }
  return text;
}

}  // namespace streamrec::schemas::internal
