// CPU backend: matmul against weights of any stored type, and embedding lookup.
// Weights are dequantised row by row (quant.h) into a per-thread scratch buffer, a block
// of output features at a time, and dotted with every input row.
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "kotaro/quant.h"

namespace kotaro {

namespace {

void check_weight_supported(const Weight& w) {
  const TypeTraits t = type_traits(static_cast<uint32_t>(w.type));
  if (!t.supported)
    fail(ErrorCode::GgufUnsupported, "tensor '" + w.name + "' has type " + t.name +
                                         ", which the engine cannot compute with");
}

// Row o of w as float32: a pointer into the weight itself for F32, else dequantised into
// scratch.
const float* weight_row(const Weight& w, int64_t o, float* scratch) {
  const char* row = static_cast<const char*>(w.buffer->data()) + static_cast<size_t>(o) * w.row_bytes;
  if (w.type == GgmlType::F32) return reinterpret_cast<const float*>(row);
  dequantize_row(w.type, row, scratch, w.n_in);
  return scratch;
}

constexpr int64_t kRowBlock = 16;  // output features dequantised together

}  // namespace

void CpuBackend::matmul(const Tensor& x, const Weight& w, const Tensor* bias, const Tensor& y) {
  check_shape("matmul input", x, x.rows, w.n_in, DType::F32);
  check_shape("matmul output", y, x.rows, w.n_out, DType::F32);
  if (bias) check_shape("matmul bias", *bias, 1, w.n_out, DType::F32);
  check_weight_supported(w);
  const int64_t n = x.rows, n_in = w.n_in, n_out = w.n_out;
  const float* px = x.f32();
  float* py = y.f32();
  const float* pb = bias ? bias->f32() : nullptr;
  const int64_t n_blocks = (n_out + kRowBlock - 1) / kRowBlock;
  pool_.parallel_for(n_blocks, [&](int64_t b0, int64_t b1) {
    std::vector<float> scratch(static_cast<size_t>(kRowBlock * n_in));
    const float* rows[kRowBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o0 = b * kRowBlock, o1 = std::min(n_out, o0 + kRowBlock);
      for (int64_t o = o0; o < o1; ++o) rows[o - o0] = weight_row(w, o, scratch.data() + (o - o0) * n_in);
      for (int64_t r = 0; r < n; ++r) {
        const float* xr = px + r * n_in;
        float* yr = py + r * n_out;
        for (int64_t o = o0; o < o1; ++o) {
          const float v = dot_f32(xr, rows[o - o0], n_in);
          yr[o] = pb ? v + pb[o] : v;
        }
      }
    }
  });
}

void CpuBackend::embed_rows(const Weight& table, const Tensor& ids, const Tensor& y) {
  check_shape("embed_rows ids", ids, 1, ids.cols, DType::I32);
  check_shape("embed_rows output", y, ids.cols, table.n_in, DType::F32);
  check_weight_supported(table);
  const int32_t* pid = ids.i32();
  for (int64_t i = 0; i < ids.cols; ++i) {
    if (pid[i] < 0 || pid[i] >= table.n_out)
      fail(ErrorCode::InvalidArgument, "token id " + std::to_string(pid[i]) + " is outside the vocabulary [0, " +
                                           std::to_string(table.n_out) + ")");
    const char* row = static_cast<const char*>(table.buffer->data()) + static_cast<size_t>(pid[i]) * table.row_bytes;
    dequantize_row(table.type, row, y.f32() + i * table.n_in, table.n_in);
  }
}

}  // namespace kotaro
