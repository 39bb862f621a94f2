// Matrix × vector for decoding: y[n_out] = W x (+ bias). Two kernels:
//  - matvec_q8_kernel (Q8_0, Q4_K, Q6_K): each block quantises x to int8 blocks of 32 in
//    its shared memory (quantize_activations.cuh), then each warp computes R rows with
//    integer dot products on __dp4a (MatvecQ8Chunk in dequant.cuh), one step of weight
//    loads in flight ahead of use. The roofline is the weight bytes: on the H100 this runs
//    the 7B FFN matrices at ~52% of peak DRAM bandwidth and lm_head at ~76%, where the
//    float32 version was issue-bound at 29-35% (docs/perf.md "Decode matvec v5"; a
//    persistent-grid variant measured slower).
//  - matvec_kernel (F32, F16, BF16, and the quantised types when x does not fit the int8
//    path's shared memory): weights dequantised in registers, float32 FMA (MatvecChunk).
//    Float weights keep it so float32 models stay exact to float32 rounding.
#include <atomic>

#include "cuda/common.cuh"
#include "cuda/dequant.cuh"
#include "cuda/matmul.h"
#include "cuda/quantize_activations.cuh"
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

// --- int8-activation kernel (Q8_0, Q4_K, Q6_K) ------------------------------------------

constexpr int kQ8Warps = 8;
constexpr int kQ8MaxShared = 48 * 1024;  // the default dynamic shared-memory limit

// x must fit the block's shared memory as int8 + scales (n_in up to 39321: every Qwen2.5
// size up to 72B's 29568).
bool q8_fits(int64_t n_in) {
  return n_in <= INT32_MAX / 2 && xq_shared_bytes(static_cast<int>(n_in)) <= kQ8MaxShared;
}

template <GgmlType T, int R>
__global__ void __launch_bounds__(kQ8Warps * kWarpSize)
    matvec_q8_kernel(const uint8_t* __restrict__ w, size_t row_bytes, const float* __restrict__ x,
                     const float* __restrict__ bias, float* __restrict__ y, int n_out, int n_in) {
  using Chunk = MatvecQ8Chunk<T>;
  extern __shared__ __align__(16) uint8_t smem[];
  int8_t* xq = reinterpret_cast<int8_t*>(smem);
  float* xd = reinterpret_cast<float*>(smem + n_in);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int row0 = (blockIdx.x * kQ8Warps + warp) * R;
  const int n_chunks = n_in / 32;
  const bool live = row0 < n_out;  // a warp past the last row still helps quantise x
  const uint8_t* rows[R];
#pragma unroll
  for (int r = 0; r < R; ++r)  // a missing last row re-reads row0; never stored
    rows[r] = w + static_cast<size_t>(row0 + r < n_out ? row0 + r : (live ? row0 : 0)) * row_bytes;

  // The first weights are requested before x is quantised, so DRAM is busy meanwhile.
  typename Chunk::W next[R];
  if (live && lane < n_chunks) {
#pragma unroll
    for (int r = 0; r < R; ++r) next[r] = Chunk::load_w(rows[r], lane);
  }
  quantize_x_to_shared<T>(x, n_in, xq, xd);
  __syncthreads();
  if (!live) return;

  float acc[R] = {};
  for (int c = lane; c < n_chunks; c += kWarpSize) {
    typename Chunk::W cur[R];
#pragma unroll
    for (int r = 0; r < R; ++r) cur[r] = next[r];
    if (c + kWarpSize < n_chunks) {
#pragma unroll
      for (int r = 0; r < R; ++r) next[r] = Chunk::load_w(rows[r], c + kWarpSize);
    }
    const typename Chunk::X xv = Chunk::load_x(xq, xd, c);
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] += Chunk::dot(cur[r], xv, c);
  }
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = warp_sum(acc[r]);
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < R; ++r)
      if (row0 + r < n_out) y[row0 + r] = acc[r] + (bias ? bias[row0 + r] : 0.0f);
  }
}

int device_sm_count() {
  static std::atomic<int> cached[64] = {};
  int dev = 0;
  KOTARO_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= 64) dev = 0;
  int n = cached[dev].load(std::memory_order_relaxed);
  if (n == 0) {
    KOTARO_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    cached[dev].store(n, std::memory_order_relaxed);
  }
  return n;
}

// Rows per warp: more rows share each block's quantisation of x and each lane's x loads,
// fewer rows give more blocks. The largest R that still gives at least 2 blocks per SM
// (R = 4), else 1 block per SM (R = 2), else R = 1 (the 512-row k/v projections).
int q8_rows_per_warp(int64_t n_out) {
  const int64_t sms = device_sm_count();
  if (ceil_div<int64_t>(n_out, 4 * kQ8Warps) >= 2 * sms) return 4;
  if (ceil_div<int64_t>(n_out, 2 * kQ8Warps) >= sms) return 2;
  return 1;
}

template <GgmlType T, int R>
void launch_q8_rows(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(ceil_div<int64_t>(w.n_out, R * kQ8Warps));
  const int n_in = static_cast<int>(w.n_in);
  matvec_q8_kernel<T, R><<<blocks, kQ8Warps * kWarpSize, xq_shared_bytes(n_in), stream>>>(
      static_cast<const uint8_t*>(w.data), w.row_bytes, x, bias, y, static_cast<int>(w.n_out), n_in);
  KOTARO_CUDA_CHECK_LAUNCH("matvec_q8_kernel");
}

// rows_per_warp: 0 = q8_rows_per_warp's choice; 1, 2, 4 forced (benchmarks, tests).
template <GgmlType T>
void launch_q8(const DeviceWeight& w, const float* x, const float* bias, float* y, int rows_per_warp,
               cudaStream_t stream) {
  const int r = rows_per_warp > 0 ? rows_per_warp : q8_rows_per_warp(w.n_out);
  // Q8_0 at R = 4 would need ~200 registers (10 words per row, twice for the loads in
  // flight): one block per SM. It stays at 2.
  if constexpr (T != GgmlType::Q8_0) {
    if (r == 4) return launch_q8_rows<T, 4>(w, x, bias, y, stream);
  }
  if (r >= 2) return launch_q8_rows<T, 2>(w, x, bias, y, stream);
  launch_q8_rows<T, 1>(w, x, bias, y, stream);
}

}  // namespace

bool matvec_int8_activations(const DeviceWeight& w) {
  switch (w.type) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_K:
    case GgmlType::Q6_K: return q8_fits(w.n_in);
    default: return false;
  }
}

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

void launch_matvec_float(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream) {
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

void launch_matvec_int8(const DeviceWeight& w, const float* x, const float* bias, float* y, int rows_per_warp,
                        cudaStream_t stream) {
  if (!matvec_can_run(w, x) || !matvec_int8_activations(w))
    fail(ErrorCode::Internal, "matvec: operands the int8-activation kernel cannot run");
  if (rows_per_warp != 0 && rows_per_warp != 1 && rows_per_warp != 2 && rows_per_warp != 4)
    fail(ErrorCode::Internal, "matvec: rows per warp must be 1, 2 or 4");
  switch (w.type) {
    case GgmlType::Q8_0: return launch_q8<GgmlType::Q8_0>(w, x, bias, y, rows_per_warp, stream);
    case GgmlType::Q4_K: return launch_q8<GgmlType::Q4_K>(w, x, bias, y, rows_per_warp, stream);
    case GgmlType::Q6_K: return launch_q8<GgmlType::Q6_K>(w, x, bias, y, rows_per_warp, stream);
    default: fail(ErrorCode::Internal, "matvec: no int8-activation kernel for this type");
  }
}

void launch_matvec(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream) {
  if (!matvec_can_run(w, x)) fail(ErrorCode::Internal, "matvec: operands it cannot run");
  if (matvec_int8_activations(w)) return launch_matvec_int8(w, x, bias, y, 0, stream);
  launch_matvec_float(w, x, bias, y, stream);
}

}  // namespace kotaro::cuda
