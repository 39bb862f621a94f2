// Matrix × vector for decoding: y[n_out] = W x (+ bias), one warp per 2 (Q6_K: 4) weight
// rows; every weight byte is read once (MatvecChunk in dequant.cuh), x from L1/L2. On the
// H100 it is issue-bound for the K-quants (dequantisation instructions per weight), not
// DRAM-bound: see docs/perf.md for the variants measured.
#include "cuda/common.cuh"
#include "cuda/dequant.cuh"
#include "cuda/matmul.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;

// Rows per warp: x loads are shared by a warp's rows. 4 measured fastest for Q6_K; for the
// others 2 (4 left the 3584-row matrices of a 7B model with too few warps per SM).
template <GgmlType T>
__host__ __device__ constexpr int rows_per_warp() {
  return T == GgmlType::Q6_K ? 4 : 2;
}

template <GgmlType T>
__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize)
    matvec_kernel(const uint8_t* __restrict__ w, size_t row_bytes, const float* __restrict__ x,
                  const float* __restrict__ bias, float* __restrict__ y, int n_out, int n_chunks) {
  using Chunk = MatvecChunk<T>;
  constexpr int kRowsPerWarp = rows_per_warp<T>();
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int row0 = (blockIdx.x * kWarpsPerBlock + warp) * kRowsPerWarp;
  if (row0 >= n_out) return;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const uint8_t* rows[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)  // a missing last row re-reads row0; never stored
    rows[r] = w + static_cast<size_t>(row0 + r < n_out ? row0 + r : row0) * row_bytes;
  float acc[kRowsPerWarp] = {};
#pragma unroll 2
  for (int c = lane; c < n_chunks; c += kWarpSize) {
    float xv[Chunk::kXs];
    Chunk::load_x(x4, c, xv);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += Chunk::dot(rows[r], c, xv);
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r)
      if (row0 + r < n_out) y[row0 + r] = acc[r] + (bias ? bias[row0 + r] : 0.0f);
  }
}

template <GgmlType T>
void launch_typed(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream) {
  const int n_chunks = static_cast<int>(w.n_in / MatvecChunk<T>::kElems);
  const int rows_per_block = kWarpsPerBlock * rows_per_warp<T>();
  const unsigned blocks = static_cast<unsigned>(ceil_div<int64_t>(w.n_out, rows_per_block));
  matvec_kernel<T><<<blocks, kWarpsPerBlock * kWarpSize, 0, stream>>>(
      static_cast<const uint8_t*>(w.data), w.row_bytes, x, bias, y, static_cast<int>(w.n_out), n_chunks);
  KOTARO_CUDA_CHECK_LAUNCH("matvec_kernel");
}

}  // namespace

bool matvec_can_run(const DeviceWeight& w, const float* x) {
  if ((reinterpret_cast<uintptr_t>(x) & 15) != 0 || (reinterpret_cast<uintptr_t>(w.data) & 15) != 0) return false;
  if (w.n_out > INT32_MAX || w.n_in > INT32_MAX) return false;
  switch (w.type) {
    case GgmlType::F32: return w.n_in % 4 == 0;
    case GgmlType::F16:
    case GgmlType::BF16: return w.n_in % 8 == 0;
    case GgmlType::Q8_0: return w.n_in % 32 == 0;
    case GgmlType::Q4_K:  // 144-byte blocks keep 16-byte alignment row to row
    case GgmlType::Q6_K: return w.n_in % 256 == 0;
    default: return false;
  }
}

void launch_matvec(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream) {
  if (!matvec_can_run(w, x)) fail(ErrorCode::Internal, "matvec: operands it cannot run");
  switch (w.type) {
    case GgmlType::F32: return launch_typed<GgmlType::F32>(w, x, bias, y, stream);
    case GgmlType::F16: return launch_typed<GgmlType::F16>(w, x, bias, y, stream);
    case GgmlType::BF16: return launch_typed<GgmlType::BF16>(w, x, bias, y, stream);
    case GgmlType::Q8_0: return launch_typed<GgmlType::Q8_0>(w, x, bias, y, stream);
    case GgmlType::Q4_K: return launch_typed<GgmlType::Q4_K>(w, x, bias, y, stream);
    case GgmlType::Q6_K: return launch_typed<GgmlType::Q6_K>(w, x, bias, y, stream);
    default: fail(ErrorCode::Internal, "matvec: unsupported weight type");
  }
}

}  // namespace kotaro::cuda
