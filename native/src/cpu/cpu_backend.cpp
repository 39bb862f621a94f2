// CPU backend: memory management and the element-wise ops.
#include "cpu/cpu_backend.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kotaro/quant.h"

namespace kotaro {

namespace {

// Host memory charged to a category; owns it unless it wraps a kept-alive mapping.
class CpuBuffer final : public BackendBuffer {
 public:
  CpuBuffer(void* data, size_t bytes, MemoryCategory category, bool owned,
            std::shared_ptr<CpuMemoryCounters> counters)
      : BackendBuffer(data, bytes, category), owned_(owned), counters_(std::move(counters)) {
    counters_->bytes[static_cast<int>(category)] += bytes;
  }
  ~CpuBuffer() override {
    counters_->bytes[static_cast<int>(category_)] -= bytes_;
    if (owned_) std::free(data_);
  }

 private:
  bool owned_;
  std::shared_ptr<CpuMemoryCounters> counters_;
};

void* host_alloc(size_t bytes, const char* what) {
  const size_t rounded = ((bytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) fail(ErrorCode::OutOfMemory, std::string("cpu backend: cannot allocate ") +
                                           std::to_string(bytes) + " bytes for " + what);
  return p;
}

}  // namespace

CpuBackend::CpuBackend(int threads, uint64_t memory_budget_bytes)
    : counters_(std::make_shared<CpuMemoryCounters>()), pool_(threads), budget_(memory_budget_bytes) {}

std::unique_ptr<Backend> make_cpu_backend(int threads, uint64_t memory_budget_bytes) {
  return std::make_unique<CpuBackend>(threads, memory_budget_bytes);
}

Tensor CpuBackend::alloc(DType dtype, int64_t rows, int64_t cols, MemoryCategory category) {
  if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / 4 / cols))
    fail(ErrorCode::InvalidArgument, "cpu backend: bad tensor shape [" + std::to_string(rows) +
                                         ", " + std::to_string(cols) + "]");
  const size_t bytes = static_cast<size_t>(rows * cols) * 4;
  void* p = host_alloc(bytes, "a tensor");
  std::memset(p, 0, bytes);
  Tensor t;
  t.buffer = std::make_shared<CpuBuffer>(p, bytes, category, true, counters_);
  t.dtype = dtype;
  t.rows = rows;
  t.cols = cols;
  return t;
}

Weight CpuBackend::upload_weight(const std::string& name, GgmlType type, int64_t n_in,
                                 int64_t n_out, const void* data,
                                 std::shared_ptr<const void> keep_alive) {
  Weight w;
  w.name = name;
  w.type = type;
  w.n_in = n_in;
  w.n_out = n_out;
  w.row_bytes = row_size(type, n_in);
  const size_t bytes = w.row_bytes * static_cast<size_t>(n_out);
  if (keep_alive) {
    // Weights stay in the (read-only) mapping of the file: nothing is copied.
    w.buffer = std::make_shared<CpuBuffer>(const_cast<void*>(data), bytes, MemoryCategory::Weights,
                                           false, counters_);
    w.keep_alive = std::move(keep_alive);
  } else {
    void* p = host_alloc(bytes, name.c_str());
    std::memcpy(p, data, bytes);
    w.buffer = std::make_shared<CpuBuffer>(p, bytes, MemoryCategory::Weights, true, counters_);
  }
  return w;
}

void CpuBackend::upload(const void* host, const Tensor& dst) {
  std::memcpy(static_cast<char*>(dst.buffer->data()) + dst.offset, host, dst.bytes());
}

void CpuBackend::download(const Tensor& src, void* host) {
  std::memcpy(host, static_cast<const char*>(src.buffer->data()) + src.offset, src.bytes());
}

BackendUsage CpuBackend::usage() const {
  BackendUsage u;
  for (int i = 0; i < kMemoryCategoryCount; ++i) u.bytes[i] = counters_->bytes[i].load();
  return u;
}

MemoryBudget CpuBackend::memory_budget() const {
  MemoryBudget b;
  b.budget = budget_;
  uint64_t used = 0;
  for (const auto& c : counters_->bytes) used += c.load();
  b.free = budget_ > used ? budget_ - used : 0;
  return b;
}

// Weights stay in the file's mapping in their stored type (counted at their file size).
uint64_t CpuBackend::weight_bytes(GgmlType type, int64_t n_in, int64_t n_out) const {
  return static_cast<uint64_t>(row_size(type, n_in)) * static_cast<uint64_t>(n_out);
}

uint64_t CpuBackend::tensor_bytes(int64_t rows, int64_t cols) const {
  return static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) * 4;
}

int32_t CpuBackend::sample(const Tensor& logits_row, Sampler& sampler, const std::vector<int32_t>& history) {
  if (logits_row.empty() || logits_row.rows != 1 || logits_row.dtype != DType::F32 || logits_row.cols <= 0)
    fail(ErrorCode::Internal, "sample: expected one f32 row of logits");
  std::vector<float> logits(static_cast<size_t>(logits_row.cols));
  download(logits_row, logits.data());
  return sampler.sample(std::move(logits), history);
}

PixelTensor CpuBackend::preprocess_image(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg) {
  const PixelValues px = preprocess_qwen_image(rgb, width, height, cfg);
  PixelTensor t;
  t.grid_t = px.grid_t;
  t.grid_h = px.grid_h;
  t.grid_w = px.grid_w;
  const int64_t rows = int64_t(px.grid_t) * px.grid_h * px.grid_w;
  t.pixels = alloc(DType::F32, rows, rows ? static_cast<int64_t>(px.data.size()) / rows : 0, MemoryCategory::Activations);
  upload(px.data.data(), t.pixels);
  return t;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) acc[i & 7] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void CpuBackend::rmsnorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& y) {
  check_shape("rmsnorm weight", weight, 1, x.cols, DType::F32);
  check_shape("rmsnorm output", y, x.rows, x.cols, DType::F32);
  const int64_t d = x.cols;
  const float* w = weight.f32();
  pool_.parallel_for(x.rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x.f32() + r * d;
      float* yr = y.f32() + r * d;
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(xr[i]) * xr[i];
      // As transformers' Qwen2RMSNorm: variance in float32, x * rsqrt(var + eps), then * w.
      const float var = static_cast<float>(sum / static_cast<double>(d));
      const float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var + eps)));
      for (int64_t i = 0; i < d; ++i) yr[i] = w[i] * (xr[i] * inv);
    }
  });
}

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  check_shape("add b", b, a.rows, a.cols, DType::F32);
  check_shape("add output", y, a.rows, a.cols, DType::F32);
  const float* pa = a.f32();
  const float* pb = b.f32();
  float* py = y.f32();
  for (int64_t i = 0, n = a.numel(); i < n; ++i) py[i] = pa[i] + pb[i];
}

void CpuBackend::swiglu(const Tensor& gate, const Tensor& up, const Tensor& y) {
  check_shape("swiglu up", up, gate.rows, gate.cols, DType::F32);
  check_shape("swiglu output", y, gate.rows, gate.cols, DType::F32);
  const float* g = gate.f32();
  const float* u = up.f32();
  float* py = y.f32();
  pool_.parallel_for(gate.numel(), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float silu = g[i] / (1.0f + std::exp(-g[i]));
      py[i] = silu * u[i];
    }
  });
}

void CpuBackend::gelu(const Tensor& x, const Tensor& y) {
  check_shape("gelu output", y, x.rows, x.cols, DType::F32);
  const float* px = x.f32();
  float* py = y.f32();
  pool_.parallel_for(x.numel(), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const double v = px[i];
      py[i] = static_cast<float>(0.5 * v * (1.0 + std::erf(v * 0.70710678118654752440)));
    }
  });
}

void CpuBackend::gather_rows(const Tensor& src, const Tensor& idx, const Tensor& y) {
  check_shape("gather_rows idx", idx, 1, idx.cols, DType::I32);
  check_shape("gather_rows output", y, idx.cols, src.cols, DType::F32);
  const int32_t* ids = idx.i32();
  for (int64_t i = 0; i < idx.cols; ++i) {
    if (ids[i] < 0 || ids[i] >= src.rows)
      fail(ErrorCode::Internal, "gather_rows: index " + std::to_string(ids[i]) + " outside [0, " +
                                    std::to_string(src.rows) + ")");
    std::memcpy(y.f32() + i * src.cols, src.f32() + ids[i] * src.cols, src.cols * 4);
  }
}

void CpuBackend::copy_rows(const Tensor& src, const Tensor& dst, int64_t dst_row) {
  if (src.cols != dst.cols || src.dtype != dst.dtype || dst_row < 0 ||
      dst_row + src.rows > dst.rows)
    fail(ErrorCode::Internal, "copy_rows: " + std::to_string(src.rows) + " rows at row " +
                                  std::to_string(dst_row) + " do not fit [" +
                                  std::to_string(dst.rows) + ", " + std::to_string(dst.cols) + "]");
  std::memcpy(static_cast<char*>(dst.buffer->data()) + dst.offset + dst_row * dst.cols * 4,
              static_cast<const char*>(src.buffer->data()) + src.offset, src.bytes());
}

}  // namespace kotaro
