// build_info(): the engine's version, how it was compiled and which GPUs it can use.
#include "kotaro/engine.h"

#if KOTARO_HAS_CUDA
#include "cuda/device_query.h"
#endif

namespace kotaro {

const char* backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::Auto: return "auto";
    case BackendKind::Cpu: return "cpu";
    case BackendKind::Cuda: return "cuda";
  }
  return "auto";
}

BuildInfo build_info() {
  BuildInfo info;
  info.version = "0.1.0";
#if KOTARO_HAS_CUDA
  info.cuda_compiled = true;
  info.cuda_archs = KOTARO_CUDA_ARCHS;
  cuda::query_devices(info);
#endif
  return info;
}

}  // namespace kotaro
