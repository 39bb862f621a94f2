// fp16 / bf16 <-> fp32 scalar conversions, bit-exact with ggml (and numpy's astype):
// round to nearest even, NaN kept quiet, overflow to infinity, subnormals handled exactly.
#include <cstring>

#include "kotaro/quant.h"

namespace kotaro {
namespace {
inline uint32_t bits_of(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float float_of(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return float_of(sign | 0x7F800000u | (mant << 13));  // inf / nan
  if (exp != 0) return float_of(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return float_of(sign);
  // subnormal: value = mant * 2^-24, exact in fp32
  const float v = (float)mant * float_of(0x33800000u);  // 2^-24
  return (sign ? -v : v);
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return (uint16_t)(sign | 0x7E00);  // canonical quiet NaN, as ggml
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);  // rounds to >= 65520 -> inf
  if (ax < 0x38800000u) {
    // result is fp16 subnormal or zero: quantise to a multiple of 2^-24 with RNE.
    if (ax < 0x33000000u) return sign;  // < 2^-25: rounds to zero (2^-25 exact tie -> 0)
    const uint32_t e = ax >> 23;        // biased exp, 102..112
    const uint32_t m = (ax & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;     // value = m * 2^(e-150); want units of 2^-24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return (uint16_t)(sign | q);
  }
  // normal: rebias exponent, round mantissa to 10 bits with RNE (carry into exponent is fine)
  uint32_t r = ax - 0x38000000u;  // exponent bias 127 -> 15
  r += 0xFFF + ((r >> 13) & 1);
  return (uint16_t)(sign | (r >> 13));
}

float bf16_to_fp32(uint16_t h) { return float_of((uint32_t)h << 16); }

uint16_t fp32_to_bf16(float f) {
  const uint32_t u = bits_of(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 64);  // force quiet NaN
  return (uint16_t)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

}  // namespace kotaro
