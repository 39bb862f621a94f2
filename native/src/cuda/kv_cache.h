// Paged KV cache: per layer a pool of fixed-size blocks (block_tokens rows of
// n_kv_head*head_dim keys or values, float16 or float32), shared by every sequence through
// per-sequence block tables, so sessions branch and rewind by moving block ids, not data.
// The pool is sized from a byte budget and charged to the kv_cache category; a sequence
// that would need more blocks than are free gets OutOfMemory naming the tokens it asked for.
//
// Physical row of logical token j of a sequence: table[j / block_tokens] * block_tokens +
// j % block_tokens — the layout cuda::attention() and cuda::kv_store() read.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "cuda/attention.h"
#include "cuda/device_memory.h"

namespace kotaro::cuda {

struct KvCacheConfig {
  int n_layer = 0, n_kv_head = 0, head_dim = 0;
  int block_tokens = 16;
  KvType type = KvType::F16;
};

class PagedKvCache {
 public:
  // Bytes one block costs over all layers, keys and values.
  static uint64_t block_bytes(const KvCacheConfig& cfg);
  // What a pool of n_blocks with n_sequences block tables charges to the accountant (its
  // rounding included): the up-front memory check's KV term.
  static uint64_t charged_bytes(const KvCacheConfig& cfg, int64_t n_blocks, int n_sequences);
  // As many blocks as budget_bytes holds (at least one, else OutOfMemory).
  PagedKvCache(const KvCacheConfig& cfg, uint64_t budget_bytes, DeviceMemory& memory, cudaStream_t stream);
  ~PagedKvCache();
  PagedKvCache(const PagedKvCache&) = delete;
  PagedKvCache& operator=(const PagedKvCache&) = delete;

  const KvCacheConfig& config() const { return cfg_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t capacity_tokens() const { return n_blocks_ * cfg_.block_tokens; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }

  int new_sequence();
  void free_sequence(int seq);
  // Makes rows [0, n_tokens) of `seq` addressable, taking blocks from the pool.
  void reserve(int seq, int64_t n_tokens);
  // Forgets rows from n_tokens on and returns whole blocks past them to the pool.
  void truncate(int seq, int64_t n_tokens);
  int64_t reserved_tokens(int seq) const;

  // Writes n rows of float32 keys/values (n_kv_head*head_dim each, src_stride floats apart)
  // at logical rows [first_row, first_row + n) of `seq` (reserved beforehand).
  void store(int seq, int layer, const float* k, const float* v, int64_t src_stride, int n, int64_t first_row);
  // Attention arguments reading layer `layer` of `seq` (q/out/head counts left to the caller).
  void bind(int seq, int layer, AttentionArgs& a) const;

  const std::vector<int32_t>& host_table(int seq) const;

 private:
  struct Sequence {
    bool live = false;
    std::vector<int32_t> blocks;
    void* device_table = nullptr;  // n_blocks_ int32
  };
  Sequence& sequence(int seq);
  const Sequence& sequence(int seq) const;
  void upload_table(Sequence& s);

  KvCacheConfig cfg_;
  DeviceMemory& memory_;
  cudaStream_t stream_;
  int64_t n_blocks_ = 0;
  std::vector<void*> k_pools_, v_pools_;
  std::vector<int32_t> free_;  // free block ids (a stack)
  std::vector<Sequence> seqs_;
};

}  // namespace kotaro::cuda
