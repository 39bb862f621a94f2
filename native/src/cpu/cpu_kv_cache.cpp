// CPU backend: the KV cache handle as dense float32 rows per layer ([capacity, n_kv_head *
// head_dim] keys and values), attended with attention_causal. Truncation only moves the
// row count: the memory is the capacity's from creation to destruction.
#include <memory>

#include "cpu/cpu_backend.h"

namespace kotaro {

namespace {

class CpuKvCache final : public KvCache {
 public:
  CpuKvCache(const KvCacheSpec& spec, int64_t capacity) : KvCache(spec, capacity) {}
  std::vector<Tensor> k, v;  // per layer
};

uint64_t bytes_per_token(const KvCacheSpec& s) {
  return 2ull * static_cast<uint64_t>(s.n_layer) * static_cast<uint64_t>(s.n_kv_head) *
         static_cast<uint64_t>(s.head_dim) * 4;
}

void check_spec(const KvCacheSpec& s) {
  if (s.n_layer <= 0 || s.n_kv_head <= 0 || s.head_dim <= 0 || s.max_tokens <= 0)
    fail(ErrorCode::Internal, "kv cache: bad configuration");
  if (s.type != KvCacheType::F32 && s.type != KvCacheType::F16)
    fail(ErrorCode::Internal, "kv cache: the element type must be resolved (F32 or F16)");
}

// Capacity in tokens: max_tokens, or what budget_bytes holds when that is fewer.
int64_t capacity_of(const KvCacheSpec& s) {
  int64_t cap = s.max_tokens;
  if (s.budget_bytes > 0) {
    const uint64_t fit = s.budget_bytes / bytes_per_token(s);
    if (fit < static_cast<uint64_t>(cap)) cap = static_cast<int64_t>(fit);
  }
  return cap;
}

CpuKvCache& own(KvCache& c) {
  auto* p = dynamic_cast<CpuKvCache*>(&c);
  if (!p) fail(ErrorCode::Internal, "kv cache: a handle from another backend was passed to the cpu backend");
  return *p;
}
const CpuKvCache& own(const KvCache& c) { return own(const_cast<KvCache&>(c)); }

}  // namespace

uint64_t CpuBackend::kv_cache_bytes(const KvCacheSpec& spec) const {
  check_spec(spec);
  return static_cast<uint64_t>(capacity_of(spec)) * bytes_per_token(spec);
}

std::unique_ptr<KvCache> CpuBackend::create_kv_cache(const KvCacheSpec& spec) {
  check_spec(spec);
  const int64_t cap = capacity_of(spec);
  if (cap < 1)
    fail(ErrorCode::OutOfMemory, "kv cache: a budget of " + format_mib(spec.budget_bytes) + " holds no token (" +
                                     std::to_string(bytes_per_token(spec)) + " bytes each)");
  auto c = std::make_unique<CpuKvCache>(spec, cap);
  const int64_t cols = int64_t(spec.n_kv_head) * spec.head_dim;
  for (int l = 0; l < spec.n_layer; ++l) {
    c->k.push_back(alloc(DType::F32, cap, cols, MemoryCategory::KvCache));
    c->v.push_back(alloc(DType::F32, cap, cols, MemoryCategory::KvCache));
  }
  return c;
}

void CpuBackend::kv_store(KvCache& cache, int layer, const Tensor& k, const Tensor& v, int64_t first_row) {
  CpuKvCache& c = own(cache);
  c.check_store("kv_store", layer, k, v, first_row);
  copy_rows(k, c.k[layer], first_row);
  copy_rows(v, c.v[layer], first_row);
  c.mark_stored(first_row + k.rows);
}

void CpuBackend::attention_kv(const Tensor& q, const KvCache& cache, int layer, int64_t n_past, const Tensor& y,
                              const AttentionSpec& spec) {
  const CpuKvCache& c = own(cache);
  c.check_attend("attention_kv", layer, q, n_past, y, spec);
  attention_causal(q, c.k[layer], c.v[layer], n_past, y, spec);
}

void CpuBackend::kv_truncate(KvCache& cache, int64_t n_tokens) {
  CpuKvCache& c = own(cache);
  if (n_tokens < 0) fail(ErrorCode::Internal, "kv_truncate: negative length");
  c.mark_truncated(n_tokens);
}

}  // namespace kotaro
