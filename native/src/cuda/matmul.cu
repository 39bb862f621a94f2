// The matmul op entry: picks matvec / simt / mma (see matmul.h for why each exists).
#include <cstdlib>
#include <cstring>
#include <string>

#include "cuda/matmul.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

bool precise_matmul() {
  static const bool on = [] {
    const char* v = std::getenv("KOTARO_CUDA_PRECISE_MATMUL");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

}  // namespace

bool matmul_type_supported(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q4_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

const char* matmul_kernel_name(MatmulKernel k) {
  switch (k) {
    case MatmulKernel::Auto: return "auto";
    case MatmulKernel::Matvec: return "matvec";
    case MatmulKernel::Simt: return "simt";
    case MatmulKernel::Mma: return "mma";
  }
  return "?";
}

MatmulKernel matmul_pick(const DeviceWeight& w, const float* x, int64_t n) {
  // 1. one token: the memory-bound matvec reads each weight byte once.
  if (n == 1 && matvec_can_run(w, x)) return MatmulKernel::Matvec;
  // 2. float32 weights, or precision asked for: float32 FMA.
  if (w.type == GgmlType::F32 || precise_matmul() || !mma_can_run(w)) return MatmulKernel::Simt;
  // 3. everything else: tensor cores.
  return MatmulKernel::Mma;
}

void matmul(const DeviceWeight& w, const float* x, int64_t n, const float* bias, float* y,
            cudaStream_t stream, MatmulKernel kernel) {
  if (!matmul_type_supported(w.type))
    fail(ErrorCode::Internal, "cuda matmul: weight type " + std::to_string(static_cast<int>(w.type)) +
                                  " was not converted at upload");
  if (n <= 0 || w.n_out <= 0) return;
  if (kernel == MatmulKernel::Auto) kernel = matmul_pick(w, x, n);
  switch (kernel) {
    case MatmulKernel::Matvec:
      if (n != 1) fail(ErrorCode::Internal, "cuda matmul: matvec needs a single row");
      return launch_matvec(w, x, bias, y, stream);
    case MatmulKernel::Simt: return launch_matmul_simt(w, x, n, bias, y, stream);
    case MatmulKernel::Mma: return launch_matmul_mma(w, x, n, bias, y, stream);
    case MatmulKernel::Auto: break;
  }
  fail(ErrorCode::Internal, "cuda matmul: no kernel");
}

}  // namespace kotaro::cuda
