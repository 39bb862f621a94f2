// A small PNG decoder for the tools and tests (the app decodes images with sharp): 8-bit
// gray / gray+alpha / RGB / RGBA / palette, non-interlaced, with its own inflate (stored,
// fixed and dynamic Huffman blocks) and all five row filters. Output is RGB8; alpha is
// dropped as PIL's convert("RGB") does. Throws std::runtime_error on anything else.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kotaro_tools {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width*height*3
};

namespace png_detail {

[[noreturn]] inline void bad(const std::string& what) { throw std::runtime_error("png: " + what); }

class BitReader {
 public:
  BitReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint32_t bits(int count) {
    uint32_t v = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= n_ * 8) bad("inflate: unexpected end of data");
      v |= static_cast<uint32_t>((p_[pos_ >> 3] >> (pos_ & 7)) & 1) << i;
      ++pos_;
    }
    return v;
  }
  void align_byte() { pos_ = (pos_ + 7) & ~size_t(7); }
  size_t byte_pos() const { return pos_ >> 3; }
  void skip_bytes(size_t k) { pos_ += k * 8; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// Canonical Huffman decoding table (counts per length + symbols sorted by code).
struct Huffman {
  uint16_t count[16] = {0};
  std::vector<uint16_t> symbol;
  void build(const uint8_t* lengths, int n) {
    std::memset(count, 0, sizeof count);
    for (int i = 0; i < n; ++i) count[lengths[i]]++;
    count[0] = 0;
    uint16_t offs[16] = {0};
    for (int i = 1; i < 16; ++i) offs[i] = offs[i - 1] + count[i - 1];
    symbol.assign(n, 0);
    for (int i = 0; i < n; ++i)
      if (lengths[i]) symbol[offs[lengths[i]]++] = static_cast<uint16_t>(i);
  }
  int decode(BitReader& br) const {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; ++len) {
      code |= static_cast<int>(br.bits(1));
      const int c = count[len];
      if (code - first < c) return symbol[index + (code - first)];
      index += c;
      first = (first + c) << 1;
      code <<= 1;
    }
    bad("inflate: bad Huffman code");
  }
};

inline std::vector<uint8_t> inflate(const uint8_t* data, size_t n) {
  if (n < 2) bad("zlib stream too short");
  if ((data[0] & 0x0F) != 8 || ((data[0] << 8) | data[1]) % 31 != 0 || (data[1] & 0x20)) bad("bad zlib header");
  static const uint16_t len_base[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const uint8_t len_extra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static const uint16_t dist_base[] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static const uint8_t dist_extra[] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  BitReader br(data + 2, n - 2);
  std::vector<uint8_t> out;
  bool last = false;
  while (!last) {
    last = br.bits(1) != 0;
    const uint32_t type = br.bits(2);
    if (type == 0) {
      br.align_byte();
      const size_t p = br.byte_pos();
      if (p + 4 > br.size()) bad("inflate: truncated stored block");
      const uint16_t len = static_cast<uint16_t>(br.data()[p] | (br.data()[p + 1] << 8));
      const uint16_t nlen = static_cast<uint16_t>(br.data()[p + 2] | (br.data()[p + 3] << 8));
      if (static_cast<uint16_t>(~nlen) != len) bad("inflate: bad stored block length");
      if (p + 4 + len > br.size()) bad("inflate: truncated stored block");
      out.insert(out.end(), br.data() + p + 4, br.data() + p + 4 + len);
      br.skip_bytes(4 + len);
      continue;
    }
    if (type == 3) bad("inflate: bad block type");
    Huffman lit, dist;
    uint8_t lengths[320] = {0};
    if (type == 1) {
      for (int i = 0; i < 144; ++i) lengths[i] = 8;
      for (int i = 144; i < 256; ++i) lengths[i] = 9;
      for (int i = 256; i < 280; ++i) lengths[i] = 7;
      for (int i = 280; i < 288; ++i) lengths[i] = 8;
      lit.build(lengths, 288);
      uint8_t dl[30];
      std::memset(dl, 5, sizeof dl);
      dist.build(dl, 30);
    } else {
      const int hlit = static_cast<int>(br.bits(5)) + 257, hdist = static_cast<int>(br.bits(5)) + 1;
      const int hclen = static_cast<int>(br.bits(4)) + 4;
      static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
      uint8_t cl[19] = {0};
      for (int i = 0; i < hclen; ++i) cl[order[i]] = static_cast<uint8_t>(br.bits(3));
      Huffman clh;
      clh.build(cl, 19);
      int i = 0;
      while (i < hlit + hdist) {
        const int sym = clh.decode(br);
        if (sym < 16) { lengths[i++] = static_cast<uint8_t>(sym); continue; }
        int rep = 0;
        uint8_t val = 0;
        if (sym == 16) {
          if (i == 0) bad("inflate: repeat with no previous length");
          val = lengths[i - 1];
          rep = 3 + static_cast<int>(br.bits(2));
        } else if (sym == 17) {
          rep = 3 + static_cast<int>(br.bits(3));
        } else {
          rep = 11 + static_cast<int>(br.bits(7));
        }
        if (i + rep > hlit + hdist) bad("inflate: too many code lengths");
        while (rep--) lengths[i++] = val;
      }
      lit.build(lengths, hlit);
      dist.build(lengths + hlit, hdist);
    }
    for (;;) {
      const int sym = lit.decode(br);
      if (sym < 256) { out.push_back(static_cast<uint8_t>(sym)); continue; }
      if (sym == 256) break;
      if (sym > 285) bad("inflate: bad length symbol");
      const int len = len_base[sym - 257] + static_cast<int>(br.bits(len_extra[sym - 257]));
      const int ds = dist.decode(br);
      if (ds > 29) bad("inflate: bad distance symbol");
      const size_t d = dist_base[ds] + br.bits(dist_extra[ds]);
      if (d > out.size()) bad("inflate: distance before the start");
      const size_t from = out.size() - d;
      for (int k = 0; k < len; ++k) out.push_back(out[from + k]);
    }
  }
  return out;
}

inline uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

inline uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  if (pb <= pc) return static_cast<uint8_t>(b);
  return static_cast<uint8_t>(c);
}

}  // namespace png_detail

inline RgbImage decode_png(const std::vector<uint8_t>& file) {
  using namespace png_detail;
  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  if (file.size() < 8 || std::memcmp(file.data(), sig, 8) != 0) bad("not a PNG file");
  size_t p = 8;
  uint32_t w = 0, h = 0;
  int depth = 0, color = -1;
  std::vector<uint8_t> idat, palette;
  bool seen_end = false;
  while (p + 12 <= file.size() && !seen_end) {
    const uint32_t len = be32(&file[p]);
    if (len > file.size() - p - 12) bad("truncated chunk");
    const std::string type(reinterpret_cast<const char*>(&file[p + 4]), 4);
    const uint8_t* body = &file[p + 8];
    if (type == "IHDR") {
      if (len != 13) bad("bad IHDR");
      w = be32(body);
      h = be32(body + 4);
      depth = body[8];
      color = body[9];
      if (body[10] != 0 || body[11] != 0) bad("unknown compression or filter method");
      if (body[12] != 0) bad("interlaced images are not supported");
    } else if (type == "PLTE") {
      palette.assign(body, body + len);
    } else if (type == "IDAT") {
      idat.insert(idat.end(), body, body + len);
    } else if (type == "IEND") {
      seen_end = true;
    }
    p += 12 + len;
  }
  if (w == 0 || h == 0 || w > 1u << 15 || h > 1u << 15) bad("bad image size");
  if (depth != 8) bad("only 8-bit images are supported");
  int channels = 0;
  switch (color) {
    case 0: channels = 1; break;
    case 2: channels = 3; break;
    case 3: channels = 1; break;
    case 4: channels = 2; break;
    case 6: channels = 4; break;
    default: bad("unknown color type");
  }
  const std::vector<uint8_t> raw = inflate(idat.data(), idat.size());
  const size_t stride = size_t(w) * channels;
  if (raw.size() < (stride + 1) * h) bad("image data too short");
  std::vector<uint8_t> px(stride * h);
  for (uint32_t y = 0; y < h; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* src = &raw[y * (stride + 1) + 1];
    uint8_t* row = &px[y * stride];
    const uint8_t* up = y ? &px[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= size_t(channels) ? row[i - channels] : 0, b = up ? up[i] : 0;
      const int c = (up && i >= size_t(channels)) ? up[i - channels] : 0;
      int v = src[i];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: v += paeth(a, b, c); break;
        default: bad("bad row filter");
      }
      row[i] = static_cast<uint8_t>(v);
    }
  }
  RgbImage img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.rgb.resize(size_t(w) * h * 3);
  for (size_t i = 0; i < size_t(w) * h; ++i) {
    if (color == 3) {
      if (size_t(px[i]) * 3 + 2 >= palette.size()) bad("palette index out of range");
      for (int ch = 0; ch < 3; ++ch) img.rgb[i * 3 + ch] = palette[px[i] * 3 + ch];
    } else if (channels <= 2) {
      for (int ch = 0; ch < 3; ++ch) img.rgb[i * 3 + ch] = px[i * channels];
    } else {
      for (int ch = 0; ch < 3; ++ch) img.rgb[i * 3 + ch] = px[i * channels + ch];
    }
  }
  return img;
}

inline RgbImage read_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_png(bytes);
}

}  // namespace kotaro_tools
