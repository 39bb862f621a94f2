// Device dequantisation of ggml weight rows, in registers, for the weight types the CUDA
// kernels read directly: F32, F16, BF16, Q8_0, Q4_K, Q6_K (block layouts: ggml-common.h,
// mirrored in src/quant/block_layouts.h; the CPU reference is kotaro::dequantize_row).
//
// Two access shapes are provided:
//  - load16<T>(row, k0, n_in, out): 16 consecutive elements starting at k0 (k0 % 16 == 0),
//    used by the tiled matmuls to fill a shared-memory tile. For quantised types
//    n_in is a multiple of the block size, so a 16-wide slice never crosses a block.
//  - MatvecChunk<T>: the matrix-vector kernel's unit of work for one lane, sized so that
//    every weight byte is loaded exactly once with the widest load its alignment allows.
#pragma once
#include <cstdint>

#include "cuda/common.cuh"
#include "kotaro/ggml_types.h"

namespace kotaro::cuda {

// Byte offsets inside ggml blocks.
constexpr int kQ8_0Bytes = 34;    // half d; int8 qs[32]
constexpr int kQ4_KBytes = 144;   // half d, dmin; u8 scales[12]; u8 qs[128]
constexpr int kQ6_KBytes = 210;   // u8 ql[128]; u8 qh[64]; i8 scales[16]; half d

// Byte k (0..11) of the Q4_K packed scales, which sit in header words w1..w3 (bytes 4..15
// of the block). Selects instead of indexing so the words stay in registers.
__device__ __forceinline__ int q4k_scale_byte(uint32_t w1, uint32_t w2, uint32_t w3, int k) {
  const uint32_t w = k < 4 ? w1 : (k < 8 ? w2 : w3);
  return static_cast<int>((w >> (8 * (k % 4))) & 0xFF);
}

// Q4_K: 6-bit scale and min of sub-block s (0..7), as ggml's get_scale_min_k4.
__device__ __forceinline__ void q4k_scale_min(uint32_t w1, uint32_t w2, uint32_t w3, int s, int& d,
                                              int& m) {
  if (s < 4) {
    d = q4k_scale_byte(w1, w2, w3, s) & 63;
    m = q4k_scale_byte(w1, w2, w3, s + 4) & 63;
  } else {
    const int hi = q4k_scale_byte(w1, w2, w3, s + 4);
    d = (hi & 0xF) | ((q4k_scale_byte(w1, w2, w3, s - 4) >> 6) << 4);
    m = (hi >> 4) | ((q4k_scale_byte(w1, w2, w3, s) >> 6) << 4);
  }
}

// Byte k (0..3) of `w` as an exact float, without an int->float conversion (I2F runs at a
// quarter of the FP32 rate and bounds the matvec otherwise): the byte goes into the low
// mantissa of 2^23 (0x4B000000) with one byte-permute, and 2^23 + offset is subtracted.
template <int k>
__device__ __forceinline__ float byte_to_float(uint32_t w, float offset) {
  return __uint_as_float(__byte_perm(w, 0x4B000000u, 0x7440u + k)) - (8388608.0f + offset);
}

// ---------------------------------------------------------------------------------------
// load16: 16 elements of a row as float.

template <GgmlType T>
__device__ __forceinline__ void load16(const uint8_t* row, int k0, int n_in, float (&v)[16]);

template <>
__device__ __forceinline__ void load16<GgmlType::F32>(const uint8_t* row, int k0, int n_in, float (&v)[16]) {
  const float* p = reinterpret_cast<const float*>(row) + k0;
  if (k0 + 16 <= n_in && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float4 f = __ldg(reinterpret_cast<const float4*>(p) + i);
      v[4 * i] = f.x; v[4 * i + 1] = f.y; v[4 * i + 2] = f.z; v[4 * i + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) v[i] = k0 + i < n_in ? __ldg(p + i) : 0.0f;
  }
}

template <bool kBf16>
__device__ __forceinline__ void load16_half_bits(const uint8_t* row, int k0, int n_in, float (&v)[16]) {
  const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + k0;
  if (k0 + 16 <= n_in && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const uint4 u = __ldg(reinterpret_cast<const uint4*>(p) + i);
      const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const uint16_t lo = w[j] & 0xFFFF, hi = w[j] >> 16;
        v[8 * i + 2 * j] = kBf16 ? bf16_bits_to_f32(lo) : f16_bits_to_f32(lo);
        v[8 * i + 2 * j + 1] = kBf16 ? bf16_bits_to_f32(hi) : f16_bits_to_f32(hi);
      }
    }
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const uint16_t h = k0 + i < n_in ? __ldg(p + i) : 0;
      v[i] = kBf16 ? bf16_bits_to_f32(h) : f16_bits_to_f32(h);
    }
  }
}

template <>
__device__ __forceinline__ void load16<GgmlType::F16>(const uint8_t* row, int k0, int n_in, float (&v)[16]) {
  load16_half_bits<false>(row, k0, n_in, v);
}
template <>
__device__ __forceinline__ void load16<GgmlType::BF16>(const uint8_t* row, int k0, int n_in, float (&v)[16]) {
  load16_half_bits<true>(row, k0, n_in, v);
}

template <>
__device__ __forceinline__ void load16<GgmlType::Q8_0>(const uint8_t* row, int k0, int, float (&v)[16]) {
  const uint8_t* b = row + (k0 / 32) * kQ8_0Bytes;
  const float d = f16_bits_to_f32(load_u16(b));
  const uint8_t* qs = b + 2 + (k0 % 32);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t w = load_u32_a2(qs + 4 * i);
#pragma unroll
    for (int j = 0; j < 4; ++j) v[4 * i + j] = d * static_cast<float>(static_cast<int8_t>(w >> (8 * j)));
  }
}

template <>
__device__ __forceinline__ void load16<GgmlType::Q4_K>(const uint8_t* row, int k0, int, float (&v)[16]) {
  const uint8_t* b = row + (k0 / 256) * kQ4_KBytes;
  const int e = k0 % 256, s = e / 32;
  const uint4 head = __ldg(reinterpret_cast<const uint4*>(b));
  const float d = f16_bits_to_f32(head.x & 0xFFFF), dmin = f16_bits_to_f32(head.x >> 16);
  int sc, mn;
  q4k_scale_min(head.y, head.z, head.w, s, sc, mn);
  const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mn);
  const uint4 q = __ldg(reinterpret_cast<const uint4*>(b + 16 + 32 * (s / 2) + (e % 32)));
  const uint32_t qw[4] = {q.x, q.y, q.z, q.w};
  const int shift = (s % 2) * 4;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
      v[4 * i + j] = d1 * static_cast<float>((qw[i] >> (8 * j + shift)) & 0xF) - m1;
}

template <>
__device__ __forceinline__ void load16<GgmlType::Q6_K>(const uint8_t* row, int k0, int, float (&v)[16]) {
  const uint8_t* b = row + (k0 / 256) * kQ6_KBytes;
  const int e = k0 % 256, n = e / 128, r = e % 128, q = r / 32, l0 = r % 32;
  const uint8_t* ql = b + 64 * n + l0 + (q % 2) * 32;
  const uint8_t* qh = b + 128 + 32 * n + l0;
  const float d = f16_bits_to_f32(load_u16(b + 208));
  const float dsc = d * static_cast<float>(static_cast<int8_t>(__ldg(b + 192 + 8 * n + l0 / 16 + 2 * q)));
  const int sl = (q / 2) * 4, sh = 2 * q;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t lw = load_u32_a2(ql + 4 * i), hw = load_u32_a2(qh + 4 * i);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int lo = (lw >> (8 * j + sl)) & 0xF, hi = (hw >> (8 * j + sh)) & 3;
      v[4 * i + j] = dsc * static_cast<float>((lo | (hi << 4)) - 32);
    }
  }
}

// ---------------------------------------------------------------------------------------
// MatvecChunk<T>: kElems elements per lane step c. load_x() fetches the input elements of
// chunk c once (they are shared by every row a warp computes), dot() dequantises chunk c of
// one row and returns its dot product with them. x4 is the input vector as float4.
//
// The matvec is bound by instruction issue, not memory (ncu on H100: SM throughput 65%,
// DRAM 20% for Q4_K, docs/perf.md): the layouts below are the fastest measured, and they
// amortise the per-block scale decoding over as many weights per lane as possible.

template <GgmlType T>
struct MatvecChunk;

template <>
struct MatvecChunk<GgmlType::F32> {
  static constexpr int kElems = 4, kXs = kElems;
  __device__ __forceinline__ static void load_x(const float4* x4, int c, float (&xv)[kXs]) {
    const float4 x = __ldg(x4 + c);
    xv[0] = x.x; xv[1] = x.y; xv[2] = x.z; xv[3] = x.w;
  }
  __device__ __forceinline__ static float dot(const uint8_t* row, int c, const float (&xv)[kXs]) {
    const float4 w = __ldg(reinterpret_cast<const float4*>(row) + c);
    return w.x * xv[0] + w.y * xv[1] + w.z * xv[2] + w.w * xv[3];
  }
};

template <bool kBf16>
struct MatvecChunkHalf {
  static constexpr int kElems = 8, kXs = kElems;
  __device__ __forceinline__ static void load_x(const float4* x4, int c, float (&xv)[kXs]) {
    const float4 a = __ldg(x4 + 2 * c), b = __ldg(x4 + 2 * c + 1);
    xv[0] = a.x; xv[1] = a.y; xv[2] = a.z; xv[3] = a.w;
    xv[4] = b.x; xv[5] = b.y; xv[6] = b.z; xv[7] = b.w;
  }
  __device__ __forceinline__ static float dot(const uint8_t* row, int c, const float (&xv)[kXs]) {
    const uint4 u = __ldg(reinterpret_cast<const uint4*>(row) + c);
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
    float acc = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint16_t lo = w[j] & 0xFFFF, hi = w[j] >> 16;
      acc += (kBf16 ? bf16_bits_to_f32(lo) : f16_bits_to_f32(lo)) * xv[2 * j];
      acc += (kBf16 ? bf16_bits_to_f32(hi) : f16_bits_to_f32(hi)) * xv[2 * j + 1];
    }
    return acc;
  }
};
template <>
struct MatvecChunk<GgmlType::F16> : MatvecChunkHalf<false> {};
template <>
struct MatvecChunk<GgmlType::BF16> : MatvecChunkHalf<true> {};

// Q8_0: half a block (16 quants) per lane step.
template <>
struct MatvecChunk<GgmlType::Q8_0> {
  static constexpr int kElems = 16, kXs = kElems;
  __device__ __forceinline__ static void load_x(const float4* x4, int c, float (&xv)[kXs]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float4 x = __ldg(x4 + 4 * c + i);
      xv[4 * i] = x.x; xv[4 * i + 1] = x.y; xv[4 * i + 2] = x.z; xv[4 * i + 3] = x.w;
    }
  }
  __device__ __forceinline__ static float dot(const uint8_t* row, int c, const float (&xv)[kXs]) {
    const uint8_t* b = row + (c / 2) * kQ8_0Bytes;
    const float d = f16_bits_to_f32(load_u16(b));
    const uint8_t* qs = b + 2 + 16 * (c % 2);
    float acc = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t w = load_u32_a2(qs + 4 * i);
#pragma unroll
      for (int j = 0; j < 4; ++j) acc += static_cast<float>(static_cast<int8_t>(w >> (8 * j))) * xv[4 * i + j];
    }
    return d * acc;
  }
};

// Q4_K: a lane takes 16 bytes of qs = 32 quants: 16 of sub-block 2j (low nibbles, elements
// 64j+16h+[0,16)) and 16 of sub-block 2j+1 (high nibbles, 32 elements further); 8 lanes
// cover one 256-element super-block. xv: the 16 low-nibble inputs, then the 16 high.
template <>
struct MatvecChunk<GgmlType::Q4_K> {
  static constexpr int kElems = 32, kXs = kElems;
  __device__ __forceinline__ static void load_x(const float4* x4, int c, float (&xv)[kXs]) {
    const int t = c % 8;
    const int base = (c / 8) * 64 + 16 * (t / 2) + 4 * (t % 2);  // float4 index
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float4 lo = __ldg(x4 + base + i), hi = __ldg(x4 + base + 8 + i);
      xv[4 * i] = lo.x; xv[4 * i + 1] = lo.y; xv[4 * i + 2] = lo.z; xv[4 * i + 3] = lo.w;
      xv[16 + 4 * i] = hi.x; xv[17 + 4 * i] = hi.y; xv[18 + 4 * i] = hi.z; xv[19 + 4 * i] = hi.w;
    }
  }
  __device__ __forceinline__ static float dot(const uint8_t* row, int c, const float (&xv)[kXs]) {
    const uint8_t* b = row + (c / 8) * kQ4_KBytes;
    const int t = c % 8, j = t / 2, h = t % 2;
    const uint4 head = __ldg(reinterpret_cast<const uint4*>(b));
    const uint4 q = __ldg(reinterpret_cast<const uint4*>(b + 16 + 32 * j + 16 * h));
    int sc0, m0, sc1, m1;
    q4k_scale_min(head.y, head.z, head.w, 2 * j, sc0, m0);
    q4k_scale_min(head.y, head.z, head.w, 2 * j + 1, sc1, m1);
    const uint32_t qw[4] = {q.x, q.y, q.z, q.w};
    float dot_lo = 0.0f, dot_hi = 0.0f, sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        dot_lo += static_cast<float>((qw[i] >> (8 * k)) & 0xF) * xv[4 * i + k];
        dot_hi += static_cast<float>((qw[i] >> (8 * k + 4)) & 0xF) * xv[16 + 4 * i + k];
        sum_lo += xv[4 * i + k];
        sum_hi += xv[16 + 4 * i + k];
      }
    }
    const float d = f16_bits_to_f32(head.x & 0xFFFF), dmin = f16_bits_to_f32(head.x >> 16);
    // sum_i (d*sc*q_i - dmin*m) x_i = d*sc*dot - dmin*m*sum
    return d * (static_cast<float>(sc0) * dot_lo + static_cast<float>(sc1) * dot_hi) -
           dmin * (static_cast<float>(m0) * sum_lo + static_cast<float>(m1) * sum_hi);
  }
};

// Q6_K: a lane takes l in [8g, 8g+8) of one 128-element half n and all four quarters q
// (elements 128n + 32q + l): 8 bytes each of ql[l], ql[l+32], qh[l] → 32 quants with 4
// scales; 8 lanes per super-block. xv: quarter-major, 8 inputs per quarter.
template <>
struct MatvecChunk<GgmlType::Q6_K> {
  static constexpr int kElems = 32, kXs = kElems;
  __device__ __forceinline__ static void load_x(const float4* x4, int c, float (&xv)[kXs]) {
    const int t = c % 8;
    const int base = (c / 8) * 64 + 32 * (t / 4) + 2 * (t % 4);  // float4 index of 128n + 8g
#pragma unroll
    for (int q = 0; q < 4; ++q)
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const float4 x = __ldg(x4 + base + 8 * q + i);
        xv[8 * q + 4 * i] = x.x; xv[8 * q + 4 * i + 1] = x.y;
        xv[8 * q + 4 * i + 2] = x.z; xv[8 * q + 4 * i + 3] = x.w;
      }
  }
  __device__ __forceinline__ static float dot(const uint8_t* row, int c, const float (&xv)[kXs]) {
    const uint8_t* b = row + (c / 8) * kQ6_KBytes;
    const int t = c % 8, n = t / 4, g = t % 4;
    const uint8_t* ql = b + 64 * n + 8 * g;
    const uint8_t* qh = b + 128 + 32 * n + 8 * g;
    const uint32_t la[2] = {load_u32_a2(ql), load_u32_a2(ql + 4)};
    const uint32_t lb[2] = {load_u32_a2(ql + 32), load_u32_a2(ql + 36)};
    const uint32_t hh[2] = {load_u32_a2(qh), load_u32_a2(qh + 4)};
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * n + g / 2);
    const float d = f16_bits_to_f32(load_u16(b + 208));
    float acc = 0.0f;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const uint32_t* lw = (q % 2) ? lb : la;
      const int sl = (q / 2) * 4, sh = 2 * q;
      float part = 0.0f;
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        // Four 6-bit quants at once: low nibbles | high 2 bits << 4, one per byte.
        const uint32_t q6 = ((lw[i] >> sl) & 0x0F0F0F0Fu) | (((hh[i] >> sh) & 0x03030303u) << 4);
        part += byte_to_float<0>(q6, 32.0f) * xv[8 * q + 4 * i] + byte_to_float<1>(q6, 32.0f) * xv[8 * q + 4 * i + 1] +
                byte_to_float<2>(q6, 32.0f) * xv[8 * q + 4 * i + 2] + byte_to_float<3>(q6, 32.0f) * xv[8 * q + 4 * i + 3];
      }
      acc += static_cast<float>(__ldg(sc + 2 * q)) * part;
    }
    return d * acc;
  }
};

}  // namespace kotaro::cuda
