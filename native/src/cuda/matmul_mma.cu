// Tensor-core matrix product for prefill and the vision tower:
//   y[n, n_out] = x[n, n_in] W^T (+ bias), W in F16/BF16/Q8_0/Q4_K/Q6_K.
// mma.sync.m16n8k16 (sm_80+, so it runs on the RTX 40xx and on Hopper alike), FP16 operands
// (BF16 for BF16 weights), FP32 accumulation.
//
// Block tile: BM tokens x 128 features, k step 32, 8 warps in a 2 x 4 grid, (BM/2) x 32 per
// warp. BM = 64 is the first kernel (v1); BM = 128 halves the weight loads and their
// dequantisation per FLOP (each weight tile now serves 128 tokens) and gives each warp a
// 64x32 tile, 6 ldmatrix per 16 mma instead of 4 per 8. Per k step each thread loads 8
// activations (two float4) per 64 tile rows and 16 weights (one load16, dequantised in
// registers), converts them to 16-bit and stores them to a double-buffered shared tile; the
// loads for step k+1 are issued before the tensor cores work on step k, so one barrier per
// step suffices. Fragments come from shared memory with ldmatrix; the 8-half row padding
// makes those reads conflict-free. The big tile is used when the grid still fills the GPU
// (KOTARO_CUDA_MMA=v1 forces 64, =v2 forces 128; for A/B runs and tests).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdlib>
#include <cstring>

#include "cuda/common.cuh"
#include "cuda/dequant.cuh"
#include "cuda/matmul.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

constexpr int kBN = 128, kBK = 32, kPad = 8, kLds = kBK + kPad;
constexpr int kThreads = 256;

template <typename MT>
__device__ __forceinline__ uint32_t pack2(float a, float b);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  const __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&h);
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <typename MT>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <GgmlType T, typename MT, int BM>
__global__ void __launch_bounds__(kThreads, BM == 128 ? 2 : 1)
    matmul_mma_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int n_in, int n_out,
                      const float* __restrict__ x, int n, bool x_vec4, const float* __restrict__ bias,
                      float* __restrict__ y) {
  constexpr int kMI = BM / 32;      // m16 fragments per warp
  constexpr int kAPasses = BM / 64;  // 64 activation rows per pass of the 256 threads
  __shared__ alignas(16) MT xs[2][BM][kLds];
  __shared__ alignas(16) MT ws[2][kBN][kLds];

  const int tid = threadIdx.x, lane = tid % kWarpSize, warp = tid / kWarpSize;
  const int warp_m = warp % 2, warp_n = warp / 2;
  const int n0 = blockIdx.x * kBN, m0 = blockIdx.y * BM;

  // This thread's share of each tile: 8 activations of one token row per pass (rows
  // a_row + 64p), 16 weights of one feature row.
  const int a_row = tid / 4, a_col = (tid % 4) * 8;
  const int b_row = tid / 2, b_col = (tid % 2) * 16;
  const int b_f = n0 + b_row;
  const uint8_t* w_row = w + static_cast<size_t>(b_f < n_out ? b_f : 0) * row_bytes;

  float a_reg[kAPasses][8], b_reg[16];
  auto load_tile = [&](int k0) {
    const int ka = k0 + a_col;
#pragma unroll
    for (int p = 0; p < kAPasses; ++p) {
      const int a_m = m0 + a_row + 64 * p;
      const float* x_row = x + static_cast<size_t>(a_m < n ? a_m : 0) * n_in;
      if (a_m < n && x_vec4 && ka + 8 <= n_in) {
        const float4 u = __ldg(reinterpret_cast<const float4*>(x_row + ka));
        const float4 q = __ldg(reinterpret_cast<const float4*>(x_row + ka + 4));
        a_reg[p][0] = u.x; a_reg[p][1] = u.y; a_reg[p][2] = u.z; a_reg[p][3] = u.w;
        a_reg[p][4] = q.x; a_reg[p][5] = q.y; a_reg[p][6] = q.z; a_reg[p][7] = q.w;
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) a_reg[p][i] = (a_m < n && ka + i < n_in) ? x_row[ka + i] : 0.0f;
      }
    }
    if (b_f < n_out && k0 + b_col < n_in) {
      load16<T>(w_row, k0 + b_col, n_in, b_reg);
    } else {
#pragma unroll
      for (int i = 0; i < 16; ++i) b_reg[i] = 0.0f;
    }
  };
  auto store_tile = [&](int buf) {
#pragma unroll
    for (int p = 0; p < kAPasses; ++p) {
      uint4 av;
      av.x = pack2<MT>(a_reg[p][0], a_reg[p][1]); av.y = pack2<MT>(a_reg[p][2], a_reg[p][3]);
      av.z = pack2<MT>(a_reg[p][4], a_reg[p][5]); av.w = pack2<MT>(a_reg[p][6], a_reg[p][7]);
      *reinterpret_cast<uint4*>(&xs[buf][a_row + 64 * p][a_col]) = av;
    }
    uint4 b0v, b1v;
    b0v.x = pack2<MT>(b_reg[0], b_reg[1]);   b0v.y = pack2<MT>(b_reg[2], b_reg[3]);
    b0v.z = pack2<MT>(b_reg[4], b_reg[5]);   b0v.w = pack2<MT>(b_reg[6], b_reg[7]);
    b1v.x = pack2<MT>(b_reg[8], b_reg[9]);   b1v.y = pack2<MT>(b_reg[10], b_reg[11]);
    b1v.z = pack2<MT>(b_reg[12], b_reg[13]); b1v.w = pack2<MT>(b_reg[14], b_reg[15]);
    *reinterpret_cast<uint4*>(&ws[buf][b_row][b_col]) = b0v;
    *reinterpret_cast<uint4*>(&ws[buf][b_row][b_col + 8]) = b1v;
  };

  float acc[kMI][4][4] = {};
  const int n_k = (n_in + kBK - 1) / kBK;
  load_tile(0);
  store_tile(0);
  __syncthreads();
  for (int kt = 0; kt < n_k; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < n_k) load_tile((kt + 1) * kBK);
#pragma unroll
    for (int ks = 0; ks < kBK; ks += 16) {
      uint32_t af[kMI][4], bf[2][4];
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
        ldmatrix_x4(af[mi], &xs[buf][warp_m * (BM / 2) + mi * 16 + (lane % 16)][ks + (lane / 16) * 8]);
#pragma unroll
      for (int nj = 0; nj < 2; ++nj)
        ldmatrix_x4(bf[nj], &ws[buf][warp_n * 32 + nj * 16 + (lane % 8) + (lane / 16) * 8][ks + ((lane / 8) % 2) * 8]);
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
          mma_16816<MT>(acc[mi][ni], af[mi], bf[ni / 2][(ni % 2) * 2], bf[ni / 2][(ni % 2) * 2 + 1]);
    }
    if (kt + 1 < n_k) store_tile(buf ^ 1);
    __syncthreads();
  }

  // Accumulator layout of m16n8: c0,c1 at (row g, cols 2t, 2t+1), c2,c3 at row g+8.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int m = m0 + warp_m * (BM / 2) + mi * 16 + g + (c / 2) * 8;
        const int f = n0 + warp_n * 32 + ni * 8 + 2 * t + (c % 2);
        if (m < n && f < n_out) y[static_cast<size_t>(m) * n_out + f] = acc[mi][ni][c] + (bias ? bias[f] : 0.0f);
      }
}

// KOTARO_CUDA_MMA: "v1" forces the 64-token tile, "v2" the 128-token tile; otherwise the
// 128 tile is taken when its grid gives every SM at least two blocks (a smaller grid leaves
// SMs idle, where the 64 tile's twice as many blocks keep them busy).
int mma_tile_rows(int64_t n, int64_t n_out) {
  static const int forced = [] {
    const char* v = std::getenv("KOTARO_CUDA_MMA");
    if (v && std::strcmp(v, "v1") == 0) return 64;
    if (v && std::strcmp(v, "v2") == 0) return 128;
    return 0;
  }();
  if (forced) return forced;
  static const int sms = [] {
    int dev = 0, count = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
      return 0;
    return count;
  }();
  const int64_t blocks128 = ceil_div<int64_t>(n_out, kBN) * ceil_div<int64_t>(n, 128);
  return sms > 0 && blocks128 >= 2 * int64_t(sms) ? 128 : 64;
}

template <GgmlType T, typename MT, int BM>
void launch_tile(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                 cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div<int64_t>(w.n_out, kBN)),
                  static_cast<unsigned>(ceil_div<int64_t>(n, BM)));
  const bool x_vec4 = (reinterpret_cast<uintptr_t>(x) & 15) == 0 && w.n_in % 4 == 0;
  matmul_mma_kernel<T, MT, BM><<<grid, kThreads, 0, stream>>>(static_cast<const uint8_t*>(w.data), w.row_bytes,
                                                              static_cast<int>(w.n_in), static_cast<int>(w.n_out),
                                                              x, static_cast<int>(n), x_vec4, bias, y);
  KOTARO_CUDA_CHECK_LAUNCH("matmul_mma_kernel");
}

template <GgmlType T, typename MT>
void launch_typed(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                  cudaStream_t stream) {
  if (mma_tile_rows(n, w.n_out) == 128) return launch_tile<T, MT, 128>(w, x, n, bias, y, stream);
  return launch_tile<T, MT, 64>(w, x, n, bias, y, stream);
}

}  // namespace

bool mma_can_run(const DeviceWeight& w) {
  if (w.n_in > INT32_MAX || w.n_out > INT32_MAX) return false;
  switch (w.type) {
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
      return true;
    case GgmlType::Q4_K:
    case GgmlType::Q6_K:
      return (reinterpret_cast<uintptr_t>(w.data) & 15) == 0;
    default:
      return false;
  }
}

void launch_matmul_mma(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                       cudaStream_t stream) {
  if (n <= 0 || w.n_out <= 0) return;
  if (!mma_can_run(w) || n > int64_t(64) * 65535) fail(ErrorCode::Internal, "matmul_mma: operands it cannot run");
  switch (w.type) {
    case GgmlType::F16: return launch_typed<GgmlType::F16, __half>(w, x, n, bias, y, stream);
    case GgmlType::BF16: return launch_typed<GgmlType::BF16, __nv_bfloat16>(w, x, n, bias, y, stream);
    case GgmlType::Q8_0: return launch_typed<GgmlType::Q8_0, __half>(w, x, n, bias, y, stream);
    case GgmlType::Q4_K: return launch_typed<GgmlType::Q4_K, __half>(w, x, n, bias, y, stream);
    case GgmlType::Q6_K: return launch_typed<GgmlType::Q6_K, __half>(w, x, n, bias, y, stream);
    default: fail(ErrorCode::Internal, "matmul_mma: unsupported weight type");
  }
}

}  // namespace kotaro::cuda
