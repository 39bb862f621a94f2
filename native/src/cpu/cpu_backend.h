// The CPU reference backend: float32, host memory, plain loops parallelised over rows with
// a ThreadPool. Obviously-right code first; it is the reference the CUDA backend is
// tested against. Ops are split by family: cpu_backend.cpp (memory, element-wise),
// cpu_matmul.cpp (matmul, embedding), cpu_attention.cpp, cpu_rope.cpp.
#pragma once
#include <array>
#include <atomic>
#include <memory>

#include "cpu/thread_pool.h"
#include "runtime/backend.h"

namespace kotaro {

// Live bytes per category, shared with every buffer so a buffer may outlive the backend.
struct CpuMemoryCounters {
  std::array<std::atomic<uint64_t>, kMemoryCategoryCount> bytes{};
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(int threads, uint64_t memory_budget_bytes);
  std::string name() const override { return "cpu"; }

  Tensor alloc(DType dtype, int64_t rows, int64_t cols, MemoryCategory category) override;
  Weight upload_weight(const std::string& name, GgmlType type, int64_t n_in, int64_t n_out,
                       const void* data, std::shared_ptr<const void> keep_alive) override;
  void upload(const void* host, const Tensor& dst) override;
  void download(const Tensor& src, void* host) override;
  BackendUsage usage() const override;
  void synchronize() override {}

  MemoryBudget memory_budget() const override;
  uint64_t weight_bytes(GgmlType type, int64_t n_in, int64_t n_out) const override;
  uint64_t tensor_bytes(int64_t rows, int64_t cols) const override;
  uint64_t kv_cache_bytes(const KvCacheSpec& spec) const override;
  uint64_t workspace_bytes(const WorkspaceShapes&) const override { return 0; }

  void matmul(const Tensor& x, const Weight& w, const Tensor* bias, const Tensor& y) override;
  void rmsnorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& y) override;
  void add(const Tensor& a, const Tensor& b, const Tensor& y) override;
  void swiglu(const Tensor& gate, const Tensor& up, const Tensor& y) override;
  void gelu(const Tensor& x, const Tensor& y) override;
  void embed_rows(const Weight& table, const Tensor& ids, const Tensor& y) override;
  void gather_rows(const Tensor& src, const Tensor& idx, const Tensor& y) override;
  void copy_rows(const Tensor& src, const Tensor& dst, int64_t dst_row) override;
  void rope(const Tensor& x, const Tensor& pos, const RopeSpec& spec) override;
  void attention_causal(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                        int64_t n_past, const Tensor& y, const AttentionSpec& spec) override;
  void attention_segments(const Tensor& q, const Tensor& k, const Tensor& v,
                          const std::vector<int32_t>& bounds, const Tensor& y,
                          const AttentionSpec& spec) override;

  // KV cache: dense float32 rows per layer (cpu_kv_cache.cpp).
  std::unique_ptr<KvCache> create_kv_cache(const KvCacheSpec& spec) override;
  void kv_store(KvCache& cache, int layer, const Tensor& k, const Tensor& v, int64_t first_row) override;
  void attention_kv(const Tensor& q, const KvCache& cache, int layer, int64_t n_past, const Tensor& y,
                    const AttentionSpec& spec) override;
  void kv_truncate(KvCache& cache, int64_t n_tokens) override;

  // The runtime Sampler on the row, and the CPU image processor + a copy into a tensor.
  int32_t sample(const Tensor& logits_row, Sampler& sampler, const std::vector<int32_t>& history) override;
  PixelTensor preprocess_image(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg) override;

  ThreadPool& pool() { return pool_; }

 private:
  std::shared_ptr<CpuMemoryCounters> counters_;
  ThreadPool pool_;
  uint64_t budget_ = 0;
};

// Dot product of two float32 vectors with eight independent partial sums (vectorisable,
// and more accurate than one running sum).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace kotaro
