#pragma once

// Little-endian fixed-width encoding for the store's records, and a bounds-
// checked reader. The reader never reads past its input: every Read* returns
// false once the bytes run out, so a decoder fed arbitrary bytes fails cleanly
// instead of invoking undefined behaviour. Values are assembled byte by byte
// (not memcpy'd into host integers), so the encoding is the same on any host.

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace streamrec::state::internal {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { PutLe(v, 4); }
  void U64(uint64_t v) { PutLe(v, 8); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F32(float v) { U32(std::bit_cast<uint32_t>(v)); }
  void Bytes(std::string_view v) { out_->append(v); }
  // Big-endian, for key parts that must sort numerically.
  void U16Be(uint16_t v) { PutBe(v, 2); }
  void U32Be(uint32_t v) { PutBe(v, 4); }
  void U64Be(uint64_t v) { PutBe(v, 8); }

 private:
  void PutLe(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void PutBe(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  [[nodiscard]] bool U8(uint8_t* v) {
    uint64_t x = 0;
    if (!GetLe(1, &x)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  [[nodiscard]] bool U32(uint32_t* v) {
    uint64_t x = 0;
    if (!GetLe(4, &x)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  [[nodiscard]] bool U64(uint64_t* v) { return GetLe(8, v); }
  [[nodiscard]] bool I64(int64_t* v) {
    uint64_t x = 0;
    if (!GetLe(8, &x)) return false;
    *v = static_cast<int64_t>(x);
    return true;
  }
  [[nodiscard]] bool F32(float* v) {
    uint32_t x = 0;
    if (!U32(&x)) return false;
    *v = std::bit_cast<float>(x);
    return true;
  }
  [[nodiscard]] bool Bytes(size_t n, std::string_view* v) {
    if (n > remaining()) return false;
    *v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool U16Be(uint16_t* v) {
    uint64_t x = 0;
    if (!GetBe(2, &x)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  [[nodiscard]] bool U32Be(uint32_t* v) {
    uint64_t x = 0;
    if (!GetBe(4, &x)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }

  [[nodiscard]] bool U64Be(uint64_t* v) { return GetBe(8, v); }

  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  bool GetLe(size_t n, uint64_t* v) {
    if (n > remaining()) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += n;
    *v = x;
    return true;
  }
  bool GetBe(size_t n, uint64_t* v) {
    if (n > remaining()) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x = (x << 8) | static_cast<uint8_t>(in_[pos_ + i]);
    pos_ += n;
    *v = x;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace streamrec::state::internal
