// CPU backend: rotary position embedding (text M-RoPE and Qwen2.5-VL 2-D vision RoPE),
// following transformers' float32 computation of the angles (see RopeSpec in backend.h).
#include <cmath>
#include <vector>

#include "cpu/cpu_backend.h"

namespace kotaro {

void CpuBackend::rope(const Tensor& x, const Tensor& pos, const RopeSpec& spec) {
  const int hd = spec.head_dim, half = hd / 2;
  if (hd <= 0 || hd % 4 != 0 || spec.n_heads <= 0)
    fail(ErrorCode::Internal, "rope: head_dim must be a positive multiple of 4");
  check_shape("rope input", x, x.rows, static_cast<int64_t>(spec.n_heads) * hd, DType::F32);
  const int n_axes = spec.kind == RopeKind::MRope ? 3 : 2;
  check_shape("rope positions", pos, n_axes, x.rows, DType::I32);

  // Per rotated pair j: which position axis drives it and its inverse frequency.
  std::vector<int> axis(half);
  std::vector<float> inv_freq(half);
  if (spec.kind == RopeKind::MRope) {
    const int s0 = spec.sections[0], s1 = spec.sections[1], s2 = spec.sections[2];
    if (s0 < 0 || s1 < 0 || s2 < 0 || s0 + s1 + s2 != half)
      fail(ErrorCode::Internal, "rope: M-RoPE sections must add up to head_dim/2");
    for (int j = 0; j < half; ++j) {
      axis[j] = j < s0 ? 0 : (j < s0 + s1 ? 1 : 2);
      inv_freq[j] = 1.0f / std::pow(spec.freq_base, static_cast<float>(2 * j) / static_cast<float>(hd));
    }
  } else {
    const int q = hd / 4;
    for (int j = 0; j < half; ++j) {
      axis[j] = j < q ? 0 : 1;
      const int f = j % q;
      inv_freq[j] = 1.0f / std::pow(spec.freq_base, static_cast<float>(2 * f) / static_cast<float>(half));
    }
  }

  const int32_t* p = pos.i32();
  const int64_t n = x.rows;
  pool_.parallel_for(n, [&](int64_t r0, int64_t r1) {
    std::vector<float> cs(half), sn(half);
    for (int64_t r = r0; r < r1; ++r) {
      for (int j = 0; j < half; ++j) {
        const float theta = static_cast<float>(p[axis[j] * n + r]) * inv_freq[j];
        cs[j] = static_cast<float>(std::cos(static_cast<double>(theta)));
        sn[j] = static_cast<float>(std::sin(static_cast<double>(theta)));
      }
      float* row = x.f32() + r * x.cols;
      for (int h = 0; h < spec.n_heads; ++h) {
        float* v = row + h * hd;
        for (int j = 0; j < half; ++j) {
          const float x0 = v[j], x1 = v[j + half];
          v[j] = x0 * cs[j] - x1 * sn[j];
          v[j + half] = x1 * cs[j] + x0 * sn[j];
        }
      }
    }
  });
}

}  // namespace kotaro
