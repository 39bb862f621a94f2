// Whole-device memory figures for the memory report: NVML when the driver ships it (loaded
// at run time with dlopen, so the engine has no link dependency on libnvidia-ml), else
// cudaMemGetInfo. NVML sees every process's usage; cudaMemGetInfo needs a context.
#pragma once
#include <cstdint>

namespace kotaro::cuda {

struct DeviceMemoryInfo {
  uint64_t total = 0, used = 0, free = 0;
  bool from_nvml = false;
};

// Never throws; all zeros when neither source answers.
DeviceMemoryInfo query_device_memory(int device);

}  // namespace kotaro::cuda
