// Rotary position embedding in place, NeoX / transformers rotate_half pairs (j, j + D/2).
// One thread per (token, head, pair), cos/sin by sincosf (full-range accurate). The angle follows transformers: theta = float(pos) * inv_freq,
// inv_freq computed on the host in float32 exactly as the CPU backend does.
#include "cuda/common.cuh"
#include "cuda/layer_ops.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

// One thread per (token, head, pair): the heads of a token run in parallel rather than in a
// loop, whose loads and stores serialise (a decode token's 28 heads took ~5.5 us). The
// angle and the arithmetic per element are unchanged.
__global__ void rope_kernel(float* x, const int32_t* __restrict__ pos, int64_t n, RopeTable table,
                            const float* __restrict__ bias) {
  const int half = table.head_dim / 2;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t per_token = static_cast<int64_t>(table.n_heads) * half;
  if (i >= n * per_token) return;
  const int64_t t = i / per_token;
  const int r = static_cast<int>(i % per_token);
  const int h = r / half, j = r % half;
  const float theta = static_cast<float>(pos[table.axis[j] * n + t]) * table.inv_freq[j];
  float sn, cs;
  sincosf(theta, &sn, &cs);
  float* row = x + t * static_cast<int64_t>(table.n_heads) * table.head_dim;
  const int c0 = h * table.head_dim + j, c1 = c0 + half;
  float x0 = row[c0], x1 = row[c1];
  if (bias) {
    x0 += bias[c0];
    x1 += bias[c1];
  }
  row[c0] = x0 * cs - x1 * sn;
  row[c1] = x1 * cs + x0 * sn;
}

}  // namespace

void rope(float* x, const int32_t* pos, int64_t n, const RopeTable& table, const float* bias,
          cudaStream_t stream) {
  if (table.head_dim <= 0 || table.head_dim % 2 || table.head_dim / 2 > kRopeMaxPairs || table.n_heads <= 0)
    fail(ErrorCode::Internal, "cuda rope: head_dim must be even and at most 128");
  if (n <= 0) return;
  const int64_t total = n * table.n_heads * (table.head_dim / 2);
  const int threads = 128;
  rope_kernel<<<static_cast<unsigned>(ceil_div<int64_t>(total, threads)), threads, 0, stream>>>(x, pos, n, table,
                                                                                               bias);
  KOTARO_CUDA_CHECK_LAUNCH("rope_kernel");
}

}  // namespace kotaro::cuda
