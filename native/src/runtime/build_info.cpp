// build_info() and backend_name(): what was compiled in and which GPUs are usable.
#include "kotaro/engine.h"
#include "runtime/backend.h"

#ifndef KOTARO_CUDA_ARCHS
#define KOTARO_CUDA_ARCHS ""
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
  cuda_fill_build_info(info);  // runtime/driver versions and GPUs (src/cuda/)
#endif
  return info;
}

}  // namespace kotaro
