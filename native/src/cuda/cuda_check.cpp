#include "cuda/cuda_check.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

// "…/native/src/cuda/matmul.cu" → "src/cuda/matmul.cu": messages stay short and identical
// whichever checkout built the engine.
const char* short_path(const char* file) {
  const char* p = std::strstr(file, "native/");
  return p ? p + 7 : file;
}

bool is_sticky(cudaError_t err) {
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorHardwareStackError:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}

}  // namespace

void throw_cuda_error(cudaError_t err, const char* op, const char* file, int line) {
  // Clear a non-sticky error so the next call does not report it again.
  cudaGetLastError();
  std::string msg = std::string(op) + " failed at " + short_path(file) + ":" + std::to_string(line) +
                    ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  if (err == cudaErrorMemoryAllocation) fail(ErrorCode::OutOfMemory, msg);
  if (is_sticky(err)) msg += " (the CUDA context is lost; restart the engine process)";
  fail(ErrorCode::Cuda, msg);
}

bool sync_after_launch() {
  static const bool on = [] {
    const char* v = std::getenv("KOTARO_CUDA_SYNC");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && sync_after_launch()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) throw_cuda_error(err, kernel, file, line);
}

}  // namespace kotaro::cuda
