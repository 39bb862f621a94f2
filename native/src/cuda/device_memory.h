// The CUDA backend's memory accountant: every device allocation goes through it and is
// charged to a category (weights, kv_cache, activations, workspace), against a budget.
//  - A request that would pass the budget first releases cached blocks, then is refused
//    with ErrorCode::OutOfMemory naming the bytes needed, in use and free.
//  - cudaMalloc failing (another process took the memory) is OutOfMemory too, and
//    recoverable: the error is cleared and nothing is leaked.
//  - Non-weight blocks are cached on release and reused by later requests of a similar
//    size, because cudaFree synchronises the device and the model allocates activations
//    per step. Cached bytes count as workspace in the report and against the budget.
// Thread safety: guarded by a mutex (buffers may be released from any thread).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <mutex>

#include "runtime/backend.h"

namespace kotaro::cuda {

class DeviceMemory {
 public:
  // budget_bytes == 0: what is free on the device now, less a reserve for the CUDA context,
  // the display and other processes (the smaller of 512 MiB and a tenth of it).
  DeviceMemory(int device, uint64_t budget_bytes);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  void* allocate(size_t bytes, MemoryCategory category, const char* what);
  void release(void* ptr);  // a pointer allocate() returned
  void release_cached();  // gives cached blocks back to the driver

  uint64_t live(MemoryCategory c) const;
  // Bytes charged for a live block allocate() returned (0 for anything else): a reused cached
  // block may be larger than the request that got it.
  uint64_t charged(const void* ptr) const;
  uint64_t cached() const;
  uint64_t budget() const { return budget_; }
  int device() const { return device_; }

  // Bytes the accountant hands out for a request (its rounding), for tests.
  static size_t rounded(size_t bytes);

 private:
  void* device_malloc(size_t bytes, MemoryCategory category, const char* what);
  void release_cached_locked();

  int device_;
  uint64_t budget_;
  mutable std::mutex mutex_;
  std::array<uint64_t, kMemoryCategoryCount> live_{};
  uint64_t cached_bytes_ = 0;
  std::multimap<size_t, void*> cache_;  // rounded size → block
  struct Block {
    size_t bytes;
    MemoryCategory category;
  };
  std::unordered_map<void*, Block> blocks_;  // live blocks
};

const char* memory_category_name(MemoryCategory c);

}  // namespace kotaro::cuda
