// Row movement: embedding lookup (dequantising rows of the token table in registers) and
// gather by index (the vision tower's window order and its inverse).
#include "cuda/common.cuh"
#include "cuda/dequant.cuh"
#include "cuda/layer_ops.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

template <GgmlType T>
__global__ void embed_rows_kernel(const uint8_t* __restrict__ table, size_t row_bytes, int n_in,
                                  const int32_t* __restrict__ ids, float* __restrict__ y) {
  const uint8_t* row = table + static_cast<size_t>(ids[blockIdx.x]) * row_bytes;
  float* out = y + static_cast<int64_t>(blockIdx.x) * n_in;
  for (int k0 = threadIdx.x * 16; k0 < n_in; k0 += blockDim.x * 16) {
    float v[16];
    load16<T>(row, k0, n_in, v);
#pragma unroll
    for (int i = 0; i < 16; ++i)
      if (k0 + i < n_in) out[k0 + i] = v[i];
  }
}

__global__ void gather_rows_kernel(const float* __restrict__ src, const int32_t* __restrict__ idx, int64_t cols,
                                   float* __restrict__ y) {
  const float* s = src + static_cast<int64_t>(idx[blockIdx.x]) * cols;
  float* d = y + static_cast<int64_t>(blockIdx.x) * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

template <GgmlType T>
void launch_embed(const DeviceWeight& t, const int32_t* ids, int64_t n, float* y, cudaStream_t stream) {
  embed_rows_kernel<T><<<static_cast<unsigned>(n), 128, 0, stream>>>(static_cast<const uint8_t*>(t.data),
                                                                     t.row_bytes, static_cast<int>(t.n_in), ids, y);
  KOTARO_CUDA_CHECK_LAUNCH("embed_rows_kernel");
}

}  // namespace

void embed_rows(const DeviceWeight& table, const int32_t* ids, int64_t n, float* y, cudaStream_t stream) {
  if (n <= 0) return;
  if (n > INT32_MAX || table.n_in > INT32_MAX) fail(ErrorCode::Internal, "cuda embed_rows: too large");
  switch (table.type) {
    case GgmlType::F32: return launch_embed<GgmlType::F32>(table, ids, n, y, stream);
    case GgmlType::F16: return launch_embed<GgmlType::F16>(table, ids, n, y, stream);
    case GgmlType::BF16: return launch_embed<GgmlType::BF16>(table, ids, n, y, stream);
    case GgmlType::Q8_0: return launch_embed<GgmlType::Q8_0>(table, ids, n, y, stream);
    case GgmlType::Q4_K: return launch_embed<GgmlType::Q4_K>(table, ids, n, y, stream);
    case GgmlType::Q6_K: return launch_embed<GgmlType::Q6_K>(table, ids, n, y, stream);
    default: fail(ErrorCode::Internal, "cuda embed_rows: unsupported table type");
  }
}

void gather_rows(const float* src, const int32_t* idx, int64_t m, int64_t cols, float* y, cudaStream_t stream) {
  if (m <= 0 || cols <= 0) return;
  if (m > INT32_MAX) fail(ErrorCode::Internal, "cuda gather_rows: too many rows");
  gather_rows_kernel<<<static_cast<unsigned>(m), 128, 0, stream>>>(src, idx, cols, y);
  KOTARO_CUDA_CHECK_LAUNCH("gather_rows_kernel");
}

}  // namespace kotaro::cuda
