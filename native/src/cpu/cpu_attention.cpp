// CPU backend: scaled dot-product attention, causal over the KV cache (text) and
// non-causal within segments (vision windows / whole image).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_backend.h"

namespace kotaro {

namespace {

// out[hd] = softmax(q . k_j * scale) weighted sum of v_j over key rows [k0, k1).
// k/v rows are `stride` floats apart, already offset to the right head.
void attend_one(const float* q, const float* k, const float* v, int64_t stride, int64_t k0,
                int64_t k1, int hd, float scale, float* out, std::vector<float>& scores) {
  scores.resize(static_cast<size_t>(k1 - k0));
  float mx = -INFINITY;
  for (int64_t j = k0; j < k1; ++j) {
    const float s = dot_f32(q, k + j * stride, hd) * scale;
    scores[j - k0] = s;
    mx = std::max(mx, s);
  }
  double sum = 0;
  for (auto& s : scores) {
    s = std::exp(s - mx);
    sum += s;
  }
  const float inv = static_cast<float>(1.0 / sum);
  std::vector<double> acc(hd, 0.0);
  for (int64_t j = k0; j < k1; ++j) {
    const float p = scores[j - k0] * inv;
    const float* vr = v + j * stride;
    for (int d = 0; d < hd; ++d) acc[d] += static_cast<double>(p) * vr[d];
  }
  for (int d = 0; d < hd; ++d) out[d] = static_cast<float>(acc[d]);
}

void check_spec(const AttentionSpec& s) {
  if (s.n_head <= 0 || s.n_kv_head <= 0 || s.head_dim <= 0 || s.n_head % s.n_kv_head != 0)
    fail(ErrorCode::Internal, "attention: bad head configuration");
}

}  // namespace

void CpuBackend::attention_causal(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                  int64_t n_past, const Tensor& y, const AttentionSpec& spec) {
  check_spec(spec);
  const int hd = spec.head_dim;
  const int64_t n = q.rows, q_cols = int64_t(spec.n_head) * hd, kv_cols = int64_t(spec.n_kv_head) * hd;
  check_shape("attention_causal q", q, n, q_cols, DType::F32);
  check_shape("attention_causal k", k_cache, k_cache.rows, kv_cols, DType::F32);
  check_shape("attention_causal v", v_cache, k_cache.rows, kv_cols, DType::F32);
  check_shape("attention_causal output", y, n, q_cols, DType::F32);
  if (n_past < 0 || n_past + n > k_cache.rows)
    fail(ErrorCode::Internal, "attention_causal: sequence exceeds the KV cache");
  const int group = spec.n_head / spec.n_kv_head;
  pool_.parallel_for(n * spec.n_head, [&](int64_t w0, int64_t w1) {
    std::vector<float> scores;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t i = w / spec.n_head;
      const int h = static_cast<int>(w % spec.n_head), kvh = h / group;
      attend_one(q.f32() + i * q_cols + h * hd, k_cache.f32() + kvh * hd, v_cache.f32() + kvh * hd,
                 kv_cols, 0, n_past + i + 1, hd, spec.scale, y.f32() + i * q_cols + h * hd, scores);
    }
  });
}

void CpuBackend::attention_segments(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const std::vector<int32_t>& bounds, const Tensor& y,
                                    const AttentionSpec& spec) {
  check_spec(spec);
  check_attention_segments(q, k, v, bounds, y, spec);
  const int hd = spec.head_dim;
  const int64_t n = q.rows, cols = int64_t(spec.n_head) * hd;
  // seg_begin/seg_end[i]: the segment row i belongs to.
  std::vector<int32_t> seg_begin(n), seg_end(n);
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    for (int32_t i = bounds[s]; i < bounds[s + 1]; ++i) {
      seg_begin[i] = bounds[s];
      seg_end[i] = bounds[s + 1];
    }
  }
  pool_.parallel_for(n * spec.n_head, [&](int64_t w0, int64_t w1) {
    std::vector<float> scores;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t i = w / spec.n_head;
      const int h = static_cast<int>(w % spec.n_head);
      attend_one(q.f32() + i * cols + h * hd, k.f32() + h * hd, v.f32() + h * hd, cols,
                 seg_begin[i], seg_end[i], hd, spec.scale, y.f32() + i * cols + h * hd, scores);
    }
  });
}

}  // namespace kotaro
