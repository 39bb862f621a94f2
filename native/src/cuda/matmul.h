// Matrix products against weights in their stored ggml type: y[n, n_out] = x[n, n_in] W^T
// (+ bias). Three kernels, one entry that picks (ordered predicates, first match wins):
//   1. matvec  (n == 1, decode): the roofline is the weight bytes. Q8_0/Q4_K/Q6_K: x
//      quantised to int8 blocks of 32 in each block's shared memory, __dp4a integer dot
//      products (~1e-5 relative NMSE from rounding x, as llama.cpp's mmvq). F32/F16/BF16
//      (and quantised types whose x would not fit): weights dequantised in registers,
//      float32 FMA, exact to float32 rounding.
//   2. simt    (F32 weights, or KOTARO_CUDA_PRECISE_MATMUL=1): 64x64 tiles, float32 FMA.
//      Exact to float32 rounding: what holds float32 models to the CPU reference.
//   3. mma     (F16/BF16/Q8_0/Q4_K/Q6_K, n > 1, prefill and vision): tensor cores,
//      mma.sync m16n8k16 with FP16 inputs (BF16 for BF16 weights) and FP32 accumulation,
//      weights dequantised on the fly into shared memory. The inputs are rounded to 16
//      bits, so results differ from float32 by ~1e-3 relative (FP16 input range: |x|<65504).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kotaro/ggml_types.h"

namespace kotaro::cuda {

// A weight matrix on the device: n_out rows of row_bytes bytes, each n_in elements.
struct DeviceWeight {
  GgmlType type = GgmlType::F32;
  const void* data = nullptr;
  size_t row_bytes = 0;
  int64_t n_in = 0, n_out = 0;
};

enum class MatmulKernel { Auto, Matvec, Simt, Mma };

// Types the kernels read directly (others are converted at upload).
bool matmul_type_supported(GgmlType type);

// Which kernel `matmul` would run for these operands (for tests and benchmarks).
MatmulKernel matmul_pick(const DeviceWeight& w, const float* x, int64_t n);
const char* matmul_kernel_name(MatmulKernel k);

// y = x W^T + bias (bias may be null). x: [n, n_in] rows n_in floats apart, y: [n, n_out].
// `kernel` forces a path (Auto: matmul_pick); a forced path that cannot run the operands
// throws Internal.
void matmul(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
            cudaStream_t stream, MatmulKernel kernel = MatmulKernel::Auto);

// The launchers behind it (no checks beyond what each kernel needs).
void launch_matvec(const DeviceWeight& w, const float* x, const float* bias, float* y, cudaStream_t stream);
// The float32-activation matvec for any type (launch_matvec's fallback; tests, benchmarks).
void launch_matvec_float(const DeviceWeight& w, const float* x, const float* bias, float* y,
                         cudaStream_t stream);
// Whether launch_matvec quantises x to int8 for this weight (Q8_0/Q4_K/Q6_K whose x fits).
bool matvec_int8_activations(const DeviceWeight& w);
// The int8-activation matvec with rows per warp forced (1, 2, 4; Q8_0 runs 4 as 2) or
// chosen (0), for tests and benchmarks; needs matvec_int8_activations(w).
void launch_matvec_int8(const DeviceWeight& w, const float* x, const float* bias, float* y, int rows_per_warp,
                        cudaStream_t stream);
void launch_matmul_simt(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                        cudaStream_t stream);
void launch_matmul_mma(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
                       cudaStream_t stream);
bool matvec_can_run(const DeviceWeight& w, const float* x);
bool mma_can_run(const DeviceWeight& w);

}  // namespace kotaro::cuda
