#include "json_text.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace streamrec::schemas::internal {
namespace {

bool InRange(unsigned char byte, unsigned char low, unsigned char high) {
  return byte >= low && byte <= high;
}

template <typename T>
void AppendToChars(std::string& out, T value) {
  char buffer[32];  // enough for any int64, uint64 and shortest double
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

template <typename Float>
void AppendJsonFloatingPoint(std::string& out, Float value) {
  if (!std::isfinite(value)) {
    out += "null";
  } else if (value == 0 && std::signbit(value)) {
    // to_chars writes "-0", which JSON readers take for the integer 0; a
    // fraction keeps the sign, so the value round-trips bit for bit.
    out += "-0.0";
  } else {
    AppendToChars(out, value);
  }
}

}  // namespace

size_t Utf8SequenceLength(std::string_view text, size_t pos) {
  const size_t left = text.size() - pos;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[pos + i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (InRange(lead, 0xC2, 0xDF)) {
    return left >= 2 && InRange(byte(1), 0x80, 0xBF) ? 2 : 0;
  }
  if (InRange(lead, 0xE0, 0xEF)) {
    if (left < 3) return 0;
    // E0 needs A0..BF (no overlong forms), ED needs 80..9F (no surrogates).
    const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
    return InRange(byte(1), low, high) && InRange(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (InRange(lead, 0xF0, 0xF4)) {
    if (left < 4) return 0;
    // F0 needs 90..BF (no overlong forms), F4 needs 80..8F (<= U+10FFFF).
    const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
    return InRange(byte(1), low, high) && InRange(byte(2), 0x80, 0xBF) &&
                   InRange(byte(3), 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out += '"';
  size_t clean_start = 0;  // start of the bytes not yet copied
  size_t pos = 0;
  while (pos < text.size()) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (byte >= 0x20 && byte != '"' && byte != '\\' && byte < 0x80) {
      ++pos;
      continue;
    }
    if (byte >= 0x80) {
      const size_t length = Utf8SequenceLength(text, pos);
      if (length != 0) {
        pos += length;
        continue;
      }
    }
    out.append(text, clean_start, pos - clean_start);
    switch (byte) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xF];
        } else {
          out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not UTF-8
        }
    }
    ++pos;  // every escaped or replaced unit is one byte
    clean_start = pos;
  }
  out.append(text, clean_start, pos - clean_start);
  out += '"';
}

void AppendJsonDouble(std::string& out, double value) { AppendJsonFloatingPoint(out, value); }
void AppendJsonFloat(std::string& out, float value) { AppendJsonFloatingPoint(out, value); }
void AppendJsonInt(std::string& out, int64_t value) { AppendToChars(out, value); }
void AppendJsonUint(std::string& out, uint64_t value) { AppendToChars(out, value); }

std::string QuoteForDetail(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    std::string quoted;
    AppendJsonString(quoted, text);
    return quoted;
  }
  // Cut on a character boundary so the shortened text stays valid UTF-8.
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string quoted;
  AppendJsonString(quoted, text.substr(0, cut));
  quoted += "... (" + std::to_string(text.size()) + " bytes)";
  return quoted;
}

}  // namespace streamrec::schemas::internal
