// GPU image preprocessing (see image_preprocess.h). The resize taps come from
// image/bicubic_resize.cpp (bicubic_taps, computed on the host and uploaded); the kernels apply them
// with the same 32-bit fixed-point sums and uint8 clamping, one output byte per thread.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/image_preprocess.h"
#include "image/bicubic_resize.h"
#include "image/smart_resize.h"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

// --- device ---------------------------------------------------------------------------
__device__ __forceinline__ uint8_t clamp_shift(int32_t acc, int bits) {
  const int32_t v = acc >> bits;  // arithmetic shift, as both references
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One resampling pass. horizontal: along x (src w x h → out_n x h); else along y
// (src w x h → w x out_n). One thread per output byte.
__global__ void resize_pass_kernel(const uint8_t* __restrict__ in, int w, int h, int out_n, bool horizontal,
                                   const int32_t* __restrict__ bounds, const int32_t* __restrict__ k, int ksize,
                                   int bits, uint8_t* __restrict__ out) {
  const int out_w = horizontal ? out_n : w, out_h = horizontal ? h : out_n;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(out_w) * out_h * 3) return;
  const int ch = static_cast<int>(i % 3);
  const int64_t px = i / 3;
  const int x = static_cast<int>(px % out_w), y = static_cast<int>(px / out_w);
  const int o = horizontal ? x : y;
  const int first = bounds[2 * o], count = bounds[2 * o + 1];
  const int32_t* kk = k + static_cast<int64_t>(o) * ksize;
  int32_t ss = 1 << (bits - 1);
  if (horizontal) {
    const uint8_t* src = in + (static_cast<int64_t>(y) * w + first) * 3 + ch;
    for (int t = 0; t < count; ++t) ss += src[3 * t] * kk[t];
  } else {
    const uint8_t* src = in + (static_cast<int64_t>(first) * w + x) * 3 + ch;
    for (int t = 0; t < count; ++t) ss += src[static_cast<int64_t>(3) * w * t] * kk[t];
  }
  out[i] = clamp_shift(ss, bits);
}

struct NormParams {
  float mean[3], std[3];
  int P, M, T;
};

// pixel rows in transformers' order: merge group (by, bx), then (dy, dx); each row
// [channel][temporal][py][px] with the image repeated over the temporal slices.
__global__ void normalize_patchify_kernel(const uint8_t* __restrict__ img, int height, int width, NormParams p,
                                          float* __restrict__ out) {
  const int row_len = 3 * p.T * p.P * p.P;
  const int grid_w = width / p.P, grid_h = height / p.P;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(grid_h) * grid_w * row_len) return;
  const int64_t row = i / row_len;
  int e = static_cast<int>(i % row_len);
  const int px = e % p.P; e /= p.P;
  const int py = e % p.P; e /= p.P;
  e /= p.T;  // temporal slice: the same image
  const int c = e;
  const int group = static_cast<int>(row / (p.M * p.M)), within = static_cast<int>(row % (p.M * p.M));
  const int groups_w = grid_w / p.M;
  const int by = group / groups_w, bx = group % groups_w, dy = within / p.M, dx = within % p.M;
  const int y = (by * p.M + dy) * p.P + py, x = (bx * p.M + dx) * p.P + px;
  // transformers: rescale in float64, cast to float32, normalise in float32.
  const float v = static_cast<float>(img[(static_cast<int64_t>(y) * width + x) * 3 + c] * (1.0 / 255.0));
  out[i] = (v - p.mean[c]) / p.std[c];
}

// A workspace block returned to the accountant on scope exit.
struct Scratch {
  DeviceMemory& mem;
  void* p;
  Scratch(DeviceMemory& m, size_t bytes, const char* what) : mem(m), p(m.allocate(bytes, MemoryCategory::Workspace, what)) {}
  ~Scratch() { mem.release(p); }
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
};

void resize_pass(const uint8_t* in, int w, int h, int out_n, bool horizontal, BicubicPrecision precision,
                 DeviceMemory& mem, uint8_t* out, cudaStream_t stream) {
  const BicubicTaps c = bicubic_taps(horizontal ? w : h, out_n, precision);
  Scratch bounds(mem, c.bounds.size() * 4, "resize coefficients");
  Scratch k(mem, c.k.size() * 4, "resize coefficients");
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(bounds.p, c.bounds.data(), c.bounds.size() * 4, cudaMemcpyHostToDevice, stream));
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(k.p, c.k.data(), c.k.size() * 4, cudaMemcpyHostToDevice, stream));
  const int64_t total = int64_t(horizontal ? out_n : w) * (horizontal ? h : out_n) * 3;
  resize_pass_kernel<<<static_cast<unsigned>(ceil_div<int64_t>(total, 256)), 256, 0, stream>>>(
      in, w, h, out_n, horizontal, bounds.as<int32_t>(), k.as<int32_t>(), c.ksize, c.bits, out);
  KOTARO_CUDA_CHECK_LAUNCH("resize_pass_kernel");
}

}  // namespace

GpuPixelGrid gpu_pixel_grid(int width, int height, const ImageProcessorConfig& cfg) {
  const ResizeTarget t = smart_resize(height, width, cfg.patch_size * cfg.merge_size, cfg.min_pixels, cfg.max_pixels);
  GpuPixelGrid g;
  g.grid_h = t.height / cfg.patch_size;
  g.grid_w = t.width / cfg.patch_size;
  g.rows = int64_t(g.grid_h) * g.grid_w;
  g.row_len = int64_t(3) * cfg.temporal_patch * cfg.patch_size * cfg.patch_size;
  return g;
}

void preprocess_image_gpu(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg,
                          DeviceMemory& memory, float* out, cudaStream_t stream, BicubicPrecision precision) {
  if (!rgb) fail(ErrorCode::InvalidArgument, "preprocess_image: no pixels");
  const ResizeTarget t = smart_resize(height, width, cfg.patch_size * cfg.merge_size, cfg.min_pixels, cfg.max_pixels);
  const size_t in_bytes = static_cast<size_t>(width) * height * 3;
  Scratch src(memory, in_bytes, "image upload");
  KOTARO_CUDA_CHECK(cudaMemcpyAsync(src.p, rgb, in_bytes, cudaMemcpyHostToDevice, stream));
  // Pillow skips a pass whose size does not change; horizontal first, then vertical.
  const uint8_t* cur = src.as<uint8_t>();
  std::unique_ptr<Scratch> tmp_h, tmp_v;
  if (t.width != width) {
    tmp_h = std::make_unique<Scratch>(memory, static_cast<size_t>(t.width) * height * 3, "image resize");
    resize_pass(cur, width, height, t.width, true, precision, memory, tmp_h->as<uint8_t>(), stream);
    cur = tmp_h->as<uint8_t>();
  }
  if (t.height != height) {
    tmp_v = std::make_unique<Scratch>(memory, static_cast<size_t>(t.width) * t.height * 3, "image resize");
    resize_pass(cur, t.width, height, t.height, false, precision, memory, tmp_v->as<uint8_t>(), stream);
    cur = tmp_v->as<uint8_t>();
  }
  NormParams p;
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = cfg.mean[c];
    p.std[c] = cfg.std[c];
  }
  p.P = cfg.patch_size;
  p.M = cfg.merge_size;
  p.T = cfg.temporal_patch;
  const int64_t total = int64_t(t.height / p.P) * (t.width / p.P) * 3 * p.T * p.P * p.P;
  normalize_patchify_kernel<<<static_cast<unsigned>(ceil_div<int64_t>(total, 256)), 256, 0, stream>>>(
      cur, t.height, t.width, p, out);
  KOTARO_CUDA_CHECK_LAUNCH("normalize_patchify_kernel");
}

}  // namespace kotaro::cuda
