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
  } else if (k0 + 16 <= n_in && (reinterpret_cast<uintptr_t>(p) & 7) == 0) {
    // Rows whose byte length is 8 mod 16 (n_in = 4 mod 8, e.g. the vision ffn_down's 3420
    // inputs) start every other row on an 8-byte boundary: four 8-byte loads instead of
    // sixteen 2-byte ones (the vision down projection: 205 -> 164 us, 55 -> 69 TFLOP/s on H200).
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint2 u = __ldg(reinterpret_cast<const uint2*>(p) + i);
      const uint32_t w[2] = {u.x, u.y};
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const uint16_t lo = w[j] & 0xFFFF, hi = w[j] >> 16;
        v[4 * i + 2 * j] = kBf16 ? bf16_bits_to_f32(lo) : f16_bits_to_f32(lo);
        v[4 * i + 2 * j + 1] = kBf16 ? bf16_bits_to_f32(hi) : f16_bits_to_f32(hi);
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

// ---------------------------------------------------------------------------------------
// MatvecQ8Chunk<T>: the int8-activation matvec's unit of work for one lane (Q8_0, Q4_K,
// Q6_K): 32 weights of one row against 32 int8 inputs of x (quantize_activations.cuh),
// integer dot products on __dp4a, the block scales applied once per 16 or 32 weights.
//   load_w(row, c): the raw bytes of chunk c of one row (issued a step ahead of use);
//   load_x(xq, xd, c): chunk c of x from shared memory, shared by a warp's rows;
//   dot(w, x, c): their dot product as a float.
// Chunk c is a lane's share: c % 8 (Q4_K, Q6_K: 8 lanes per 256-weight super-block) is the
// lane's position, constant over the kernel's loop (c = lane + 32k), so the shifts and
// selects that depend on it are fixed per lane.

// Exact int → float for |v| < 2^22 without I2F (quarter-rate): 1.5 * 2^23 + v keeps v in
// the mantissa.
__device__ __forceinline__ float small_int_to_float(int v) {
  return __int_as_float(0x4B400000 + v) - 12582912.0f;
}

__device__ __forceinline__ uint32_t ldg_u32(const uint8_t* p) {
  return __ldg(reinterpret_cast<const unsigned int*>(p));
}

// 8 bytes at p (2-byte aligned, 4-byte aligned iff par == 0) as two little-endian words,
// from aligned 4-byte loads joined by funnel shifts. Reads only bytes [p - par, p + 8): a
// block at the very end of the weights is never read past.
__device__ __forceinline__ uint2 load8_a2(const uint8_t* p, int par) {
  const uint8_t* base = p - par;
  const int s = 8 * par;  // 0 or 16
  const uint32_t w0 = ldg_u32(base), w1 = ldg_u32(base + 4);
  const uint32_t w2 = par ? static_cast<uint32_t>(load_u16(base + 8)) : 0u;
  return make_uint2(__funnelshift_r(w0, w1, s), __funnelshift_r(w1, w2, s));
}

template <GgmlType T>
struct MatvecQ8Chunk;

// Q8_0: one lane, one block of 34 bytes (2-byte aligned: every other block's quants start
// off a 4-byte boundary and are joined from aligned words).
template <>
struct MatvecQ8Chunk<GgmlType::Q8_0> {
  struct W {
    uint32_t q[8];
    uint32_t d;
  };
  struct X {
    int4 h0, h1;
    float d;
  };
  __device__ __forceinline__ static W load_w(const uint8_t* row, int c) {
    const uint8_t* b = row + static_cast<size_t>(c) * kQ8_0Bytes;
    const int par = static_cast<int>(reinterpret_cast<uintptr_t>(b + 2) & 2);  // 2: quants misaligned
    const uint8_t* base = b + 2 - par;
    uint32_t a[9];
#pragma unroll
    for (int k = 0; k < 8; ++k) a[k] = ldg_u32(base + 4 * k);
    a[8] = load_u16(b + 32);  // quants 30, 31 (only needed when misaligned)
    W w;
#pragma unroll
    for (int k = 0; k < 8; ++k) w.q[k] = __funnelshift_r(a[k], a[k + 1], 8 * par);
    w.d = load_u16(b);
    return w;
  }
  __device__ __forceinline__ static X load_x(const int8_t* xq, const float* xd, int c) {
    const int sw = (c >> 2) & 1;  // see xq_pos
    X x;
    x.h0 = *reinterpret_cast<const int4*>(xq + 32 * c + 16 * sw);
    x.h1 = *reinterpret_cast<const int4*>(xq + 32 * c + 16 * (1 - sw));
    x.d = xd[c];
    return x;
  }
  __device__ __forceinline__ static float dot(const W& w, const X& x, int) {
    int acc = 0;
    acc = __dp4a(static_cast<int>(w.q[0]), x.h0.x, acc);
    acc = __dp4a(static_cast<int>(w.q[1]), x.h0.y, acc);
    acc = __dp4a(static_cast<int>(w.q[2]), x.h0.z, acc);
    acc = __dp4a(static_cast<int>(w.q[3]), x.h0.w, acc);
    acc = __dp4a(static_cast<int>(w.q[4]), x.h1.x, acc);
    acc = __dp4a(static_cast<int>(w.q[5]), x.h1.y, acc);
    acc = __dp4a(static_cast<int>(w.q[6]), x.h1.z, acc);
    acc = __dp4a(static_cast<int>(w.q[7]), x.h1.w, acc);
    // |acc| <= 32 * 128 * 127 < 2^22
    return f16_bits_to_f32(static_cast<uint16_t>(w.d)) * x.d * small_int_to_float(acc);
  }
};

// Q4_K: 6-bit scales and mins of sub-blocks 2j and 2j+1 as byte pairs (ggml's
// get_scale_min_k4 two at a time), from the packed scale words w1..w3 (block bytes 4..15).
__device__ __forceinline__ void q4k_scale_min_pair(uint32_t w1, uint32_t w2, uint32_t w3, int j, uint32_t& sc,
                                                   uint32_t& mn) {
  const bool upper = j >= 2;
  const int sh = 16 * (j & 1);
  const uint32_t p = (upper ? w2 : w1) >> sh;  // scale bytes 2j, 2j+1
  const uint32_t a = (upper ? w3 : w2) >> sh;  // scale bytes 2j+4, 2j+5
  const uint32_t q = w1 >> sh;                 // scale bytes 2j-4, 2j-3 (upper only)
  const uint32_t mlo = upper ? 0x0F0Fu : 0x3F3Fu, mhi = upper ? 0x3030u : 0u;
  sc = ((upper ? a : p) & mlo) | ((q >> 2) & mhi);
  mn = ((a >> (upper ? 4 : 0)) & mlo) | ((p >> 2) & mhi);
}

// Q4_K: lane t = c % 8 takes qs bytes [16t, 16t+16) of its super-block (j = t/2 the
// sub-block pair, h = t%2 the half): 16 quants of sub-block 2j (low nibbles) and 16 of 2j+1
// (high nibbles); the header (d, dmin, scales) is read by all 8 lanes (one L1 line).
template <>
struct MatvecQ8Chunk<GgmlType::Q4_K> {
  struct W {
    uint4 head, qs;
  };
  struct X {
    int4 lo, hi;
    float2 d;      // x scales of sub-blocks 2j, 2j+1
    int slo, shi;  // sums of the lane's 16 x quants of each (the min term)
  };
  __device__ __forceinline__ static W load_w(const uint8_t* row, int c) {
    const uint8_t* b = row + static_cast<size_t>(c / 8) * kQ4_KBytes;
    return {__ldg(reinterpret_cast<const uint4*>(b)), __ldg(reinterpret_cast<const uint4*>(b + 16 + 16 * (c % 8)))};
  }
  __device__ __forceinline__ static X load_x(const int8_t* xq, const float* xd, int c) {
    const int sb = c / 8, t = c % 8;
    X x;
    x.lo = *reinterpret_cast<const int4*>(xq + 256 * sb + 16 * t);
    x.hi = *reinterpret_cast<const int4*>(xq + 256 * sb + 128 + 16 * t);
    x.d = *reinterpret_cast<const float2*>(xd + 8 * sb + 2 * (t / 2));
    const int ones = 0x01010101;
    x.slo = __dp4a(x.lo.w, ones, __dp4a(x.lo.z, ones, __dp4a(x.lo.y, ones, __dp4a(x.lo.x, ones, 0))));
    x.shi = __dp4a(x.hi.w, ones, __dp4a(x.hi.z, ones, __dp4a(x.hi.y, ones, __dp4a(x.hi.x, ones, 0))));
    return x;
  }
  __device__ __forceinline__ static float dot(const W& w, const X& x, int c) {
    const uint32_t q[4] = {w.qs.x, w.qs.y, w.qs.z, w.qs.w};
    const int xl[4] = {x.lo.x, x.lo.y, x.lo.z, x.lo.w}, xh[4] = {x.hi.x, x.hi.y, x.hi.z, x.hi.w};
    int dlo = 0, dhi = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      dlo = __dp4a(static_cast<int>(q[i] & 0x0F0F0F0Fu), xl[i], dlo);
      dhi = __dp4a(static_cast<int>((q[i] >> 4) & 0x0F0F0F0Fu), xh[i], dhi);
    }
    uint32_t sc, mn;
    q4k_scale_min_pair(w.head.y, w.head.z, w.head.w, (c % 8) / 2, sc, mn);
    const float d = f16_bits_to_f32(w.head.x & 0xFFFF), dmin = f16_bits_to_f32(w.head.x >> 16);
    // sum_i (d*sc*q_i - dmin*m) x_i over the lane's 16 quants of a sub-block, with
    // x_i = dx*xq_i: dx*(d*sc*sum q_i xq_i - dmin*m*sum xq_i).
    // |sc * dlo| <= 63 * 16 * 15 * 127 < 2^22, |m * slo| <= 63 * 16 * 127.
    const float lo = d * small_int_to_float(dlo * static_cast<int>(sc & 0xFF)) -
                     dmin * small_int_to_float(x.slo * static_cast<int>(mn & 0xFF));
    const float hi = d * small_int_to_float(dhi * static_cast<int>(sc >> 8)) -
                     dmin * small_int_to_float(x.shi * static_cast<int>(mn >> 8));
    return lo * x.d.x + hi * x.d.y;
  }
};

// Q6_K: lane t = c % 8 takes positions l in [8g, 8g+8) of half n (t = 4n + g) in all four
// quarters (elements 128n + 32q + l): 8 bytes each of ql[l], ql[l+32], qh[l], and the
// half's 8 scale bytes (4 of them its own). Blocks are 210 bytes: 2-byte aligned.
template <>
struct MatvecQ8Chunk<GgmlType::Q6_K> {
  struct W {
    uint2 ql0, ql1, qh, sc;
    uint32_t d;
  };
  struct X {
    int4 a, b;   // quarters 0,1 and 2,3: two words each
    float4 d;    // x scales of the 4 quarters
    int s32[4];  // 32 * sum of the lane's 8 x quants per quarter (the -32 offset of q6)
  };
  __device__ __forceinline__ static W load_w(const uint8_t* row, int c) {
    const uint8_t* b = row + static_cast<size_t>(c / 8) * kQ6_KBytes;
    const int par = static_cast<int>(reinterpret_cast<uintptr_t>(b) & 2);  // the block's misalignment
    const int t = c % 8, n = t / 4, g = t % 4;
    W w;
    w.ql0 = load8_a2(b + 64 * n + 8 * g, par);
    w.ql1 = load8_a2(b + 64 * n + 32 + 8 * g, par);
    w.qh = load8_a2(b + 128 + 32 * n + 8 * g, par);
    w.sc = load8_a2(b + 192 + 8 * n, par);
    w.d = load_u16(b + 208);
    return w;
  }
  __device__ __forceinline__ static X load_x(const int8_t* xq, const float* xd, int c) {
    const int sb = c / 8, t = c % 8;
    X x;
    x.a = *reinterpret_cast<const int4*>(xq + 256 * sb + 16 * t);
    x.b = *reinterpret_cast<const int4*>(xq + 256 * sb + 128 + 16 * t);
    x.d = *reinterpret_cast<const float4*>(xd + 8 * sb + 4 * (t / 4));
    const int ones = 0x01010101;
    x.s32[0] = 32 * __dp4a(x.a.y, ones, __dp4a(x.a.x, ones, 0));
    x.s32[1] = 32 * __dp4a(x.a.w, ones, __dp4a(x.a.z, ones, 0));
    x.s32[2] = 32 * __dp4a(x.b.y, ones, __dp4a(x.b.x, ones, 0));
    x.s32[3] = 32 * __dp4a(x.b.w, ones, __dp4a(x.b.z, ones, 0));
    return x;
  }
  __device__ __forceinline__ static float dot(const W& w, const X& x, int c) {
    const int hs = (c % 8) % 4 / 2;  // which of each scale pair: sub-block l / 16
    const uint32_t l0[2] = {w.ql0.x, w.ql0.y}, l1[2] = {w.ql1.x, w.ql1.y}, h[2] = {w.qh.x, w.qh.y};
    int dq[4];
    {
      // 6-bit quants, one per byte: low nibble from ql, bits 4-5 from qh (ggml's layout)
      int q0[2], q1[2], q2[2], q3[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        q0[i] = static_cast<int>((l0[i] & 0x0F0F0F0Fu) | ((h[i] << 4) & 0x30303030u));
        q1[i] = static_cast<int>((l1[i] & 0x0F0F0F0Fu) | ((h[i] << 2) & 0x30303030u));
        q2[i] = static_cast<int>(((l0[i] >> 4) & 0x0F0F0F0Fu) | (h[i] & 0x30303030u));
        q3[i] = static_cast<int>(((l1[i] >> 4) & 0x0F0F0F0Fu) | ((h[i] >> 2) & 0x30303030u));
      }
      dq[0] = __dp4a(q0[1], x.a.y, __dp4a(q0[0], x.a.x, 0));
      dq[1] = __dp4a(q1[1], x.a.w, __dp4a(q1[0], x.a.z, 0));
      dq[2] = __dp4a(q2[1], x.b.y, __dp4a(q2[0], x.b.x, 0));
      dq[3] = __dp4a(q3[1], x.b.w, __dp4a(q3[0], x.b.z, 0));
    }
    // scale of quarter q: byte hs + 2q of the half's 8 (int8)
    const int s0 = static_cast<int8_t>(w.sc.x >> (8 * hs)), s1 = static_cast<int8_t>(w.sc.x >> (8 * hs + 16));
    const int s2 = static_cast<int8_t>(w.sc.y >> (8 * hs)), s3 = static_cast<int8_t>(w.sc.y >> (8 * hs + 16));
    // |sc * sum (q-32) xq| <= 128 * 8 * 32 * 127 < 2^22
    const float acc = small_int_to_float(s0 * (dq[0] - x.s32[0])) * x.d.x +
                      small_int_to_float(s1 * (dq[1] - x.s32[1])) * x.d.y +
                      small_int_to_float(s2 * (dq[2] - x.s32[2])) * x.d.z +
                      small_int_to_float(s3 * (dq[3] - x.s32[3])) * x.d.w;
    return f16_bits_to_f32(static_cast<uint16_t>(w.d)) * acc;
  }
};

}  // namespace kotaro::cuda
