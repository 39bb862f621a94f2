// ggml's block structs, byte for byte (llama.cpp ggml-common.h). Kept private to src/quant:
// the rest of the engine sees quantised rows only as bytes plus a GgmlType.
#pragma once
#include <cstdint>

namespace kotaro::quant {

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32;
constexpr int QK_K = 256;         // super-block size of the K-quants
constexpr int K_SCALE_SIZE = 12;  // packed 6-bit scales/mins of Q4_K and Q5_K

#pragma pack(push, 1)
struct BlockQ4_0 { uint16_t d; uint8_t qs[QK4_0 / 2]; };
struct BlockQ4_1 { uint16_t d; uint16_t m; uint8_t qs[QK4_1 / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; };
struct BlockQ5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[QK8_0]; };
struct BlockQ3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
struct BlockQ4_K { uint16_t d; uint16_t dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
struct BlockQ5_K {
  uint16_t d; uint16_t dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2];
};
struct BlockQ6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18, "block_q4_0 size");
static_assert(sizeof(BlockQ4_1) == 20, "block_q4_1 size");
static_assert(sizeof(BlockQ5_0) == 22, "block_q5_0 size");
static_assert(sizeof(BlockQ5_1) == 24, "block_q5_1 size");
static_assert(sizeof(BlockQ8_0) == 34, "block_q8_0 size");
static_assert(sizeof(BlockQ3_K) == 110, "block_q3_K size");
static_assert(sizeof(BlockQ4_K) == 144, "block_q4_K size");
static_assert(sizeof(BlockQ5_K) == 176, "block_q5_K size");
static_assert(sizeof(BlockQ6_K) == 210, "block_q6_K size");

// Q4_K / Q5_K: scale and min of sub-block j (0..7) from the 12 packed bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

}  // namespace kotaro::quant
