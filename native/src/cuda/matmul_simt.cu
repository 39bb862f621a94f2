// Tiled float32 matrix product on the CUDA cores: y[n, n_out] = x[n, n_in] W^T (+ bias).
// The path for float32 weights (and any type under KOTARO_CUDA_PRECISE_MATMUL=1): weights
// are dequantised to float32 and every product is a float32 FMA, so results agree with the
// CPU reference to float32 rounding. 64x64 output tile per block, 4x4 per thread.
#include "cuda/common.cuh"
#include "cuda/dequant.cuh"
#include "cuda/matmul.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

constexpr int kTile = 64;   // tokens and features per block
constexpr int kTileK = 16;  // one load16 per weight row per step
constexpr int kThreads = 256;

template <GgmlType T>
__global__ void __launch_bounds__(kThreads)
    matmul_simt_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int n_in, int n_out,
                       const float* __restrict__ x, int n, const float* __restrict__ bias,
                       float* __restrict__ y) {
  __shared__ float xs[kTileK][kTile + 4];  // x tile, transposed: [k][token]
  __shared__ float ws[kTileK][kTile + 4];  // W tile, transposed: [k][feature]
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int n0 = blockIdx.x * kTile, m0 = blockIdx.y * kTile;
  float acc[4][4] = {};

  for (int k0 = 0; k0 < n_in; k0 += kTileK) {
    {  // x: 64 tokens x 16 k, 4 per thread
      const int r = tid / 4, kk = (tid % 4) * 4, m = m0 + r;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int k = k0 + kk + i;
        xs[kk + i][r] = (m < n && k < n_in) ? x[static_cast<size_t>(m) * n_in + k] : 0.0f;
      }
    }
    if (tid < kTile) {  // W: 64 feature rows x 16 k, one load16 per row
      float v[16];
      const int f = n0 + tid;
      if (f < n_out) {
        load16<T>(w + static_cast<size_t>(f) * row_bytes, k0, n_in, v);
      } else {
#pragma unroll
        for (int i = 0; i < 16; ++i) v[i] = 0.0f;
      }
#pragma unroll
      for (int i = 0; i < 16; ++i) ws[i][tid] = v[i];
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = xs[kk][ty * 4 + i];
        b[i] = ws[kk][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty * 4 + i;
    if (m >= n) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int f = n0 + tx * 4 + j;
      if (f < n_out) y[static_cast<size_t>(m) * n_out + f] = acc[i][j] + (bias ? bias[f] : 0.0f);
    }
  }
}

template <GgmlType T>
void launch_typed(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                  cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div<int64_t>(w.n_out, kTile)),
                  static_cast<unsigned>(ceil_div<int64_t>(n, kTile)));
  matmul_simt_kernel<T><<<grid, kThreads, 0, stream>>>(static_cast<const uint8_t*>(w.data), w.row_bytes,
                                                       static_cast<int>(w.n_in), static_cast<int>(w.n_out),
                                                       x, static_cast<int>(n), bias, y);
  KOTARO_CUDA_CHECK_LAUNCH("matmul_simt_kernel");
}

}  // namespace

void launch_matmul_simt(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                        cudaStream_t stream) {
  if (n <= 0 || w.n_out <= 0) return;
  if (n > int64_t(kTile) * 65535 || w.n_in > INT32_MAX || w.n_out > INT32_MAX)
    fail(ErrorCode::Internal, "matmul_simt: shape too large");
  switch (w.type) {
    case GgmlType::F32: return launch_typed<GgmlType::F32>(w, x, n, bias, y, stream);
    case GgmlType::F16: return launch_typed<GgmlType::F16>(w, x, n, bias, y, stream);
    case GgmlType::BF16: return launch_typed<GgmlType::BF16>(w, x, n, bias, y, stream);
    case GgmlType::Q8_0: return launch_typed<GgmlType::Q8_0>(w, x, n, bias, y, stream);
    case GgmlType::Q4_K: return launch_typed<GgmlType::Q4_K>(w, x, n, bias, y, stream);
    case GgmlType::Q6_K: return launch_typed<GgmlType::Q6_K>(w, x, n, bias, y, stream);
    default: fail(ErrorCode::Internal, "matmul_simt: unsupported weight type");
  }
}

}  // namespace kotaro::cuda
