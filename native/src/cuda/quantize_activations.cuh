// The decode matvec's activation quantiser: x (float32) → int8 blocks of 32 with one float
// scale each (d = max|x| / 127, q = round(x / d)).
//
// Why: with x in int8 the weight dot products run on __dp4a (four multiply-adds per
// instruction, no int→float per weight); the float32 kernel spent its issue slots on
// dequantisation and reached 29% of the H100's DRAM bandwidth for Q4_K (docs/perf.md).
// The rounding of x costs ~1.5e-5 NMSE on the outputs for uniform x (llama.cpp's mmvq
// does the same with its q8_1 blocks). Offsets (Q4_K's mins, Q6_K's -32) are applied to
// the rounded x as well, through sums of the int8 values: the result is exactly W x' for
// the rounded x', with error sum_i w_i (x'_i - x_i) as for the types without offsets.
// (Exact float sums of x for Q4_K's min term would weight the rounding error by d*sc*q
// instead of w: 4x the NMSE on uniform weights in a host emulation.)
//
// Each block of the matvec kernel quantises the whole x into its own shared memory
// (quantize_x_to_shared): no workspace, no extra launch, no signature change; the cost
// (~6 instructions per element) is repeated per block of 8 x R rows, 6 / (8R) per weight
// beside the dot product's ~2-5. The int8 values are stored in a per-type order (xq_pos)
// chosen so that the lanes of the dot product read them with conflict-free 16-byte
// shared-memory loads; runs of 8 elements starting at a multiple of 8 stay contiguous in
// every order.
#pragma once
#include <cstdint>

#include "cuda/common.cuh"
#include "kotaro/ggml_types.h"

namespace kotaro::cuda {

// Position in the shared int8 buffer of element e (e % 8 == 0 for a run of 8).
//  Q4_K: a lane takes 16 quants of sub-block 2j and 16 of 2j+1 (low/high nibbles of the
//        same qs bytes): the even sub-blocks of a super-block come first, then the odd
//        ones, so lane t of 8 reads bytes [16t, 16t+16) and [128+16t, 128+16t+16).
//  Q6_K: a lane (half n, group g of 8 positions) takes 8 quants of each of the 4
//        quarters: quarters 0,1 of lane t = 4n+g at [16t, 16t+16), quarters 2,3 at 128+16t.
//  Q8_0: a lane takes one whole block; its two 16-byte halves swap places in every other
//        group of 4 blocks, so 8 lanes reading their first halves hit distinct banks.
template <GgmlType T>
__host__ __device__ constexpr int xq_pos(int e) {
  if constexpr (T == GgmlType::Q4_K) {
    const int s = (e >> 5) & 7;
    return (e & ~255) + (((s & 1) * 4 + (s >> 1)) << 5) + (e & 31);
  } else if constexpr (T == GgmlType::Q6_K) {
    const int n = (e >> 7) & 1, q = (e >> 5) & 3, g = (e >> 3) & 3;
    return (e & ~255) + (q >> 1) * 128 + 16 * (4 * n + g) + (q & 1) * 8 + (e & 7);
  } else {
    const int blk = e >> 5, h = (e >> 4) & 1;
    return 32 * blk + 16 * (h ^ ((blk >> 2) & 1)) + (e & 15);
  }
}

// Shared-memory bytes for x of n_in elements (n_in % 32 == 0): int8 values, then the
// float scales (16-byte aligned for n_in % 256 == 0: Q4_K, Q6_K; 4-byte for Q8_0).
__host__ __device__ constexpr int xq_shared_bytes(int n_in) {
  return n_in + (n_in / 32) * 4;
}

// Round v*inv to the nearest integer (|v*inv| <= 127 + rounding) and return its low byte
// in two's complement: 1.5 * 2^23 + r keeps r in the low mantissa bits, no F2I needed.
__host__ __device__ __forceinline__ uint32_t round_to_s8_bits(float v, float inv) {
  const float f = fmaf(v, inv, 12582912.0f);
#ifdef __CUDA_ARCH__
  return __float_as_uint(f) & 0xFFu;
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u & 0xFFu;
#endif
}

// Eight values → eight int8 (two little-endian words) at scale 1/inv.
__host__ __device__ __forceinline__ uint2 pack8_s8(const float (&v)[8], float inv) {
  uint32_t w[2];
#pragma unroll
  for (int h = 0; h < 2; ++h)
    w[h] = round_to_s8_bits(v[4 * h], inv) | (round_to_s8_bits(v[4 * h + 1], inv) << 8) |
           (round_to_s8_bits(v[4 * h + 2], inv) << 16) | (round_to_s8_bits(v[4 * h + 3], inv) << 24);
  return make_uint2(w[0], w[1]);
}

// Inverse scale for a block whose largest magnitude is amax (0 for an all-zero block: its
// quants are 0 and its scale 0).
__host__ __device__ __forceinline__ float xq_inverse_scale(float amax) {
  return amax > 0.0f ? 127.0f / amax : 0.0f;
}

#ifdef __CUDACC__
// Quantise x[0, n_in) into shared memory: xq[xq_pos(e)] and xd[e / 32] (scales). Every thread of the block calls it (uniform trip count: the shuffles
// need all lanes); a thread takes runs of 8 elements, 4 lanes form one block of 32. The
// caller synchronises the block before reading. x: 16-byte aligned, n_in % 32 == 0.
template <GgmlType T>
__device__ __forceinline__ void quantize_x_to_shared(const float* __restrict__ x, int n_in, int8_t* xq, float* xd) {
  constexpr int kUnroll = 4;  // loads of several runs in flight before the first use
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const int n8 = n_in / 8;
  for (int i0 = 0; i0 < n8; i0 += kUnroll * static_cast<int>(blockDim.x)) {
    float v[kUnroll][8];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = i0 + u * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      const float4 a = i < n8 ? __ldg(x4 + 2 * i) : make_float4(0.f, 0.f, 0.f, 0.f);
      const float4 b = i < n8 ? __ldg(x4 + 2 * i + 1) : make_float4(0.f, 0.f, 0.f, 0.f);
      v[u][0] = a.x; v[u][1] = a.y; v[u][2] = a.z; v[u][3] = a.w;
      v[u][4] = b.x; v[u][5] = b.y; v[u][6] = b.z; v[u][7] = b.w;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = i0 + u * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      float amax = 0.0f;
#pragma unroll
      for (int k = 0; k < 8; ++k) amax = fmaxf(amax, fabsf(v[u][k]));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
      const uint2 q = pack8_s8(v[u], xq_inverse_scale(amax));
      if (i < n8) {
        *reinterpret_cast<uint2*>(xq + xq_pos<T>(8 * i)) = q;
        if ((i & 3) == 0) xd[i >> 2] = amax * (1.0f / 127.0f);
      }
    }
  }
}
#endif

}  // namespace kotaro::cuda
