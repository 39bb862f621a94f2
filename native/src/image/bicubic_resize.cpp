#include "image/bicubic_resize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kotaro/error.h"

namespace kotaro {

namespace {

double bicubic_filter(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

}  // namespace

BicubicTaps bicubic_taps(int in_size, int out_size, BicubicPrecision precision) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;  // bicubic support 2, widened when downscaling
  BicubicTaps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.bounds.resize(2 * static_cast<size_t>(out_size));
  std::vector<double> w(static_cast<size_t>(out_size) * t.ksize, 0.0);
  double w_max = 0.0;
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    const int n = xmax - xmin;
    double* wo = &w[static_cast<size_t>(o) * t.ksize];
    double total = 0.0;
    for (int x = 0; x < n; ++x) total += (wo[x] = bicubic_filter((x + xmin - center + 0.5) / filterscale));
    for (int x = 0; x < n; ++x) {
      if (total != 0.0) wo[x] /= total;
      w_max = std::max(w_max, wo[x]);
    }
    t.bounds[2 * o] = xmin;
    t.bounds[2 * o + 1] = n;
  }
  if (precision == BicubicPrecision::Pillow) {
    t.bits = 32 - 8 - 2;
  } else {
    for (t.bits = 0; t.bits < 22; ++t.bits)
      if (static_cast<int>(0.5 + w_max * (1 << (t.bits + 1))) >= (1 << 15)) break;
  }
  t.k.resize(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const double v = w[i] * (1 << t.bits);
    t.k[i] = static_cast<int32_t>(w[i] < 0 ? -0.5 + v : 0.5 + v);
  }
  return t;
}

namespace {

inline uint8_t clamp_shift(int32_t acc, int bits) {
  const int32_t v = acc >> bits;  // arithmetic shift, as both references
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Resamples along one axis. `in` has `lines` lines of `in_size` samples of 3 channels;
// consecutive samples of a line are `sample_stride` pixels apart and consecutive lines
// `line_stride` pixels apart (so the same code serves rows and columns).
std::vector<uint8_t> resample_axis(const std::vector<uint8_t>& in, int in_w, int in_h, int out_w, int out_h,
                                   bool horizontal, BicubicPrecision precision) {
  const int in_size = horizontal ? in_w : in_h, out_size = horizontal ? out_w : out_h;
  const int lines = horizontal ? in_h : in_w;
  const BicubicTaps t = bicubic_taps(in_size, out_size, precision);
  std::vector<uint8_t> out(static_cast<size_t>(out_w) * out_h * 3);
  for (int line = 0; line < lines; ++line)
    for (int o = 0; o < out_size; ++o) {
      const int32_t* k = &t.k[static_cast<size_t>(o) * t.ksize];
      for (int ch = 0; ch < 3; ++ch) {
        int32_t acc = 1 << (t.bits - 1);
        for (int x = 0; x < t.bounds[2 * o + 1]; ++x) {
          const int s = t.bounds[2 * o] + x;
          const size_t idx = horizontal ? (static_cast<size_t>(line) * in_w + s) : (static_cast<size_t>(s) * in_w + line);
          acc += in[idx * 3 + ch] * k[x];
        }
        const size_t oidx = horizontal ? (static_cast<size_t>(line) * out_w + o) : (static_cast<size_t>(o) * out_w + line);
        out[oidx * 3 + ch] = clamp_shift(acc, t.bits);
      }
    }
  return out;
}

}  // namespace

std::vector<uint8_t> bicubic_resize_rgb8(const uint8_t* rgb, int width, int height, int out_width, int out_height,
                                         BicubicPrecision precision) {
  if (!rgb || width <= 0 || height <= 0 || out_width <= 0 || out_height <= 0)
    fail(ErrorCode::InvalidArgument, "resize: bad size " + std::to_string(width) + "x" + std::to_string(height) +
                                         " -> " + std::to_string(out_width) + "x" + std::to_string(out_height));
  std::vector<uint8_t> img(rgb, rgb + static_cast<size_t>(width) * height * 3);
  if (out_width != width) img = resample_axis(img, width, height, out_width, height, true, precision);
  if (out_height != height) img = resample_axis(img, out_width, height, out_width, out_height, false, precision);
  return img;
}

}  // namespace kotaro
