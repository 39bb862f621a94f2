// Matrix × vector for decoding: y[n_out] = W x (+ bias). Memory-bound: every weight byte is
// read once (MatvecChunk in dequant.cuh lays out each lane's loads for that); each warp
// computes 2 rows (more would leave the 3584-row matrices of a 7B model with too few warps
// per SM), and x is shared through shared memory by the 8 warps of a block.
#include "cuda/common.cuh"
#include "cuda/dequant.cuh"
#include "cuda/matmul.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

constexpr int kRowsPerWarp = 2;
constexpr int kDirectWarps = 4;     // direct kernel: 8 rows per block
constexpr int kStagedWarps = 8;     // staged kernel: 16 rows per block share each x tile
constexpr int kTileElems = 2048;    // x elements staged per step (8 KiB)

// Direct: every warp reads x from global memory (L1/L2). Kept as the reference variant.
template <GgmlType T>
__global__ void __launch_bounds__(kDirectWarps * kWarpSize)
    matvec_direct_kernel(const uint8_t* __restrict__ w, size_t row_bytes, const float* __restrict__ x,
                         const float* __restrict__ bias, float* __restrict__ y, int n_out, int n_chunks) {
  using Chunk = MatvecChunk<T>;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int row0 = (blockIdx.x * kDirectWarps + warp) * kRowsPerWarp;
  if (row0 >= n_out) return;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const uint8_t* rows[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)  // a missing last row re-reads row0; never stored
    rows[r] = w + static_cast<size_t>(row0 + r < n_out ? row0 + r : row0) * row_bytes;
  float acc[kRowsPerWarp] = {};
#pragma unroll 4
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

// Staged: the block copies x through shared memory in double-buffered tiles of 2048
// elements, so x leaves L2 once per 16 rows instead of once per 2. Weights streaming through
// L1 evict x there, and for 4-bit weights x is 7x the weight bytes per row: re-reading it
// from L2 was what bounded the direct kernel (see docs/perf.md).
template <GgmlType T>
__global__ void __launch_bounds__(kStagedWarps * kWarpSize)
    matvec_staged_kernel(const uint8_t* __restrict__ w, size_t row_bytes, const float* __restrict__ x,
                         const float* __restrict__ bias, float* __restrict__ y, int n_out, int n_in) {
  using Chunk = MatvecChunk<T>;
  constexpr int kTileChunks = kTileElems / Chunk::kElems;
  __shared__ float4 xs[2][kTileElems / 4];
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int row0 = (blockIdx.x * kStagedWarps + warp) * kRowsPerWarp;
  const bool active = row0 < n_out;  // idle warps still load x and meet the barriers
  const int n_chunks = n_in / Chunk::kElems;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const uint8_t* rows[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int rr = row0 + r < n_out ? row0 + r : (active ? row0 : 0);
    rows[r] = w + static_cast<size_t>(rr) * row_bytes;
  }
  auto load_tile = [&](int t, int buf) {
    const int e0 = t * kTileElems, n4 = min(kTileElems, n_in - e0) / 4;
    for (int i = threadIdx.x; i < n4; i += blockDim.x) xs[buf][i] = __ldg(x4 + e0 / 4 + i);
  };
  const int n_tiles = (n_in + kTileElems - 1) / kTileElems;
  float acc[kRowsPerWarp] = {};
  load_tile(0, 0);
  __syncthreads();
  for (int t = 0; t < n_tiles; ++t) {
    const int buf = t & 1;
    // The other buffer was last read before the barrier that ended the previous step.
    if (t + 1 < n_tiles) load_tile(t + 1, buf ^ 1);
    if (active) {
      const int c0 = t * kTileChunks, c1 = min(n_chunks, c0 + kTileChunks);
#pragma unroll 4
      for (int c = c0 + lane; c < c1; c += kWarpSize) {
        float xv[Chunk::kXs];
        Chunk::load_x(xs[buf], c - c0, xv);  // tiles start at whole blocks: local chunk index
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += Chunk::dot(rows[r], c, xv);
      }
    }
    __syncthreads();
  }
  if (!active) return;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r)
      if (row0 + r < n_out) y[row0 + r] = acc[r] + (bias ? bias[row0 + r] : 0.0f);
  }
}

template <GgmlType T>
void launch_typed(const DeviceWeight& w, const float* x, const float* bias, float* y, bool staged,
                  cudaStream_t stream) {
  const auto* wp = static_cast<const uint8_t*>(w.data);
  const int n_out = static_cast<int>(w.n_out), n_in = static_cast<int>(w.n_in);
  if (staged) {
    const int rows_per_block = kStagedWarps * kRowsPerWarp;
    matvec_staged_kernel<T><<<static_cast<unsigned>(ceil_div(n_out, rows_per_block)), kStagedWarps * kWarpSize, 0,
                              stream>>>(wp, w.row_bytes, x, bias, y, n_out, n_in);
    KOTARO_CUDA_CHECK_LAUNCH("matvec_staged_kernel");
  } else {
    const int rows_per_block = kDirectWarps * kRowsPerWarp;
    matvec_direct_kernel<T><<<static_cast<unsigned>(ceil_div(n_out, rows_per_block)), kDirectWarps * kWarpSize, 0,
                              stream>>>(wp, w.row_bytes, x, bias, y, n_out, n_in / MatvecChunk<T>::kElems);
    KOTARO_CUDA_CHECK_LAUNCH("matvec_direct_kernel");
  }
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

void launch_matvec(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream,
                   bool staged) {
  if (!matvec_can_run(w, x)) fail(ErrorCode::Internal, "matvec: operands it cannot run");
  switch (w.type) {
    case GgmlType::F32: return launch_typed<GgmlType::F32>(w, x, bias, y, staged, stream);
    case GgmlType::F16: return launch_typed<GgmlType::F16>(w, x, bias, y, staged, stream);
    case GgmlType::BF16: return launch_typed<GgmlType::BF16>(w, x, bias, y, staged, stream);
    case GgmlType::Q8_0: return launch_typed<GgmlType::Q8_0>(w, x, bias, y, staged, stream);
    case GgmlType::Q4_K: return launch_typed<GgmlType::Q4_K>(w, x, bias, y, staged, stream);
    case GgmlType::Q6_K: return launch_typed<GgmlType::Q6_K>(w, x, bias, y, staged, stream);
    default: fail(ErrorCode::Internal, "matvec: unsupported weight type");
  }
}

}  // namespace kotaro::cuda
