// RMSNorm, one block per row, as transformers' Qwen2RMSNorm in float32:
// y = w * (x * 1/sqrt(mean(x^2) + eps)). Rows of a multiple of 4 floats (every model row)
// take the register kernel; the strided-loop kernels serve the rest.
#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "cuda/common.cuh"
#include "cuda/layer_ops.h"

namespace kotaro::cuda {

namespace {

__global__ void rms_norm_kernel(const float* x, const float* __restrict__ w, float eps, int64_t cols,
                                float* y) {
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  // Each element is read and written by the same thread: in-place (y == x) is safe.
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

// The row held in registers, 16-byte loads: each thread issues all its loads at once, where
// the strided loop of rms_norm_kernel waits on one load per iteration (a decode row of 3584 took ~10 us
// in that loop, latency-bound). kAdd: sum = a + b first (a plain add, as add() computes it),
// so the fused and the separate forms share one reduction order and agree bit for bit.
constexpr int kVecPerThread = 4;  // float4s per thread: rows up to 1024 * 16 = 16384 floats
template <bool kAdd>
__global__ void rms_norm_vec_kernel(const float* a, const float* b, float* sum, const float* __restrict__ w,
                                    float eps, int cols, float* y) {
  const int n4 = cols / 4;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * cols;
  const float4* a4 = reinterpret_cast<const float4*>(a + row);
  float4 v[kVecPerThread];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kVecPerThread; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < n4) {
      float4 x = a4[i];
      if (kAdd) {
        const float4 c = reinterpret_cast<const float4*>(b + row)[i];
        x.x = x.x + c.x;
        x.y = x.y + c.y;
        x.z = x.z + c.z;
        x.w = x.w + c.w;
        reinterpret_cast<float4*>(sum + row)[i] = x;
      }
      v[j] = x;
      ss = fmaf(x.x, x.x, ss);
      ss = fmaf(x.y, x.y, ss);
      ss = fmaf(x.z, x.z, ss);
      ss = fmaf(x.w, x.w, ss);
    }
  }
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  float4* y4 = reinterpret_cast<float4*>(y + row);
  const float4* w4 = reinterpret_cast<const float4*>(w);
#pragma unroll
  for (int j = 0; j < kVecPerThread; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < n4) {
      const float4 g = w4[i], x = v[j];
      y4[i] = make_float4(g.x * (x.x * inv), g.y * (x.y * inv), g.z * (x.z * inv), g.w * (x.w * inv));
    }
  }
}

int norm_threads(int64_t cols) { return cols >= 1024 ? 256 : (cols >= 256 ? 128 : 64); }

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Threads for the register kernel, or 0 when the row does not fit it (cols not a multiple
// of 4, a pointer not 16-byte aligned, or more than 1024 * kVecPerThread float4s).
int vec_threads(int64_t cols, std::initializer_list<const void*> ptrs) {
  if (cols % 4 != 0 || cols / 4 > 1024 * kVecPerThread) return 0;
  for (const void* p : ptrs)
    if (p && !aligned16(p)) return 0;
  const int64_t n4 = cols / 4;
  const int64_t per = (n4 + kVecPerThread - 1) / kVecPerThread;
  const int64_t threads = std::max<int64_t>(n4 <= 1024 ? n4 : per, 32);
  return static_cast<int>(std::min<int64_t>(1024, (threads + 31) / 32 * 32));
}

}  // namespace

void add_rms_norm(const float* a, const float* b, float* sum, const float* weight, float eps, int64_t n,
                  int64_t cols, float* y, cudaStream_t stream) {
  if (n <= 0 || cols <= 0) return;
  if (const int t = vec_threads(cols, {a, b, sum, weight, y})) {
    rms_norm_vec_kernel<true><<<static_cast<unsigned>(n), t, 0, stream>>>(a, b, sum, weight, eps,
                                                                          static_cast<int>(cols), y);
    KOTARO_CUDA_CHECK_LAUNCH("rms_norm_vec_kernel<add>");
    return;
  }
  add(a, b, sum, n * cols, stream);  // rows the register kernel cannot take: the two ops
  rms_norm(sum, weight, eps, n, cols, y, stream);
}

void rms_norm(const float* x, const float* weight, float eps, int64_t n, int64_t cols, float* y,
              cudaStream_t stream) {
  if (n <= 0 || cols <= 0) return;
  if (const int t = vec_threads(cols, {x, weight, y})) {
    rms_norm_vec_kernel<false><<<static_cast<unsigned>(n), t, 0, stream>>>(x, nullptr, nullptr, weight, eps,
                                                                           static_cast<int>(cols), y);
    KOTARO_CUDA_CHECK_LAUNCH("rms_norm_vec_kernel");
    return;
  }
  rms_norm_kernel<<<static_cast<unsigned>(n), norm_threads(cols), 0, stream>>>(x, weight, eps, cols, y);
  KOTARO_CUDA_CHECK_LAUNCH("rms_norm_kernel");
}

}  // namespace kotaro::cuda
