// Tensor handle helpers and shape checks shared by every backend (see backend.h).
#include "runtime/backend.h"

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

}  // namespace kotaro
