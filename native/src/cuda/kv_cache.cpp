#include "cuda/kv_cache.h"

#include <algorithm>
#include <string>

#include "cuda/cuda_check.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

uint64_t PagedKvCache::block_bytes(const KvCacheConfig& c) {
  const uint64_t elem = c.type == KvType::F16 ? 2 : 4;
  return 2ull * c.n_layer * c.block_tokens * c.n_kv_head * c.head_dim * elem;
}

uint64_t PagedKvCache::charged_bytes(const KvCacheConfig& c, int64_t n_blocks, int n_sequences) {
  const uint64_t pool = block_bytes(c) / (2 * c.n_layer) * static_cast<uint64_t>(n_blocks);
  return 2ull * c.n_layer * DeviceMemory::rounded(pool) +
         static_cast<uint64_t>(n_sequences) * DeviceMemory::rounded(static_cast<size_t>(n_blocks) * 4);
}

PagedKvCache::PagedKvCache(const KvCacheConfig& cfg, uint64_t budget_bytes, DeviceMemory& memory, cudaStream_t stream)
    : cfg_(cfg), memory_(memory), stream_(stream) {
  if (cfg.n_layer <= 0 || cfg.n_kv_head <= 0 || cfg.head_dim <= 0 || cfg.head_dim % 4 || cfg.block_tokens <= 0)
    fail(ErrorCode::Internal, "kv cache: bad configuration");
  n_blocks_ = static_cast<int64_t>(budget_bytes / block_bytes(cfg));
  if (n_blocks_ < 1)
    fail(ErrorCode::OutOfMemory, "kv cache: a budget of " + std::to_string(budget_bytes) +
                                     " bytes holds no block of " + std::to_string(block_bytes(cfg)) + " bytes");
  if (n_blocks_ > INT32_MAX / cfg.block_tokens) n_blocks_ = INT32_MAX / cfg.block_tokens;
  const size_t pool = block_bytes(cfg) / (2 * cfg.n_layer) * static_cast<size_t>(n_blocks_);
  try {
    for (int l = 0; l < cfg.n_layer; ++l) {
      k_pools_.push_back(memory_.allocate(pool, MemoryCategory::KvCache, "kv cache keys"));
      v_pools_.push_back(memory_.allocate(pool, MemoryCategory::KvCache, "kv cache values"));
    }
  } catch (...) {
    for (void* p : k_pools_) memory_.release(p);
    for (void* p : v_pools_) memory_.release(p);
    throw;
  }
  free_.reserve(static_cast<size_t>(n_blocks_));
  for (int64_t b = n_blocks_ - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

PagedKvCache::~PagedKvCache() {
  for (auto& s : seqs_) memory_.release(s.device_table);
  for (void* p : k_pools_) memory_.release(p);
  for (void* p : v_pools_) memory_.release(p);
}

int PagedKvCache::new_sequence() {
  for (size_t i = 0; i < seqs_.size(); ++i)
    if (!seqs_[i].live) {
      seqs_[i].live = true;
      return static_cast<int>(i);
    }
  Sequence s;
  s.live = true;
  s.device_table = memory_.allocate(static_cast<size_t>(n_blocks_) * 4, MemoryCategory::KvCache, "kv block table");
  seqs_.push_back(std::move(s));
  return static_cast<int>(seqs_.size()) - 1;
}

PagedKvCache::Sequence& PagedKvCache::sequence(int seq) {
  if (seq < 0 || static_cast<size_t>(seq) >= seqs_.size() || !seqs_[seq].live)
    fail(ErrorCode::Internal, "kv cache: no sequence " + std::to_string(seq));
  return seqs_[seq];
}
const PagedKvCache::Sequence& PagedKvCache::sequence(int seq) const {
  return const_cast<PagedKvCache*>(this)->sequence(seq);
}

void PagedKvCache::free_sequence(int seq) {
  truncate(seq, 0);
  sequence(seq).live = false;
}

void PagedKvCache::upload_table(Sequence& s) {
  if (s.blocks.empty()) return;
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(s.device_table, s.blocks.data(), s.blocks.size() * 4, cudaMemcpyHostToDevice,
                                    stream_));
}

void PagedKvCache::reserve(int seq, int64_t n_tokens) {
  Sequence& s = sequence(seq);
  const int64_t need = (n_tokens + cfg_.block_tokens - 1) / cfg_.block_tokens;
  const int64_t more = need - static_cast<int64_t>(s.blocks.size());
  if (more <= 0) return;
  if (more > static_cast<int64_t>(free_.size()))
    fail(ErrorCode::OutOfMemory, "kv cache full: " + std::to_string(n_tokens) + " tokens need " +
                                     std::to_string(need) + " blocks of " + std::to_string(cfg_.block_tokens) +
                                     ", " + std::to_string(free_.size()) + " of " + std::to_string(n_blocks_) +
                                     " blocks are free");
  for (int64_t i = 0; i < more; ++i) {
    s.blocks.push_back(free_.back());
    free_.pop_back();
  }
  upload_table(s);
}

void PagedKvCache::truncate(int seq, int64_t n_tokens) {
  Sequence& s = sequence(seq);
  const int64_t keep = (std::max<int64_t>(n_tokens, 0) + cfg_.block_tokens - 1) / cfg_.block_tokens;
  while (static_cast<int64_t>(s.blocks.size()) > keep) {
    free_.push_back(s.blocks.back());
    s.blocks.pop_back();
  }
}

int64_t PagedKvCache::reserved_tokens(int seq) const {
  return static_cast<int64_t>(sequence(seq).blocks.size()) * cfg_.block_tokens;
}

const std::vector<int32_t>& PagedKvCache::host_table(int seq) const { return sequence(seq).blocks; }

void PagedKvCache::store(int seq, int layer, const float* k, const float* v, int64_t src_stride, int n,
                         int64_t first_row) {
  const Sequence& s = sequence(seq);
  if (layer < 0 || layer >= cfg_.n_layer) fail(ErrorCode::Internal, "kv cache: bad layer");
  if (first_row < 0 || first_row + n > reserved_tokens(seq))
    fail(ErrorCode::Internal, "kv cache: store past the reserved rows");
  const int width = cfg_.n_kv_head * cfg_.head_dim;
  kv_store(k, v, src_stride, n, width, k_pools_[layer], v_pools_[layer], cfg_.type, width,
           static_cast<const int32_t*>(s.device_table), cfg_.block_tokens, first_row, stream_);
}

void PagedKvCache::bind(int seq, int layer, AttentionArgs& a) const {
  const Sequence& s = sequence(seq);
  if (layer < 0 || layer >= cfg_.n_layer) fail(ErrorCode::Internal, "kv cache: bad layer");
  a.k = k_pools_[layer];
  a.v = v_pools_[layer];
  a.kv_type = cfg_.type;
  a.kv_stride = int64_t(cfg_.n_kv_head) * cfg_.head_dim;
  a.block_table = static_cast<const int32_t*>(s.device_table);
  a.block_tokens = cfg_.block_tokens;
  a.n_kv_head = cfg_.n_kv_head;
  a.head_dim = cfg_.head_dim;
}

}  // namespace kotaro::cuda
