// Tensor handle helpers and shape checks shared by every backend (see backend.h).
#include "runtime/backend.h"

#include <cstdio>
#include <string>

namespace kotaro {

float* Tensor::f32() const {
  if (dtype != DType::F32) fail(ErrorCode::Internal, "Tensor::f32 on an int32 tensor");
  return reinterpret_cast<float*>(static_cast<char*>(buffer->data()) + offset);
}

int32_t* Tensor::i32() const {
  if (dtype != DType::I32) fail(ErrorCode::Internal, "Tensor::i32 on a float tensor");
  return reinterpret_cast<int32_t*>(static_cast<char*>(buffer->data()) + offset);
}

Tensor Tensor::view(int64_t new_rows, int64_t new_cols) const {
  if (new_rows < 0 || new_cols < 0 || new_rows * new_cols != numel())
    fail(ErrorCode::Internal, "Tensor::view: [" + std::to_string(rows) + ", " +
                                  std::to_string(cols) + "] cannot be viewed as [" +
                                  std::to_string(new_rows) + ", " + std::to_string(new_cols) + "]");
  Tensor t = *this;
  t.rows = new_rows;
  t.cols = new_cols;
  return t;
}

Tensor Tensor::row_slice(int64_t first_row, int64_t n_rows) const {
  if (first_row < 0 || n_rows < 0 || first_row + n_rows > rows)
    fail(ErrorCode::Internal, "Tensor::row_slice: rows [" + std::to_string(first_row) + ", " +
                                  std::to_string(first_row + n_rows) + ") of " +
                                  std::to_string(rows));
  Tensor t = *this;
  t.offset += static_cast<size_t>(first_row * cols) * 4;
  t.rows = n_rows;
  return t;
}

void check_shape(const char* op, const Tensor& t, int64_t rows, int64_t cols, DType dtype) {
  if (t.empty() || t.rows != rows || t.cols != cols || t.dtype != dtype)
    fail(ErrorCode::Internal,
         std::string(op) + ": expected a " + (dtype == DType::F32 ? "f32" : "i32") + " [" +
             std::to_string(rows) + ", " + std::to_string(cols) + "] tensor, got " +
             (t.empty() ? std::string("none")
                        : std::string(t.dtype == DType::F32 ? "f32" : "i32") + " [" +
                              std::to_string(t.rows) + ", " + std::to_string(t.cols) + "]"));
}

std::string format_mib(uint64_t bytes) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

void Backend::reserve(const MemoryPlan& plan, const std::string& what) const {
  const MemoryBudget b = memory_budget();
  if (b.budget == 0 || plan.total() <= b.free) return;
  fail(ErrorCode::OutOfMemory, what + " needs " + format_mib(plan.total()) + " (weights " + format_mib(plan.weights) +
                                   ", KV " + format_mib(plan.kv_cache) + ", activations " +
                                   format_mib(plan.activations) + "), " + format_mib(b.free) + " free / budget " +
                                   format_mib(b.budget) + " (" + name() + " backend)");
}

void check_attention_segments(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<int32_t>& bounds,
                              const Tensor& y, const AttentionSpec& spec) {
  if (spec.n_head <= 0 || spec.head_dim <= 0 || spec.n_kv_head != spec.n_head)
    fail(ErrorCode::Internal, "attention_segments: n_kv_head != n_head");
  const int64_t n = q.rows, cols = int64_t(spec.n_head) * spec.head_dim;
  check_shape("attention_segments q", q, n, cols, DType::F32);
  check_shape("attention_segments k", k, n, cols, DType::F32);
  check_shape("attention_segments v", v, n, cols, DType::F32);
  check_shape("attention_segments output", y, n, cols, DType::F32);
  if (bounds.size() < 2 || bounds.front() != 0 || bounds.back() != n)
    fail(ErrorCode::Internal, "attention_segments: bounds must run from 0 to n");
  for (size_t s = 0; s + 1 < bounds.size(); ++s)
    if (bounds[s + 1] < bounds[s]) fail(ErrorCode::Internal, "attention_segments: bounds decrease");
}

void KvCache::check_store(const char* op, int layer, const Tensor& k, const Tensor& v, int64_t first_row) const {
  const int64_t cols = int64_t(spec_.n_kv_head) * spec_.head_dim;
  check_shape(op, k, k.rows, cols, DType::F32);
  check_shape(op, v, k.rows, cols, DType::F32);
  if (layer < 0 || layer >= spec_.n_layer)
    fail(ErrorCode::Internal, std::string(op) + ": layer " + std::to_string(layer) + " of " +
                                  std::to_string(spec_.n_layer));
  if (first_row < 0 || first_row > rows_ || first_row + k.rows > capacity_)
    fail(ErrorCode::Internal, std::string(op) + ": rows [" + std::to_string(first_row) + ", " +
                                  std::to_string(first_row + k.rows) + ") with " + std::to_string(rows_) +
                                  " stored and a capacity of " + std::to_string(capacity_));
}

void KvCache::check_attend(const char* op, int layer, const Tensor& q, int64_t n_past, const Tensor& y,
                           const AttentionSpec& spec) const {
  if (spec.n_kv_head != spec_.n_kv_head || spec.head_dim != spec_.head_dim || spec.n_head <= 0 ||
      spec.n_head % spec.n_kv_head != 0)
    fail(ErrorCode::Internal, std::string(op) + ": heads do not match the KV cache");
  const int64_t cols = int64_t(spec.n_head) * spec.head_dim;
  check_shape(op, q, q.rows, cols, DType::F32);
  check_shape(op, y, q.rows, cols, DType::F32);
  if (layer < 0 || layer >= spec_.n_layer)
    fail(ErrorCode::Internal, std::string(op) + ": layer " + std::to_string(layer) + " of " +
                                  std::to_string(spec_.n_layer));
  if (n_past < 0 || n_past + q.rows > rows_)
    fail(ErrorCode::Internal, std::string(op) + ": queries up to row " + std::to_string(n_past + q.rows) + " but " +
                                  std::to_string(rows_) + " rows are stored");
}

}  // namespace kotaro
