// CudaBackend: the seam's KV cache handle on the paged cache (kv_cache.h). Each handle owns
// a pool of fixed-size blocks (16 tokens) with one sequence in it; rows are reserved block by
// block as they are stored, and truncation returns whole blocks past the new end to the pool.
// The pool's size comes from the spec: the blocks max_tokens needs, or fewer when
// budget_bytes holds fewer.
#include <algorithm>
#include <memory>

#include "cuda/cuda_backend.h"

namespace kotaro::cuda {

namespace {

constexpr int kBlockTokens = 16;

KvCacheConfig config_of(const KvCacheSpec& s) {
  if (s.n_layer <= 0 || s.n_kv_head <= 0 || s.head_dim <= 0 || s.max_tokens <= 0)
    fail(ErrorCode::Internal, "kv cache: bad configuration");
  if (s.type != KvCacheType::F32 && s.type != KvCacheType::F16)
    fail(ErrorCode::Internal, "kv cache: the element type must be resolved (F32 or F16)");
  KvCacheConfig c;
  c.n_layer = s.n_layer;
  c.n_kv_head = s.n_kv_head;
  c.head_dim = s.head_dim;
  c.block_tokens = kBlockTokens;
  c.type = s.type == KvCacheType::F16 ? KvType::F16 : KvType::F32;
  return c;
}

int64_t blocks_of(const KvCacheSpec& s, const KvCacheConfig& c) {
  int64_t blocks = (s.max_tokens + c.block_tokens - 1) / c.block_tokens;
  if (s.budget_bytes > 0)
    blocks = std::min<int64_t>(blocks, static_cast<int64_t>(s.budget_bytes / PagedKvCache::block_bytes(c)));
  return blocks;
}

class CudaKvCache final : public KvCache {
 public:
  CudaKvCache(const KvCacheSpec& spec, int64_t capacity, std::unique_ptr<PagedKvCache> pool)
      : KvCache(spec, capacity), pool(std::move(pool)), seq(this->pool->new_sequence()) {}
  std::unique_ptr<PagedKvCache> pool;
  int seq;
};

CudaKvCache& own(KvCache& c) {
  auto* p = dynamic_cast<CudaKvCache*>(&c);
  if (!p) fail(ErrorCode::Internal, "kv cache: a handle from another backend was passed to the cuda backend");
  return *p;
}
const CudaKvCache& own(const KvCache& c) { return own(const_cast<KvCache&>(c)); }

}  // namespace

uint64_t CudaBackend::kv_cache_bytes(const KvCacheSpec& spec) const {
  const KvCacheConfig c = config_of(spec);
  return PagedKvCache::charged_bytes(c, blocks_of(spec, c), 1);
}

std::unique_ptr<KvCache> CudaBackend::create_kv_cache(const KvCacheSpec& spec) {
  const KvCacheConfig c = config_of(spec);
  const int64_t blocks = blocks_of(spec, c);
  if (blocks < 1)
    fail(ErrorCode::OutOfMemory, "kv cache: a budget of " + format_mib(spec.budget_bytes) + " holds no block of " +
                                     std::to_string(c.block_tokens) + " tokens (" +
                                     format_mib(PagedKvCache::block_bytes(c)) + ")");
  auto pool = make_kv_cache(c, static_cast<uint64_t>(blocks) * PagedKvCache::block_bytes(c));
  const int64_t capacity = std::min<int64_t>(spec.max_tokens, pool->capacity_tokens());
  return std::make_unique<CudaKvCache>(spec, capacity, std::move(pool));
}

void CudaBackend::kv_store(KvCache& cache, int layer, const Tensor& k, const Tensor& v, int64_t first_row) {
  CudaKvCache& c = own(cache);
  c.check_store("kv_store", layer, k, v, first_row);
  if (k.rows == 0) return;
  c.pool->reserve(c.seq, first_row + k.rows);  // takes blocks from the pool as rows grow
  c.pool->store(c.seq, layer, k.f32(), v.f32(), k.cols, static_cast<int>(k.rows), first_row);
  c.mark_stored(first_row + k.rows);
}

void CudaBackend::attention_kv(const Tensor& q, const KvCache& cache, int layer, int64_t n_past, const Tensor& y,
                               const AttentionSpec& spec) {
  const CudaKvCache& c = own(cache);
  c.check_attend("attention_kv", layer, q, n_past, y, spec);
  attention_paged(q, *c.pool, c.seq, layer, n_past, y, spec);
}

void CudaBackend::kv_truncate(KvCache& cache, int64_t n_tokens) {
  CudaKvCache& c = own(cache);
  if (n_tokens < 0) fail(ErrorCode::Internal, "kv_truncate: negative length");
  c.pool->truncate(c.seq, n_tokens);  // whole blocks past n_tokens go back to the pool
  c.mark_truncated(n_tokens);
}

}  // namespace kotaro::cuda
