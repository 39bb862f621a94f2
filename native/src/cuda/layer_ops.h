// Row-wise and element-wise ops of the forward pass: RMSNorm, residual add, SwiGLU, exact
// GELU, RoPE (text M-RoPE and 2-D vision RoPE, with an optional fused bias add), and row
// movement (embedding lookup from quantised rows, gather by index).
// All activations are float32, row-major; n = rows.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/matmul.h"

namespace kotaro::cuda {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight; y may alias x.
void rms_norm(const float* x, const float* weight, float eps, int64_t n, int64_t cols, float* y,
              cudaStream_t stream);

// sum = a + b, y = rms_norm(sum) per row, in one kernel with rms_norm's arithmetic (same
// thread layout and reduction order): bit-identical to add() then rms_norm(). sum may alias
// a or b; y must not alias any input.
void add_rms_norm(const float* a, const float* b, float* sum, const float* weight, float eps, int64_t n,
                  int64_t cols, float* y, cudaStream_t stream);

// y = a + b over `count` elements; y may alias a or b.
void add(const float* a, const float* b, float* y, int64_t count, cudaStream_t stream);

// y = silu(gate) * up; y may alias gate or up.
void swiglu(const float* gate, const float* up, float* y, int64_t count, cudaStream_t stream);

// y = 0.5 x (1 + erf(x / sqrt(2))); y may alias x.
void gelu_erf(const float* x, float* y, int64_t count, cudaStream_t stream);

// Rotary embedding in place on x [n, n_heads*head_dim] (see RopeSpec in runtime/backend.h:
// pairs (j, j + head_dim/2), theta = float(pos[axis[j]][t]) * inv_freq[j]).
// `bias` (may be null) is added to x first: the q/k projection bias fused into the rotation.
constexpr int kRopeMaxPairs = 64;  // head_dim <= 128
struct RopeTable {
  int n_heads = 0, head_dim = 0, n_axes = 1;
  float inv_freq[kRopeMaxPairs];
  int8_t axis[kRopeMaxPairs];
};
void rope(float* x, const int32_t* pos, int64_t n, const RopeTable& table, const float* bias,
          cudaStream_t stream);

// y[i] = dequantised row ids[i] of `table` (ids already validated); y [n, table.n_in].
void embed_rows(const DeviceWeight& table, const int32_t* ids, int64_t n, float* y, cudaStream_t stream);

// y[i] = src[idx[i]] (idx already validated); rows of `cols` floats.
void gather_rows(const float* src, const int32_t* idx, int64_t m, int64_t cols, float* y,
                 cudaStream_t stream);

}  // namespace kotaro::cuda
