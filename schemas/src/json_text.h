#pragma once

// Low-level JSON text helpers shared by the codec: UTF-8 checks, string
// escaping and round-trip number formatting. Private to schemas/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace streamrec::schemas::internal {

// Bytes in the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
// surrogates or code points above U+10FFFF) that starts at `text[pos]`, or 0
// when none starts there.
size_t Utf8SequenceLength(std::string_view text, size_t pos);

// Appends `text` as a quoted JSON string. Control characters are escaped;
// bytes that are not well-formed UTF-8 become U+FFFD, so the output is always
// valid JSON.
void AppendJsonString(std::string& out, std::string_view text);

// Shortest text that reads back to exactly the same value; null when the
// value is not finite (JSON has no literal for it).
void AppendJsonDouble(std::string& out, double value);
void AppendJsonFloat(std::string& out, float value);
void AppendJsonInt(std::string& out, int64_t value);
void AppendJsonUint(std::string& out, uint64_t value);

// `text` as a JSON string cut to about `max_bytes`, for rejection details:
// the text comes from hostile input (huge, full of control characters) and
// ends up in a Kafka header and in logs.
std::string QuoteForDetail(std::string_view text, size_t max_bytes = 64);

}  // namespace streamrec::schemas::internal
