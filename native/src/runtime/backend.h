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

  // --- ops (shapes: [rows, cols]; n = rows of the activation)
  // y[n, n_out] = x[n, n_in] * W^T (+ bias[1, n_out]).
  virtual void matmul(const Tensor& x, const Weight& w, const Tensor* bias, const Tensor& y) = 0;
  // y = x / sqrt(mean(x^2) + eps) * weight, per row; weight [1, cols]. y may alias x.
  virtual void rmsnorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& y) = 0;
  // y = a + b (same shapes). y may alias a or b.
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
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
  // Causal attention over a KV cache. q [n, n_head*hd]; k_cache, v_cache [capacity,
  // n_kv_head*hd] hold rows 0..n_past+n-1 valid (this step's k/v already copied in).
  // Query i sits at sequence index n_past + i and attends to cache rows 0..n_past+i.
  // y [n, n_head*hd].
  virtual void attention_causal(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                int64_t n_past, const Tensor& y, const AttentionSpec& spec) = 0;
  // Non-causal attention within segments: rows [bounds[s], bounds[s+1]) attend only to each
  // other. bounds (host) starts at 0, is non-decreasing and ends at n. q, k, v, y [n, H*hd],
  // n_kv_head == n_head.
  virtual void attention_segments(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const std::vector<int32_t>& bounds, const Tensor& y,
                                  const AttentionSpec& spec) = 0;
};

// CPU reference backend (src/cpu/). threads <= 0: hardware concurrency.
std::unique_ptr<Backend> make_cpu_backend(int threads);

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

}  // namespace kotaro
