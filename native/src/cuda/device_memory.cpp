#include "cuda/device_memory.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "cuda/cuda_check.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// Restores the caller's current device on scope exit (the engine may share the thread
// with other CUDA users).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaGetDevice(&previous_);
    KOTARO_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

}  // namespace

const char* memory_category_name(MemoryCategory c) {
  switch (c) {
    case MemoryCategory::Weights: return "weights";
    case MemoryCategory::KvCache: return "kv_cache";
    case MemoryCategory::Activations: return "activations";
    case MemoryCategory::Workspace: return "workspace";
  }
  return "?";
}

size_t DeviceMemory::rounded(size_t bytes) {
  // 512-byte granules below 1 MiB, 64 KiB granules above: reuse finds near fits.
  const size_t g = bytes < (1u << 20) ? 512 : (64u << 10);
  return bytes == 0 ? g : (bytes + g - 1) / g * g;
}

DeviceMemory::DeviceMemory(int device, uint64_t budget_bytes) : device_(device), budget_(budget_bytes) {
  if (budget_ == 0) {
    DeviceGuard guard(device_);
    size_t free_b = 0, total_b = 0;
    KOTARO_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t reserve = std::min<uint64_t>(512ull << 20, free_b / 10);
    budget_ = free_b > reserve ? free_b - reserve : 0;
  }
}

DeviceMemory::~DeviceMemory() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void* DeviceMemory::device_malloc(size_t bytes, MemoryCategory category, const char* what) {
  DeviceGuard guard(device_);
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaSuccess) return p;
  cudaGetLastError();  // allocation failures are not sticky: clear and report
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  const std::string msg = std::string("cuda: cannot allocate ") + mib(bytes) + " for " + what + " (" +
                          memory_category_name(category) + "): " + cudaGetErrorString(err) + "; " +
                          mib(free_b) + " free on the device of " + mib(total_b);
  if (err == cudaErrorMemoryAllocation) fail(ErrorCode::OutOfMemory, msg);
  fail(ErrorCode::Cuda, msg);
}

void* DeviceMemory::allocate(size_t bytes, MemoryCategory category, const char* what) {
  const size_t size = rounded(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  if (category != MemoryCategory::Weights) {
    // Smallest cached block that fits, if it is not more than twice the request.
    auto it = cache_.lower_bound(size);
    if (it != cache_.end() && it->first <= 2 * size) {
      void* p = it->second;
      const size_t block = it->first;
      cache_.erase(it);
      cached_bytes_ -= block;
      live_[static_cast<int>(category)] += block;
      blocks_[p] = {block, category};
      return p;
    }
  }
  uint64_t in_use = cached_bytes_;
  for (uint64_t v : live_) in_use += v;
  if (in_use + size > budget_ && cached_bytes_ > 0) {
    release_cached_locked();
    in_use = 0;
    for (uint64_t v : live_) in_use += v;
  }
  if (in_use + size > budget_) {
    const uint64_t free_in_budget = budget_ > in_use ? budget_ - in_use : 0;
    fail(ErrorCode::OutOfMemory, std::string("cuda: ") + what + " (" + memory_category_name(category) +
                                     ") needs " + mib(size) + " but only " + mib(free_in_budget) +
                                     " of the " + mib(budget_) + " memory budget is free (" + mib(in_use) +
                                     " in use)");
  }
  void* p = device_malloc(size, category, what);
  live_[static_cast<int>(category)] += size;
  blocks_[p] = {size, category};
  return p;
}

void DeviceMemory::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(ptr);
  if (it == blocks_.end()) return;  // not ours: ignore rather than corrupt the accounts
  const size_t size = it->second.bytes;
  const MemoryCategory category = it->second.category;
  blocks_.erase(it);
  live_[static_cast<int>(category)] -= size;
  if (category == MemoryCategory::Weights) {
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(device_);
    cudaFree(ptr);
    cudaSetDevice(previous);
    return;
  }
  cache_.emplace(size, ptr);
  cached_bytes_ += size;
}

void DeviceMemory::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void DeviceMemory::release_cached_locked() {
  if (cache_.empty()) return;
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(device_);
  for (auto& kv : cache_) cudaFree(kv.second);
  cudaSetDevice(previous);
  cache_.clear();
  cached_bytes_ = 0;
}

uint64_t DeviceMemory::live(MemoryCategory c) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_[static_cast<int>(c)];
}

uint64_t DeviceMemory::charged(const void* ptr) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(const_cast<void*>(ptr));
  return it == blocks_.end() ? 0 : it->second.bytes;
}

uint64_t DeviceMemory::cached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_bytes_;
}

}  // namespace kotaro::cuda
