// CudaBackend: the seam's ops on the GPU. Shapes are checked exactly as the CPU backend
// checks them (check_shape), then each op calls its kernel family's entry point.
#include "cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cuda/attention.h"
#include "cuda/cuda_check.h"
#include "cuda/device_memory_info.h"
#include "cuda/device_query.h"
#include "cuda/layer_ops.h"
#include "kotaro/quant.h"

namespace kotaro {

namespace cuda {

namespace {

// Device memory charged to a category; returned to the accountant when the last Tensor or
// Weight handle goes away (the accountant outlives the backend if handles do).
class CudaBuffer final : public BackendBuffer {
 public:
  CudaBuffer(void* data, size_t bytes, MemoryCategory category, std::shared_ptr<DeviceMemory> memory)
      : BackendBuffer(data, bytes, category), memory_(std::move(memory)) {}
  ~CudaBuffer() override { memory_->release(data_); }

 private:
  std::shared_ptr<DeviceMemory> memory_;
};

void* tensor_ptr(const Tensor& t) { return static_cast<char*>(t.buffer->data()) + t.offset; }

std::shared_ptr<BackendBuffer> make_buffer(const std::shared_ptr<DeviceMemory>& memory, size_t bytes,
                                           MemoryCategory category, const char* what) {
  void* p = memory->allocate(bytes, category, what);
  return std::make_shared<CudaBuffer>(p, bytes, category, memory);
}

// Per-op GPU time for profiling, off unless KOTARO_CUDA_OP_TIMES=1: each op records a CUDA
// event before and after its launches on the stream; the pairs are resolved at the next host
// sync (download, sample, synchronize, the backend's end) and summed per label (op + shape),
// and the table goes to stderr when the backend is destroyed. The interval between an op's
// events is its stream time, so launch gaps (the host behind the GPU) land in it too.
class OpTimes {
 public:
  static OpTimes* get() {
    static OpTimes* t = [] {
      const char* env = std::getenv("KOTARO_CUDA_OP_TIMES");
      return env && std::string(env) == "1" ? new OpTimes : nullptr;
    }();
    return t;
  }
  cudaEvent_t record(cudaStream_t s) {
    cudaEvent_t e;
    if (free_.empty()) {
      KOTARO_CUDA_CHECK(cudaEventCreate(&e));
    } else {
      e = free_.back();
      free_.pop_back();
    }
    KOTARO_CUDA_CHECK(cudaEventRecord(e, s));
    return e;
  }
  void done(std::string label, cudaEvent_t b, cudaEvent_t e) { pending_.push_back({std::move(label), b, e}); }
  void resolve() {
    if (pending_.empty()) return;
    KOTARO_CUDA_CHECK(cudaEventSynchronize(pending_.back().e));
    for (Pending& p : pending_) {
      float ms = 0;
      KOTARO_CUDA_CHECK(cudaEventElapsedTime(&ms, p.b, p.e));
      Sum& s = sums_[p.label];
      s.count += 1;
      s.ms += ms;
      free_.push_back(p.b);
      free_.push_back(p.e);
    }
    pending_.clear();
  }
  void print() {
    std::vector<std::pair<std::string, Sum>> v(sums_.begin(), sums_.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    std::fprintf(stderr, "op-times: %-58s %8s %10s %9s\n", "op", "count", "total ms", "mean us");
    for (const auto& [label, s] : v)
      std::fprintf(stderr, "op-times: %-58s %8lld %10.3f %9.2f\n", label.c_str(), s.count, s.ms, 1e3 * s.ms / s.count);
    sums_.clear();
  }

 private:
  struct Pending {
    std::string label;
    cudaEvent_t b, e;
  };
  struct Sum {
    long long count = 0;
    double ms = 0;
  };
  std::vector<Pending> pending_;
  std::vector<cudaEvent_t> free_;
  std::map<std::string, Sum> sums_;
};

// One op's interval; the label is formatted only when timing is on.
class OpScope {
 public:
  template <typename Label>
  OpScope(cudaStream_t s, Label&& label) : t_(OpTimes::get()), s_(s) {
    if (!t_) return;
    label_ = label();
    b_ = t_->record(s_);
  }
  ~OpScope() {
    if (!t_) return;
    try {  // a failing CUDA call must not throw out of a destructor (maybe mid-unwind)
      t_->done(std::move(label_), b_, t_->record(s_));
    } catch (const Error&) {
    }
  }

 private:
  OpTimes* t_;
  cudaStream_t s_;
  cudaEvent_t b_ = nullptr;
  std::string label_;
};

std::string shape_label(const char* op, int64_t rows, int64_t cols) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s [%lld x %lld]", op, static_cast<long long>(rows), static_cast<long long>(cols));
  return buf;
}

}  // namespace

CudaBackend::CudaBackend(int device, uint64_t memory_budget_bytes) : device_(device) {
  KOTARO_CUDA_CHECK(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  KOTARO_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
  if (prop.major < 8)
    fail(ErrorCode::Cuda, std::string("cuda: ") + prop.name + " has compute capability " +
                              std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                              "; the CUDA backend needs 8.0 or newer (tensor-core mma.sync)");
  sm_count_ = prop.multiProcessorCount;
  KOTARO_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  memory_ = std::make_shared<DeviceMemory>(device_, memory_budget_bytes);
}

CudaBackend::~CudaBackend() {
  if (OpTimes* t = OpTimes::get()) {
    try {
      t->resolve();
    } catch (const Error&) {
    }
    t->print();
  }
  if (stream_) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

void CudaBackend::synchronize() {
  KOTARO_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (OpTimes* t = OpTimes::get()) t->resolve();
}

// --- memory planning --------------------------------------------------------------------

MemoryBudget CudaBackend::memory_budget() const {
  MemoryBudget b;
  b.budget = memory_->budget();
  uint64_t live = 0;
  for (int i = 0; i < kMemoryCategoryCount; ++i) live += memory_->live(static_cast<MemoryCategory>(i));
  // The shared scratch block is not "used": every plan carries it in its workspace term
  // (workspace_bytes), and it is one block however many sessions there are.
  if (workspace_) live -= std::min<uint64_t>(live, memory_->charged(workspace_->data()));
  uint64_t free_in_budget = b.budget > live ? b.budget - live : 0;
  // A budget larger than the device has free (another process took memory) is capped by
  // the device; the accountant's cached blocks are ours to give back.
  size_t dev_free = 0, dev_total = 0;
  int previous = 0;
  cudaGetDevice(&previous);
  if (cudaSetDevice(device_) == cudaSuccess && cudaMemGetInfo(&dev_free, &dev_total) == cudaSuccess)
    free_in_budget = std::min<uint64_t>(free_in_budget, dev_free + memory_->cached());
  else
    cudaGetLastError();
  cudaSetDevice(previous);
  b.free = free_in_budget;
  return b;
}

uint64_t CudaBackend::weight_bytes(GgmlType type, int64_t n_in, int64_t n_out) const {
  // As upload_weight stores it: in its own type when a kernel reads it, else float32.
  const size_t row = matmul_type_supported(type) ? row_size(type, n_in) : static_cast<size_t>(n_in) * 4;
  return DeviceMemory::rounded(row * static_cast<size_t>(n_out));
}

uint64_t CudaBackend::tensor_bytes(int64_t rows, int64_t cols) const {
  return DeviceMemory::rounded(static_cast<size_t>(rows) * static_cast<size_t>(cols) * 4);
}

uint64_t CudaBackend::workspace_bytes(const WorkspaceShapes& s) const {
  // The one shared scratch block (workspace()): split-key attention partials or the
  // sampler's working copy of the logits, whichever is larger.
  size_t shared = 0;
  if (s.n_head > 0 && s.n_kv_head > 0 && s.max_kv_tokens > 0) {
    AttentionArgs a;
    a.n_head = s.n_head;
    a.n_kv_head = s.n_kv_head;
    a.head_dim = s.head_dim;
    a.causal = true;
    for (int64_t n = 1; n <= std::max<int64_t>(1, std::min(s.max_query_rows, s.max_kv_tokens)); ++n) {
      a.n_q = static_cast<int>(n);
      a.n_past = s.max_kv_tokens - n;
      shared = std::max(shared, attention_workspace_bytes(a, sm_count_));
    }
  }
  if (s.n_vocab > 0) {
    const size_t ids = (static_cast<size_t>(s.max_history) + 1) * 4;
    shared = std::max(shared, (ids + 255) / 256 * 256 + sample_workspace_bytes(static_cast<int>(s.n_vocab)));
  }
  uint64_t total = shared ? DeviceMemory::rounded(shared) : 0;
  if (s.image_input_pixels > 0) {
    // preprocess_image_gpu's scratch: the RGB8 upload, the horizontal pass's image (at most
    // twice the larger of input and output) and the vertical pass's, plus tap tables.
    const size_t in = static_cast<size_t>(s.image_input_pixels) * 3;
    const size_t out = static_cast<size_t>(s.image_output_pixels) * 3;
    total += DeviceMemory::rounded(in) + DeviceMemory::rounded(2 * std::max(in, out)) + DeviceMemory::rounded(out) +
             (2u << 20);
  }
  return total;
}

void* CudaBackend::workspace(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (!workspace_ || workspace_->bytes() < bytes) {
    workspace_.reset();  // stream order makes the old block safe to hand out again
    workspace_ = make_buffer(memory_, bytes, MemoryCategory::Workspace, "attention workspace");
  }
  return workspace_->data();
}

DeviceWeight CudaBackend::device_weight(const Weight& w) {
  DeviceWeight d;
  d.type = w.type;
  d.data = w.buffer->data();
  d.row_bytes = w.row_bytes;
  d.n_in = w.n_in;
  d.n_out = w.n_out;
  return d;
}

// --- memory ---------------------------------------------------------------------------

Tensor CudaBackend::alloc(DType dtype, int64_t rows, int64_t cols, MemoryCategory category) {
  if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / 4 / cols))
    fail(ErrorCode::InvalidArgument, "cuda backend: bad tensor shape [" + std::to_string(rows) + ", " +
                                         std::to_string(cols) + "]");
  KOTARO_CUDA_CHECK(cudaSetDevice(device_));
  const size_t bytes = static_cast<size_t>(rows * cols) * 4;
  Tensor t;
  t.buffer = make_buffer(memory_, bytes, category, "a tensor");
  t.dtype = dtype;
  t.rows = rows;
  t.cols = cols;
  // Zeroed like the CPU backend's tensors, so no op can read stale data from the cache.
  if (bytes) KOTARO_CUDA_CHECK(cudaMemsetAsync(t.buffer->data(), 0, bytes, stream_));
  return t;
}

Weight CudaBackend::upload_weight(const std::string& name, GgmlType type, int64_t n_in, int64_t n_out,
                                  const void* data, std::shared_ptr<const void> /*keep_alive*/) {
  KOTARO_CUDA_CHECK(cudaSetDevice(device_));
  Weight w;
  w.name = name;
  w.n_in = n_in;
  w.n_out = n_out;
  const std::string what = "weight '" + name + "'";
  if (matmul_type_supported(type)) {
    w.type = type;
    w.row_bytes = row_size(type, n_in);
    const size_t bytes = w.row_bytes * static_cast<size_t>(n_out);
    w.buffer = make_buffer(memory_, bytes, MemoryCategory::Weights, what.c_str());
    // From pageable (mmapped) memory the copy has read `data` when it returns.
    KOTARO_CUDA_CHECK(cudaMemcpyAsync(w.buffer->data(), data, bytes, cudaMemcpyHostToDevice, stream_));
    return w;
  }
  // Types without kernels (Q4_0, Q5_K, ...) are dequantised here to float32, exactly as the
  // CPU backend reads them: correct everywhere, at 4 bytes per element.
  const TypeTraits traits = type_traits(static_cast<uint32_t>(type));
  if (!traits.supported)
    fail(ErrorCode::GgufUnsupported, "tensor '" + name + "' has type " + traits.name +
                                         ", which the engine cannot compute with");
  const size_t src_row = row_size(type, n_in);
  w.type = GgmlType::F32;
  w.row_bytes = static_cast<size_t>(n_in) * 4;
  w.buffer = make_buffer(memory_, w.row_bytes * static_cast<size_t>(n_out), MemoryCategory::Weights, what.c_str());
  std::vector<float> rows;
  const int64_t chunk = std::max<int64_t>(1, (16 << 20) / std::max<int64_t>(1, n_in * 4));
  for (int64_t r0 = 0; r0 < n_out; r0 += chunk) {
    const int64_t nr = std::min(chunk, n_out - r0);
    rows.resize(static_cast<size_t>(nr * n_in));
    for (int64_t r = 0; r < nr; ++r)
      dequantize_row(type, static_cast<const char*>(data) + static_cast<size_t>(r0 + r) * src_row,
                     rows.data() + r * n_in, n_in);
    KOTARO_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(w.buffer->data()) + static_cast<size_t>(r0) * w.row_bytes,
                                      rows.data(), rows.size() * 4, cudaMemcpyHostToDevice, stream_));
  }
  return w;
}

void CudaBackend::upload(const void* host, const Tensor& dst) {
  if (dst.bytes() == 0) return;
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(tensor_ptr(dst), host, dst.bytes(), cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::download(const Tensor& src, void* host) {
  if (src.bytes() == 0) return;
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(host, tensor_ptr(src), src.bytes(), cudaMemcpyDeviceToHost, stream_));
  KOTARO_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (OpTimes* t = OpTimes::get()) t->resolve();
}

BackendUsage CudaBackend::usage() const {
  BackendUsage u;
  for (int i = 0; i < kMemoryCategoryCount; ++i) u.bytes[i] = memory_->live(static_cast<MemoryCategory>(i));
  u.bytes[static_cast<int>(MemoryCategory::Workspace)] += memory_->cached();
  const DeviceMemoryInfo info = query_device_memory(device_);
  u.device_used = info.used;
  u.device_total = info.total;
  return u;
}

// --- ops ------------------------------------------------------------------------------

void CudaBackend::matmul(const Tensor& x, const Weight& w, const Tensor* bias, const Tensor& y) {
  OpScope op(stream_, [&] {
    char buf[96];
    std::snprintf(buf, sizeof buf, "matmul type%d [%lld x %lld -> %lld]", static_cast<int>(w.type),
                  static_cast<long long>(x.rows), static_cast<long long>(w.n_in), static_cast<long long>(w.n_out));
    return std::string(buf);
  });
  check_shape("matmul input", x, x.rows, w.n_in, DType::F32);
  check_shape("matmul output", y, x.rows, w.n_out, DType::F32);
  if (bias) check_shape("matmul bias", *bias, 1, w.n_out, DType::F32);
  cuda::matmul(device_weight(w), x.f32(), x.rows, bias ? bias->f32() : nullptr, y.f32(), stream_, forced_matmul_);
}

void CudaBackend::rmsnorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& y) {
  OpScope op(stream_, [&] { return shape_label("rmsnorm", x.rows, x.cols); });
  check_shape("rmsnorm weight", weight, 1, x.cols, DType::F32);
  check_shape("rmsnorm output", y, x.rows, x.cols, DType::F32);
  cuda::rms_norm(x.f32(), weight.f32(), eps, x.rows, x.cols, y.f32(), stream_);
}

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  OpScope op(stream_, [&] { return shape_label("add", a.rows, a.cols); });
  check_shape("add b", b, a.rows, a.cols, DType::F32);
  check_shape("add output", y, a.rows, a.cols, DType::F32);
  cuda::add(a.f32(), b.f32(), y.f32(), a.numel(), stream_);
}

void CudaBackend::add_rmsnorm(const Tensor& a, const Tensor& b, const Tensor& sum, const Tensor& weight, float eps,
                              const Tensor& y) {
  static const bool fuse = [] {
    const char* env = std::getenv("KOTARO_CUDA_FUSE");
    return !(env && std::string(env) == "0");
  }();
  if (!fuse) {
    Backend::add_rmsnorm(a, b, sum, weight, eps, y);
    return;
  }
  check_shape("add_rmsnorm b", b, a.rows, a.cols, DType::F32);
  check_shape("add_rmsnorm sum", sum, a.rows, a.cols, DType::F32);
  check_shape("add_rmsnorm weight", weight, 1, a.cols, DType::F32);
  check_shape("add_rmsnorm output", y, a.rows, a.cols, DType::F32);
  if (y.buffer == a.buffer || y.buffer == b.buffer || y.buffer == sum.buffer)
    fail(ErrorCode::Internal, "add_rmsnorm: the output must not alias an input");
  cuda::add_rms_norm(a.f32(), b.f32(), sum.f32(), weight.f32(), eps, a.rows, a.cols, y.f32(), stream_);
}

void CudaBackend::swiglu(const Tensor& gate, const Tensor& up, const Tensor& y) {
  OpScope op(stream_, [&] { return shape_label("swiglu", gate.rows, gate.cols); });
  check_shape("swiglu up", up, gate.rows, gate.cols, DType::F32);
  check_shape("swiglu output", y, gate.rows, gate.cols, DType::F32);
  cuda::swiglu(gate.f32(), up.f32(), y.f32(), gate.numel(), stream_);
}

void CudaBackend::gelu(const Tensor& x, const Tensor& y) {
  OpScope op(stream_, [&] { return shape_label("gelu", x.rows, x.cols); });
  check_shape("gelu output", y, x.rows, x.cols, DType::F32);
  cuda::gelu_erf(x.f32(), y.f32(), x.numel(), stream_);
}

void CudaBackend::embed_rows(const Weight& table, const Tensor& ids, const Tensor& y) {
  check_shape("embed_rows ids", ids, 1, ids.cols, DType::I32);
  check_shape("embed_rows output", y, ids.cols, table.n_in, DType::F32);
  // Ids are validated on the host (a bad id must be an error, never an out-of-bounds read).
  std::vector<int32_t> host(static_cast<size_t>(ids.cols));
  download(ids, host.data());
  for (int32_t id : host)
    if (id < 0 || id >= table.n_out)
      fail(ErrorCode::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                           std::to_string(table.n_out) + ")");
  cuda::embed_rows(device_weight(table), ids.i32(), ids.cols, y.f32(), stream_);
}

void CudaBackend::gather_rows(const Tensor& src, const Tensor& idx, const Tensor& y) {
  OpScope op(stream_, [&] { return shape_label("gather_rows", idx.cols, src.cols); });
  check_shape("gather_rows idx", idx, 1, idx.cols, DType::I32);
  check_shape("gather_rows output", y, idx.cols, src.cols, DType::F32);
  std::vector<int32_t> host(static_cast<size_t>(idx.cols));
  download(idx, host.data());
  for (int32_t i : host)
    if (i < 0 || i >= src.rows)
      fail(ErrorCode::Internal, "gather_rows: index " + std::to_string(i) + " outside [0, " +
                                    std::to_string(src.rows) + ")");
  cuda::gather_rows(src.f32(), idx.i32(), idx.cols, src.cols, y.f32(), stream_);
}

void CudaBackend::copy_rows(const Tensor& src, const Tensor& dst, int64_t dst_row) {
  if (src.cols != dst.cols || src.dtype != dst.dtype || dst_row < 0 || dst_row + src.rows > dst.rows)
    fail(ErrorCode::Internal, "copy_rows: " + std::to_string(src.rows) + " rows at row " + std::to_string(dst_row) +
                                  " do not fit [" + std::to_string(dst.rows) + ", " + std::to_string(dst.cols) + "]");
  if (src.bytes() == 0) return;
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(tensor_ptr(dst)) + dst_row * dst.cols * 4, tensor_ptr(src),
                                    src.bytes(), cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::rope(const Tensor& x, const Tensor& pos, const RopeSpec& spec) {
  OpScope op(stream_, [&] { return shape_label("rope", x.rows, x.cols); });
  const int hd = spec.head_dim, half = hd / 2;
  if (hd <= 0 || hd % 4 != 0 || spec.n_heads <= 0)
    fail(ErrorCode::Internal, "rope: head_dim must be a positive multiple of 4");
  if (half > kRopeMaxPairs) fail(ErrorCode::Internal, "rope: head_dim above 128 is not supported on cuda");
  check_shape("rope input", x, x.rows, static_cast<int64_t>(spec.n_heads) * hd, DType::F32);
  const int n_axes = spec.kind == RopeKind::MRope ? 3 : 2;
  check_shape("rope positions", pos, n_axes, x.rows, DType::I32);
  // The table is computed exactly as the CPU backend computes it (float32 powf).
  RopeTable table;
  table.n_heads = spec.n_heads;
  table.head_dim = hd;
  table.n_axes = n_axes;
  if (spec.kind == RopeKind::MRope) {
    const int s0 = spec.sections[0], s1 = spec.sections[1], s2 = spec.sections[2];
    if (s0 < 0 || s1 < 0 || s2 < 0 || s0 + s1 + s2 != half)
      fail(ErrorCode::Internal, "rope: M-RoPE sections must add up to head_dim/2");
    for (int j = 0; j < half; ++j) {
      table.axis[j] = static_cast<int8_t>(j < s0 ? 0 : (j < s0 + s1 ? 1 : 2));
      table.inv_freq[j] = 1.0f / std::pow(spec.freq_base, static_cast<float>(2 * j) / static_cast<float>(hd));
    }
  } else {
    const int q = hd / 4;
    for (int j = 0; j < half; ++j) {
      table.axis[j] = static_cast<int8_t>(j < q ? 0 : 1);
      table.inv_freq[j] = 1.0f / std::pow(spec.freq_base, static_cast<float>(2 * (j % q)) / static_cast<float>(half));
    }
  }
  cuda::rope(x.f32(), pos.i32(), x.rows, table, nullptr, stream_);
}

void CudaBackend::attention_causal(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int64_t n_past,
                                   const Tensor& y, const AttentionSpec& spec) {
  if (spec.n_head <= 0 || spec.n_kv_head <= 0 || spec.head_dim <= 0 || spec.n_head % spec.n_kv_head != 0)
    fail(ErrorCode::Internal, "attention: bad head configuration");
  const int hd = spec.head_dim;
  const int64_t n = q.rows, q_cols = int64_t(spec.n_head) * hd, kv_cols = int64_t(spec.n_kv_head) * hd;
  check_shape("attention_causal q", q, n, q_cols, DType::F32);
  check_shape("attention_causal k", k_cache, k_cache.rows, kv_cols, DType::F32);
  check_shape("attention_causal v", v_cache, k_cache.rows, kv_cols, DType::F32);
  check_shape("attention_causal output", y, n, q_cols, DType::F32);
  if (n_past < 0 || n_past + n > k_cache.rows) fail(ErrorCode::Internal, "attention_causal: sequence exceeds the KV cache");
  AttentionArgs a;
  a.q = q.f32();
  a.out = y.f32();
  a.q_stride = a.out_stride = q_cols;
  a.n_q = static_cast<int>(n);
  a.n_head = spec.n_head;
  a.n_kv_head = spec.n_kv_head;
  a.head_dim = hd;
  a.scale = spec.scale;
  a.k = k_cache.f32();
  a.v = v_cache.f32();
  a.kv_type = KvType::F32;
  a.kv_stride = kv_cols;
  a.causal = true;
  a.n_past = n_past;
  cuda::attention(a, sm_count_, workspace(attention_workspace_bytes(a, sm_count_)), stream_);
}

void CudaBackend::attention_segments(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const std::vector<int32_t>& bounds, const Tensor& y, const AttentionSpec& spec) {
  OpScope op(stream_, [&] {
    return shape_label("attention_segments", q.rows, q.cols) + " " + std::to_string(bounds.size() - 1) + " segments";
  });
  check_attention_segments(q, k, v, bounds, y, spec);
  const int hd = spec.head_dim;
  const int64_t n = q.rows, cols = int64_t(spec.n_head) * hd;
  // The bounds travel in a small buffer of their own (the workspace may be in use).
  Tensor dev_bounds = alloc(DType::I32, 1, static_cast<int64_t>(bounds.size()), MemoryCategory::Workspace);
  upload(bounds.data(), dev_bounds);
  AttentionArgs a;
  a.q = q.f32();
  a.out = y.f32();
  a.q_stride = a.out_stride = cols;
  a.n_q = static_cast<int>(n);
  a.n_head = a.n_kv_head = spec.n_head;
  a.head_dim = hd;
  a.scale = spec.scale;
  a.k = k.f32();
  a.v = v.f32();
  a.kv_type = KvType::F32;
  a.kv_stride = cols;
  a.causal = false;
  a.seg_bounds = dev_bounds.i32();
  a.n_seg = static_cast<int>(bounds.size()) - 1;
  cuda::attention(a, sm_count_, nullptr, stream_);
}

// --- sampling and image preprocessing ------------------------------------------------------

int32_t CudaBackend::sample(const Tensor& logits_row, Sampler& sampler, const std::vector<int32_t>& history) {
  if (logits_row.empty() || logits_row.rows != 1 || logits_row.dtype != DType::F32 || logits_row.cols <= 0)
    fail(ErrorCode::Internal, "sample: expected one f32 row of logits");
  const int n_vocab = static_cast<int>(logits_row.cols);
  std::vector<int32_t> ids;
  SampleArgs a = make_sample_args(sampler, logits_row.f32(), n_vocab, history, ids);
  // One scratch block: [token][penalty ids][working logits].
  const size_t ids_bytes = (ids.size() + 1) * 4, logits_off = (ids_bytes + 255) / 256 * 256;
  char* ws = static_cast<char*>(workspace(logits_off + sample_workspace_bytes(n_vocab)));
  int32_t* d_token = reinterpret_cast<int32_t*>(ws);
  if (!ids.empty()) {
    KOTARO_CUDA_CHECK(cudaMemcpyAsync(d_token + 1, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice, stream_));
    a.penalty_ids = d_token + 1;
  }
  sample_token(a, ws + logits_off, d_token, stream_);
  int32_t token = -1;
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(&token, d_token, 4, cudaMemcpyDeviceToHost, stream_));
  KOTARO_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return token;
}

PixelTensor CudaBackend::preprocess_image(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg) {
  const GpuPixelGrid g = gpu_pixel_grid(width, height, cfg);  // validates the size first
  PixelTensor t;
  t.grid_h = g.grid_h;
  t.grid_w = g.grid_w;
  t.pixels = alloc(DType::F32, g.rows, g.row_len, MemoryCategory::Activations);
  preprocess_image_gpu(rgb, width, height, cfg, *memory_, t.pixels.f32(), stream_);
  return t;
}

// --- the paged cache beyond the seam ------------------------------------------------------

std::unique_ptr<PagedKvCache> CudaBackend::make_kv_cache(const KvCacheConfig& cfg, uint64_t budget_bytes) {
  KOTARO_CUDA_CHECK(cudaSetDevice(device_));
  return std::make_unique<PagedKvCache>(cfg, budget_bytes, *memory_, stream_);
}

void CudaBackend::attention_paged(const Tensor& q, const PagedKvCache& cache, int seq, int layer, int64_t n_past,
                                  const Tensor& y, const AttentionSpec& spec) {
  const KvCacheConfig& c = cache.config();
  if (spec.n_kv_head != c.n_kv_head || spec.head_dim != c.head_dim || spec.n_head <= 0 ||
      spec.n_head % spec.n_kv_head != 0)
    fail(ErrorCode::Internal, "attention_paged: heads do not match the cache");
  const int64_t cols = int64_t(spec.n_head) * spec.head_dim;
  check_shape("attention_paged q", q, q.rows, cols, DType::F32);
  check_shape("attention_paged output", y, q.rows, cols, DType::F32);
  if (n_past < 0 || n_past + q.rows > cache.reserved_tokens(seq))
    fail(ErrorCode::Internal, "attention_paged: rows past the reserved cache");
  AttentionArgs a;
  cache.bind(seq, layer, a);
  a.q = q.f32();
  a.out = y.f32();
  a.q_stride = a.out_stride = cols;
  a.n_q = static_cast<int>(q.rows);
  a.n_head = spec.n_head;
  a.scale = spec.scale;
  a.causal = true;
  a.n_past = n_past;
  cuda::attention(a, sm_count_, workspace(attention_workspace_bytes(a, sm_count_)), stream_);
}

}  // namespace cuda

// --- the seam's hooks -----------------------------------------------------------------

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(int device, uint64_t memory_budget_bytes) {
  const int count = cuda_device_count();
  if (device < 0 || device >= count)
    fail(ErrorCode::Cuda, "cuda: device " + std::to_string(device) + " requested but " + std::to_string(count) +
                              " usable CUDA device(s) found");
  return std::make_unique<cuda::CudaBackend>(device, memory_budget_bytes);
}

void cuda_fill_build_info(BuildInfo& info) { cuda::query_devices(info); }

}  // namespace kotaro
