#include "image/smart_resize.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <string>

#include "kotaro/error.h"

namespace kotaro {

namespace {
// Python's round(): to nearest, ties to even (nearbyint in the default rounding mode).
int64_t py_round(double x) { return static_cast<int64_t>(std::nearbyint(x)); }
}  // namespace

ResizeTarget smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels) {
  if (height <= 0 || width <= 0)
    fail(ErrorCode::InvalidArgument, "image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is empty");
  if (factor <= 0 || min_pixels < 0 || max_pixels <= 0 || min_pixels > max_pixels)
    fail(ErrorCode::InvalidArgument, "bad pixel limits [" + std::to_string(min_pixels) + ", " + std::to_string(max_pixels) + "]");
  const double h = height, w = width, f = factor;
  if (std::max(h, w) / std::min(h, w) > 200.0)
    fail(ErrorCode::InvalidArgument, "image of " + std::to_string(width) + "x" + std::to_string(height) +
                                         " has an aspect ratio above 200");
  int64_t h_bar = py_round(h / f) * factor;
  int64_t w_bar = py_round(w / f) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt((h * w) / static_cast<double>(max_pixels));
    h_bar = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(h / beta / f)) * factor);
    w_bar = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(w / beta / f)) * factor);
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (h * w));
    h_bar = static_cast<int64_t>(std::ceil(h * beta / f)) * factor;
    w_bar = static_cast<int64_t>(std::ceil(w * beta / f)) * factor;
  }
  if (h_bar <= 0 || w_bar <= 0 || h_bar > 1 << 20 || w_bar > 1 << 20)
    fail(ErrorCode::InvalidArgument, "image of " + std::to_string(width) + "x" + std::to_string(height) +
                                         " cannot be resized within the pixel limits");
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

}  // namespace kotaro
