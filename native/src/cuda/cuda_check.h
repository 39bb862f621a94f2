// How the CUDA backend turns CUDA runtime errors into kotaro::Error.
//
// Policy (after ggml-cuda, but recoverable where ggml aborts, because the engine runs
// inside an Electron utility process that must report, not die):
//  - cudaErrorMemoryAllocation from an allocation → ErrorCode::OutOfMemory; the runtime
//    error is cleared, the context stays usable and the caller may retry smaller.
//  - every other error → ErrorCode::Cuda with "<op> failed at <file>:<line>: <name>: <text>".
//    Kernel faults (illegal address, ...) are sticky: the context is unusable afterwards
//    and the worker process must be restarted; the message says so.
//  - KOTARO_CUDA_SYNC=1 in the environment synchronises after every launch so that an
//    asynchronous fault is reported at the launch that caused it (debugging aid).
#pragma once
#include <cuda_runtime_api.h>

namespace kotaro::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* op, const char* file, int line);

inline void check(cudaError_t err, const char* op, const char* file, int line) {
  if (err != cudaSuccess) throw_cuda_error(err, op, file, line);
}

// After a kernel launch: launch-configuration errors now, and (KOTARO_CUDA_SYNC=1) faults.
void check_launch(const char* kernel, const char* file, int line);

// True when KOTARO_CUDA_SYNC is set to a non-zero value (read once).
bool sync_after_launch();

}  // namespace kotaro::cuda

#define KOTARO_CUDA_CHECK(call) ::kotaro::cuda::check((call), #call, __FILE__, __LINE__)
#define KOTARO_CUDA_CHECK_LAUNCH(kernel) ::kotaro::cuda::check_launch(kernel, __FILE__, __LINE__)
