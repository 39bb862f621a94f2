#include "cuda/device_memory_info.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <mutex>

namespace kotaro::cuda {

namespace {

// The few NVML entry points we use, declared here (no nvml.h needed at build time).
using NvmlReturn = int;  // NVML_SUCCESS == 0
using NvmlDevice = void*;
struct NvmlMemory {
  unsigned long long total, free, used;
};

struct Nvml {
  bool ok = false;
  NvmlReturn (*device_by_pci)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*memory_info)(NvmlDevice, NvmlMemory*) = nullptr;
};

// Loaded once per process and kept (nvmlShutdown at exit is optional).
const Nvml& nvml() {
  static Nvml lib;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    auto init = reinterpret_cast<NvmlReturn (*)()>(dlsym(h, "nvmlInit_v2"));
    lib.device_by_pci = reinterpret_cast<NvmlReturn (*)(const char*, NvmlDevice*)>(
        dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2"));
    lib.memory_info = reinterpret_cast<NvmlReturn (*)(NvmlDevice, NvmlMemory*)>(dlsym(h, "nvmlDeviceGetMemoryInfo"));
    lib.ok = init && lib.device_by_pci && lib.memory_info && init() == 0;
  });
  return lib;
}

}  // namespace

DeviceMemoryInfo query_device_memory(int device) {
  DeviceMemoryInfo info;
  const Nvml& lib = nvml();
  if (lib.ok) {
    // CUDA and NVML may number devices differently (CUDA_VISIBLE_DEVICES, ordering):
    // the PCI bus id names the same board in both.
    char bus_id[32] = {0};
    NvmlDevice dev = nullptr;
    NvmlMemory mem{};
    if (cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, device) == cudaSuccess &&
        lib.device_by_pci(bus_id, &dev) == 0 && lib.memory_info(dev, &mem) == 0) {
      info.total = mem.total;
      info.used = mem.used;
      info.free = mem.free;
      info.from_nvml = true;
      return info;
    }
    cudaGetLastError();
  }
  int previous = 0;
  size_t free_b = 0, total_b = 0;
  if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device) == cudaSuccess &&
      cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
    info.total = total_b;
    info.free = free_b;
    info.used = total_b - free_b;
  } else {
    cudaGetLastError();
  }
  cudaSetDevice(previous);
  return info;
}

}  // namespace kotaro::cuda
