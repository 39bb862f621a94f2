// The backend seam: the small set of tensor operations the model code (src/model/) is
// written against. The CPU reference backend (src/cpu/) implements it in plain float32;
// the CUDA backend (src/cuda/) implements the same contract on the GPU and is tested
// against the CPU one op by op.
//
// CONTRACT (every backend must honour it exactly; the model code relies on nothing else)
//
// Memory and ownership
//  - All activations live in backend memory (host RAM for cpu, device memory for cuda) as
//    Tensors: dense, row-major matrices [rows, cols] of float32 or int32. Element (r, c) is
//    at data()[r*cols + c]. A Tensor is a cheap handle: copies share one BackendBuffer
//    (shared_ptr); the buffer is freed by the backend when the last handle goes away.
//    `view()` reinterprets the same elements with another [rows, cols] (same count);
//    `row_slice()` selects consecutive rows. Neither copies.
//  - Weights are matrices [n_out, n_in] kept in their file type (F32, F16, BF16, Q*_0/1,
//    Q*_K): row o holds the n_in inputs of output feature o, row_bytes apart, exactly as
//    ggml stores a tensor with ne = {n_in, n_out}. A backend may re-lay a weight out
//    internally; the model code only passes Weights to ops.
//  - upload_weight() copies the bytes, except that a backend whose memory is host memory
//    may keep pointing at `data` when `keep_alive` is given (it then holds keep_alive, the
//    mmap of the file, for as long as the Weight lives).
//  - Small 1-D parameters (norm weights, biases) are uploaded by the model as F32 Tensors
//    [1, n] with upload().
//  - Every buffer is charged to a MemoryCategory; usage() reports the live bytes per
//    category (MemoryReport in kotaro/engine.h).
//
// Ops
//  - Outputs are preallocated by the caller with the exact shape; shapes are checked
//    (a mismatch throws kotaro::Error Internal). An output may alias an input only where an
//    op says so. Ops are issued in order on one stream; download() returns only after all
//    earlier ops finished (synchronous from the caller's point of view).
//  - Numerics follow transformers' float32 eager implementation of Qwen2 / Qwen2.5-VL (the
//    fixtures' reference): results must agree with the CPU backend to float32 rounding
//    (relative ~1e-5 on logits); accumulation order is free.
//
// KV cache handle (create_kv_cache, kv_store, attention_kv, kv_truncate)
//  - A KvCache holds the keys and values of every layer of one sequence, in a layout only
//    its backend knows (cpu: dense float32 rows per layer; cuda: a pool of fixed-size blocks
//    found through a block table, float16 or float32). It is created by one backend and
//    passed back only to that backend (another backend's handle throws Internal).
//  - Capacity (tokens) = spec.max_tokens, or fewer when spec.budget_bytes holds fewer;
//    create_kv_cache throws OutOfMemory when not one token fits. kv_cache_bytes(spec) is
//    what creating it will charge to the kv_cache category (for the up-front check).
//  - Rows are logical token indices 0..rows()-1. kv_store writes rows [first_row,
//    first_row + n) of one layer (first_row <= rows(): no holes; rows() grows to the end of
//    what was written); every layer must be stored before attention_kv reads it.
//    attention_kv is causal grouped-query attention of q at positions n_past.. over rows
//    0..n_past+i of one layer (n_past + n <= rows()). kv_truncate(n) forgets rows n.. (the
//    paged cache returns whole blocks past n to its pool).
//  - spec.type F16 stores keys/values rounded to float16 (the only deviation from float32
//    numerics the seam allows, and only when asked for: ~2.4e-4 relative on the float32
//    fixtures' logits, so the engine asks for it only for non-float32 models); the CPU
//    backend stores float32 whatever the type.
//
// Sampling, image preprocessing
//  - sample(): the next token from one row of logits [1, n_vocab] in backend memory, with
//    the runtime Sampler's parameters and its seeded draws (runtime/sampler.h semantics;
//    every backend picks the same token for the same logits, seed and history). Only the
//    token id comes back to the host.
//  - preprocess_image(): RGB8 (host) → the vision tower's input [grid_h*grid_w, 3*2*P*P]
//    in backend memory, equal to preprocess_qwen_image() (image/qwen_image_processor.h).
//
// Memory planning
//  - weight_bytes / tensor_bytes / kv_cache_bytes / workspace_bytes say what uploads,
//    allocs, a KV cache and the backend's own scratch will charge, so that the model can sum
//    a load before it uploads anything; reserve(plan, what) compares the sum with what is
//    free in the budget (memory_budget()) and throws OutOfMemory "WHAT needs X MiB (weights
//    A, KV B, activations C), Y MiB free / budget Z MiB" when it does not fit. A budget of 0
//    means unlimited (the CPU backend without memory_budget_bytes): reserve() then passes.
//    "Free" is the budget less the live buffers (cuda: blocks its allocator caches count as
//    free, being given back on demand, and so does its one shared scratch block, which
//    every plan carries in workspace_bytes; and never more than the device has free).
//
// Threading: a Backend is used by one thread at a time (the engine serialises calls).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kotaro/engine.h"
#include "kotaro/error.h"
#include "kotaro/ggml_types.h"
#include "image/qwen_image_processor.h"
#include "runtime/sampler.h"

namespace kotaro {

enum class MemoryCategory { Weights = 0, KvCache = 1, Activations = 2, Workspace = 3 };
constexpr int kMemoryCategoryCount = 4;

enum class DType { F32, I32 };

// A block of backend memory. Created only by a Backend; its destructor (the backend's
// subclass) frees the memory and uncharges its category.
class BackendBuffer {
 public:
  virtual ~BackendBuffer() = default;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  MemoryCategory category() const { return category_; }

 protected:
  BackendBuffer(void* data, size_t bytes, MemoryCategory category)
      : data_(data), bytes_(bytes), category_(category) {}
  void* data_;
  size_t bytes_;
  MemoryCategory category_;
};

// A dense row-major [rows, cols] matrix in backend memory (see the contract above).
struct Tensor {
  std::shared_ptr<BackendBuffer> buffer;
  size_t offset = 0;  // bytes from buffer->data()
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;

  int64_t numel() const { return rows * cols; }
  size_t bytes() const { return static_cast<size_t>(numel()) * 4; }  // both dtypes are 4 bytes
  bool empty() const { return buffer == nullptr; }
  // Backend-memory pointers: dereference them only inside that backend.
  float* f32() const;
  int32_t* i32() const;
  Tensor view(int64_t new_rows, int64_t new_cols) const;
  Tensor row_slice(int64_t first_row, int64_t n_rows) const;
};

// A weight matrix [n_out, n_in] in its stored GGML type (see the contract above).
struct Weight {
  std::string name;  // the GGUF tensor name, for error messages
  GgmlType type = GgmlType::F32;
  int64_t n_in = 0, n_out = 0;
  size_t row_bytes = 0;  // bytes of one row of n_in elements
  std::shared_ptr<BackendBuffer> buffer;
  std::shared_ptr<const void> keep_alive;  // what `buffer` points into, if not owned
  bool empty() const { return buffer == nullptr; }
};

// Rotary position embedding, rotating the pairs (x[j], x[j + head_dim/2]) of every head,
// j in [0, head_dim/2), NeoX / transformers `rotate_half` style:
//   x0' = x0*cos(theta) - x1*sin(theta);  x1' = x1*cos(theta) + x0*sin(theta)
// with theta = float(pos[axis(j)][token]) * inv_freq(j) computed in float32 as transformers
// does: inv_freq(f) = 1.0f / powf(freq_base, float(2*f) / float(dim)).
//  - MRope (text; plain Qwen2 is MRope with sections {head_dim/2, 0, 0} and equal axes):
//      pos has 3 rows (temporal, height, width); dim = head_dim; f = j;
//      axis(j) = 0 if j < s0, 1 if j < s0+s1, else 2; s0+s1+s2 == head_dim/2.
//  - Vision (Qwen2.5-VL 2-D): pos has 2 rows (patch row y, patch column x);
//      dim = head_dim/2; q = head_dim/4; f = j % q; axis(j) = j < q ? 0 : 1.
enum class RopeKind { MRope, Vision };
struct RopeSpec {
  RopeKind kind = RopeKind::MRope;
  int n_heads = 0;
  int head_dim = 0;
  float freq_base = 10000.0f;
  int sections[3] = {0, 0, 0};  // MRope only
};

// Scaled dot-product attention; heads are contiguous head_dim-wide column blocks of a row.
// Grouped-query: query head h reads key/value head h / (n_head / n_kv_head).
// softmax(q.k * scale) in float32 with the row maximum subtracted.
struct AttentionSpec {
  int n_head = 0, n_kv_head = 0, head_dim = 0;
  float scale = 1.0f;
};

// What a KV cache must hold (see the contract above). type is F32 or F16 (not Auto).
struct KvCacheSpec {
  int n_layer = 0, n_kv_head = 0, head_dim = 0;
  int64_t max_tokens = 0;     // capacity wanted, in tokens
  uint64_t budget_bytes = 0;  // 0: no byte limit; else capacity = what these bytes hold
  KvCacheType type = KvCacheType::F32;
};

// A KV cache for one sequence; opaque outside its backend.
class KvCache {
 public:
  virtual ~KvCache() = default;
  const KvCacheSpec& spec() const { return spec_; }
  int64_t capacity() const { return capacity_; }  // tokens
  int64_t rows() const { return rows_; }          // rows 0..rows()-1 hold keys/values

  // For the backends: the contract's checks (throw Internal naming `op`) and the row count.
  void check_store(const char* op, int layer, const Tensor& k, const Tensor& v, int64_t first_row) const;
  void check_attend(const char* op, int layer, const Tensor& q, int64_t n_past, const Tensor& y,
                    const AttentionSpec& spec) const;
  void mark_stored(int64_t end_row) { rows_ = end_row > rows_ ? end_row : rows_; }
  void mark_truncated(int64_t n) { rows_ = n < rows_ ? n : rows_; }

 protected:
  KvCache(const KvCacheSpec& spec, int64_t capacity) : spec_(spec), capacity_(capacity) {}

 private:
  KvCacheSpec spec_;
  int64_t capacity_ = 0;
  int64_t rows_ = 0;
};

// The vision tower's input in backend memory and its grid (in patches; grid_t = 1).
struct PixelTensor {
  Tensor pixels;  // [grid_h*grid_w, 3*temporal*patch*patch]
  int grid_t = 1, grid_h = 0, grid_w = 0;
};

// The largest shapes the backend's own scratch must serve (workspace_bytes()).
struct WorkspaceShapes {
  int n_head = 0, n_kv_head = 0, head_dim = 0;  // text attention
  int64_t max_kv_tokens = 0, max_query_rows = 0;
  int64_t n_vocab = 0, max_history = 0;            // sampling
  int64_t image_input_pixels = 0, image_output_pixels = 0;  // preprocessing staging
};

// Bytes a load or a session will need, by category (reserve()).
struct MemoryPlan {
  uint64_t weights = 0, kv_cache = 0, activations = 0;
  uint64_t total() const { return weights + kv_cache + activations; }
};

// The budget and what is free in it now. budget == 0: unlimited.
struct MemoryBudget {
  uint64_t budget = 0, free = 0;
};

struct BackendUsage {
  uint64_t bytes[kMemoryCategoryCount] = {0, 0, 0, 0};
  uint64_t device_used = 0, device_total = 0;  // whole device; 0 for host backends
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu" | "cuda"

  // --- memory
  virtual Tensor alloc(DType dtype, int64_t rows, int64_t cols, MemoryCategory category) = 0;
  // data holds n_out rows of row_size(type, n_in) bytes.
  virtual Weight upload_weight(const std::string& name, GgmlType type, int64_t n_in,
                               int64_t n_out, const void* data,
                               std::shared_ptr<const void> keep_alive) = 0;
  virtual void upload(const void* host, const Tensor& dst) = 0;    // dst.bytes() bytes
  virtual void download(const Tensor& src, void* host) = 0;        // src.bytes() bytes
  virtual BackendUsage usage() const = 0;
  // Returns when every op issued so far has finished (for timing; download() implies it).
  virtual void synchronize() = 0;

  // --- memory planning (see the contract above)
  virtual MemoryBudget memory_budget() const = 0;
  virtual uint64_t weight_bytes(GgmlType type, int64_t n_in, int64_t n_out) const = 0;
  virtual uint64_t tensor_bytes(int64_t rows, int64_t cols) const = 0;
  virtual uint64_t kv_cache_bytes(const KvCacheSpec& spec) const = 0;
  virtual uint64_t workspace_bytes(const WorkspaceShapes& shapes) const = 0;
  // Throws OutOfMemory naming the plan's parts, what is free and the budget when the plan
  // does not fit in what is free now.
  void reserve(const MemoryPlan& plan, const std::string& what) const;

  // --- ops (shapes: [rows, cols]; n = rows of the activation)
  // y[n, n_out] = x[n, n_in] * W^T (+ bias[1, n_out]).
  virtual void matmul(const Tensor& x, const Weight& w, const Tensor* bias, const Tensor& y) = 0;
  // y = x / sqrt(mean(x^2) + eps) * weight, per row; weight [1, cols]. y may alias x.
  virtual void rmsnorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& y) = 0;
  // y = a + b (same shapes). y may alias a or b.
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  // The residual add and the next RMSNorm in one op: sum = a + b, then y = rmsnorm(sum).
  // sum may alias a or b; y aliases none of them. The results equal add() then rmsnorm()
  // bit for bit; the default runs exactly those two (a backend may fuse them: one launch
  // instead of two per use on the GPU).
  virtual void add_rmsnorm(const Tensor& a, const Tensor& b, const Tensor& sum, const Tensor& weight, float eps,
                           const Tensor& y) {
    add(a, b, sum);
    rmsnorm(sum, weight, eps, y);
  }
  // y = silu(gate) * up, silu(g) = g / (1 + exp(-g)). y may alias gate or up.
  virtual void swiglu(const Tensor& gate, const Tensor& up, const Tensor& y) = 0;
  // y = 0.5 x (1 + erf(x / sqrt(2))) (exact GELU, torch.nn.GELU()). y may alias x.
  virtual void gelu(const Tensor& x, const Tensor& y) = 0;
  // y[i] = dequantised row ids[i] of table (ids: I32 [1, n]; y: [n, table.n_in]).
  // Throws InvalidArgument for an id outside [0, table.n_out).
  virtual void embed_rows(const Weight& table, const Tensor& ids, const Tensor& y) = 0;
  // y[i] = src[idx[i]] (idx: I32 [1, m]; src [n, d]; y [m, d]). No aliasing.
  virtual void gather_rows(const Tensor& src, const Tensor& idx, const Tensor& y) = 0;
  // dst[dst_row + i] = src[i] for every row of src (same cols). No aliasing.
  virtual void copy_rows(const Tensor& src, const Tensor& dst, int64_t dst_row) = 0;
  // In place on x [n, n_heads*head_dim]; pos: I32 [axes, n] (see RopeSpec).
  virtual void rope(const Tensor& x, const Tensor& pos, const RopeSpec& spec) = 0;
  // Causal attention over dense key/value rows (the CPU KvCache's storage; the model uses
  // attention_kv). q [n, n_head*hd]; k_cache, v_cache [capacity,
  // n_kv_head*hd] hold rows 0..n_past+n-1 valid (this step's k/v already copied in).
  // Query i sits at sequence index n_past + i and attends to cache rows 0..n_past+i.
  // y [n, n_head*hd].
  virtual void attention_causal(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                int64_t n_past, const Tensor& y, const AttentionSpec& spec) = 0;
  // --- KV cache (see the contract above)
  virtual std::unique_ptr<KvCache> create_kv_cache(const KvCacheSpec& spec) = 0;
  // k, v [n, n_kv_head*head_dim] → rows [first_row, first_row + n) of `layer`.
  virtual void kv_store(KvCache& cache, int layer, const Tensor& k, const Tensor& v, int64_t first_row) = 0;
  // q, y [n, n_head*head_dim]; query i at position n_past + i attends rows 0..n_past+i.
  virtual void attention_kv(const Tensor& q, const KvCache& cache, int layer, int64_t n_past, const Tensor& y,
                            const AttentionSpec& spec) = 0;
  virtual void kv_truncate(KvCache& cache, int64_t n_tokens) = 0;

  // --- sampling and image preprocessing (see the contract above)
  virtual int32_t sample(const Tensor& logits_row, Sampler& sampler, const std::vector<int32_t>& history) = 0;
  virtual PixelTensor preprocess_image(const uint8_t* rgb, int width, int height,
                                       const ImageProcessorConfig& cfg) = 0;

  // Non-causal attention within segments: rows [bounds[s], bounds[s+1]) attend only to each
  // other. bounds (host) starts at 0, is non-decreasing and ends at n. q, k, v, y [n, H*hd],
  // n_kv_head == n_head.
  virtual void attention_segments(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const std::vector<int32_t>& bounds, const Tensor& y,
                                  const AttentionSpec& spec) = 0;
};

// CPU reference backend (src/cpu/). threads <= 0: hardware concurrency. memory_budget_bytes:
// host bytes reserve() allows (0 = unlimited).
std::unique_ptr<Backend> make_cpu_backend(int threads, uint64_t memory_budget_bytes = 0);

#if KOTARO_HAS_CUDA
// CUDA backend hooks, implemented in src/cuda/ when the CUDA backend is compiled in.
// cuda_device_count(): usable GPUs (0 without a driver; never throws).
// make_cuda_backend(): a backend on `device`, throws kotaro::Error (Cuda / OutOfMemory).
// cuda_fill_build_info(): fills BuildInfo's CUDA fields and gpus.
int cuda_device_count();
std::unique_ptr<Backend> make_cuda_backend(int device, uint64_t memory_budget_bytes);
void cuda_fill_build_info(BuildInfo& info);
#endif

// Shape checks shared by the backends (throw Internal with the op name).
void check_shape(const char* op, const Tensor& t, int64_t rows, int64_t cols, DType dtype);
// attention_segments' arguments, checked the same way by every backend.
void check_attention_segments(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<int32_t>& bounds,
                              const Tensor& y, const AttentionSpec& spec);

// "12.3 MiB", for memory messages.
std::string format_mib(uint64_t bytes);

}  // namespace kotaro
