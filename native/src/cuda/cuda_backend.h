// The CUDA implementation of the backend seam (runtime/backend.h): device memory through
// the accountant (device_memory.h), one stream, and each op mapped to its kernel family.
// Exposed beyond the seam for the op tests and benchmarks (stream, device, memory).
#pragma once
#include <cuda_runtime_api.h>

#include <memory>

#include "cuda/device_memory.h"
#include "cuda/image_preprocess.h"
#include "cuda/kv_cache.h"
#include "cuda/matmul.h"
#include "cuda/sampling.h"
#include "runtime/backend.h"

namespace kotaro::cuda {

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, uint64_t memory_budget_bytes);
  ~CudaBackend() override;
  std::string name() const override { return "cuda"; }

  Tensor alloc(DType dtype, int64_t rows, int64_t cols, MemoryCategory category) override;
  Weight upload_weight(const std::string& name, GgmlType type, int64_t n_in, int64_t n_out,
                       const void* data, std::shared_ptr<const void> keep_alive) override;
  void upload(const void* host, const Tensor& dst) override;
  void download(const Tensor& src, void* host) override;
  BackendUsage usage() const override;
  void synchronize() override;

  MemoryBudget memory_budget() const override;
  uint64_t weight_bytes(GgmlType type, int64_t n_in, int64_t n_out) const override;
  uint64_t tensor_bytes(int64_t rows, int64_t cols) const override;
  uint64_t kv_cache_bytes(const KvCacheSpec& spec) const override;
  uint64_t workspace_bytes(const WorkspaceShapes& shapes) const override;

  void matmul(const Tensor& x, const Weight& w, const Tensor* bias, const Tensor& y) override;
  void rmsnorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& y) override;
  void add(const Tensor& a, const Tensor& b, const Tensor& y) override;
  // One kernel (KOTARO_CUDA_FUSE=0: add then rmsnorm, for comparisons).
  void add_rmsnorm(const Tensor& a, const Tensor& b, const Tensor& sum, const Tensor& weight, float eps,
                   const Tensor& y) override;
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

  // The KV cache handle: one sequence in a paged pool (fixed-size blocks + block table),
  // float16 or float32, sized from the spec's tokens or byte budget.
  std::unique_ptr<KvCache> create_kv_cache(const KvCacheSpec& spec) override;
  void kv_store(KvCache& cache, int layer, const Tensor& k, const Tensor& v, int64_t first_row) override;
  void attention_kv(const Tensor& q, const KvCache& cache, int layer, int64_t n_past, const Tensor& y,
                    const AttentionSpec& spec) override;
  void kv_truncate(KvCache& cache, int64_t n_tokens) override;

  // The sampling kernel (only the id returns) and the preprocessing kernels (RGB8 uploaded once).
  int32_t sample(const Tensor& logits_row, Sampler& sampler, const std::vector<int32_t>& history) override;
  PixelTensor preprocess_image(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg) override;

  // Beyond the seam.
  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }
  int sm_count() const { return sm_count_; }
  DeviceMemory& memory() { return *memory_; }
  // Forces a matmul kernel (tests, benchmarks); Auto restores the normal choice.
  void set_matmul_kernel(MatmulKernel k) { forced_matmul_ = k; }
  static DeviceWeight device_weight(const Weight& w);
  // Scratch of at least `bytes`, valid until the next call (stream-ordered reuse).
  void* workspace(size_t bytes);

  // The paged cache itself, for the op tests and benchmarks (several sequences, any block size).
  std::unique_ptr<PagedKvCache> make_kv_cache(const KvCacheConfig& cfg, uint64_t budget_bytes);
  // Causal attention of q [n, n_head*hd] at positions n_past.. over layer `layer` of
  // sequence `seq` (rows 0..n_past+n-1 stored), y [n, n_head*hd].
  void attention_paged(const Tensor& q, const PagedKvCache& cache, int seq, int layer, int64_t n_past,
                       const Tensor& y, const AttentionSpec& spec);

 private:
  int device_ = 0;
  int sm_count_ = 0;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<DeviceMemory> memory_;
  std::shared_ptr<BackendBuffer> workspace_;
  MatmulKernel forced_matmul_ = MatmulKernel::Auto;
};

}  // namespace kotaro::cuda
