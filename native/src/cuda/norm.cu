// RMSNorm, one block per row, as transformers' Qwen2RMSNorm in float32:
// y = w * (x * 1/sqrt(mean(x^2) + eps)).
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

}  // namespace

void rms_norm(const float* x, const float* weight, float eps, int64_t n, int64_t cols, float* y,
              cudaStream_t stream) {
  if (n <= 0 || cols <= 0) return;
  const int threads = cols >= 1024 ? 256 : (cols >= 256 ? 128 : 64);
  rms_norm_kernel<<<static_cast<unsigned>(n), threads, 0, stream>>>(x, weight, eps, cols, y);
  KOTARO_CUDA_CHECK_LAUNCH("rms_norm_kernel");
}

}  // namespace kotaro::cuda
