#include "image/pil_resize.h"

#include <cmath>
#include <string>

#include "kotaro/error.h"

namespace kotaro {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

double bicubic_filter(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis.
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // [out][2]: first input index, count
  std::vector<int32_t> k;   // [out][ksize] fixed point
};

Coeffs precompute(int in_size, int out_size) {
  const double support_1 = 2.0;  // bicubic
  const double scale = static_cast<double>(in_size) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_1 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bicubic_filter((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      const double scaled = v * (1 << kPrecisionBits);
      c.k[static_cast<size_t>(xx) * c.ksize + x] = static_cast<int32_t>(v < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t in) {
  if (in >= (1 << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<uint8_t>(in >> kPrecisionBits);
}

// One pass along x (horizontal) of an RGB8 image.
std::vector<uint8_t> pass_horizontal(const std::vector<uint8_t>& in, int w, int h, int out_w) {
  const Coeffs c = precompute(w, out_w);
  std::vector<uint8_t> out(static_cast<size_t>(out_w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int xx = 0; xx < out_w; ++xx) {
      const int xmin = c.bounds[2 * xx], xmax = c.bounds[2 * xx + 1];
      const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
      for (int ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < xmax; ++x) ss += in[(static_cast<size_t>(y) * w + x + xmin) * 3 + ch] * k[x];
        out[(static_cast<size_t>(y) * out_w + xx) * 3 + ch] = clip8(ss);
      }
    }
  return out;
}

std::vector<uint8_t> pass_vertical(const std::vector<uint8_t>& in, int w, int h, int out_h) {
  const Coeffs c = precompute(h, out_h);
  std::vector<uint8_t> out(static_cast<size_t>(w) * out_h * 3);
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = c.bounds[2 * yy], ymax = c.bounds[2 * yy + 1];
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int y = 0; y < ymax; ++y) ss += in[(static_cast<size_t>(y + ymin) * w + x) * 3 + ch] * k[y];
        out[(static_cast<size_t>(yy) * w + x) * 3 + ch] = clip8(ss);
      }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> pil_resize_bicubic(const uint8_t* rgb, int width, int height, int out_width, int out_height) {
  if (width <= 0 || height <= 0 || out_width <= 0 || out_height <= 0)
    fail(ErrorCode::InvalidArgument, "resize: bad size " + std::to_string(width) + "x" + std::to_string(height) +
                                         " -> " + std::to_string(out_width) + "x" + std::to_string(out_height));
  std::vector<uint8_t> img(rgb, rgb + static_cast<size_t>(width) * height * 3);
  // Pillow skips a pass whose size does not change.
  if (out_width != width) img = pass_horizontal(img, width, height, out_width);
  if (out_height != height) img = pass_vertical(img, out_width, height, out_height);
  return img;
}

}  // namespace kotaro
