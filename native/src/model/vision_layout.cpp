#include "model/vision_layout.h"

#include <algorithm>
#include <string>

#include "kotaro/error.h"

namespace kotaro {

VisionLayout make_vision_layout(int grid_t, int grid_h, int grid_w, int merge, int patch, int window_px) {
  if (grid_t <= 0 || grid_h <= 0 || grid_w <= 0 || merge <= 0 || grid_h % merge || grid_w % merge)
    fail(ErrorCode::InvalidArgument, "vision grid " + std::to_string(grid_t) + "x" + std::to_string(grid_h) + "x" +
                                         std::to_string(grid_w) + " is not a positive multiple of the merge size " +
                                         std::to_string(merge));
  const int64_t unit = int64_t(merge) * merge;
  const int64_t lh = grid_h / merge, lw = grid_w / merge;
  // Windows are measured in merged tokens: 112 px / 14 px / 2 = 4.
  int64_t ws = window_px / merge / patch;
  if (ws <= 0) ws = 1;
  VisionLayout L;
  L.n_patches = int64_t(grid_t) * grid_h * grid_w;
  if (L.n_patches > INT32_MAX / 2) fail(ErrorCode::InvalidArgument, "vision grid too large");
  L.n_merged = L.n_patches / unit;
  L.window_bounds.push_back(0);
  L.frame_bounds.push_back(0);
  for (int t = 0; t < grid_t; ++t) {
    const int64_t base = int64_t(t) * lh * lw;
    for (int64_t wy = 0; wy < lh; wy += ws)
      for (int64_t wx = 0; wx < lw; wx += ws) {
        for (int64_t y = wy; y < std::min(lh, wy + ws); ++y)
          for (int64_t x = wx; x < std::min(lw, wx + ws); ++x)
            L.window_index.push_back(static_cast<int32_t>(base + y * lw + x));
        L.window_bounds.push_back(static_cast<int32_t>(L.window_index.size() * unit));
      }
    L.frame_bounds.push_back(static_cast<int32_t>((t + 1) * int64_t(grid_h) * grid_w));
  }
  L.reverse_index.assign(L.window_index.size(), 0);
  for (size_t j = 0; j < L.window_index.size(); ++j) L.reverse_index[L.window_index[j]] = static_cast<int32_t>(j);
  // Patch positions in merge order (merge group (by, bx) in raster order, then (dy, dx)),
  // then permuted into window order group by group.
  L.positions.assign(static_cast<size_t>(2 * L.n_patches), 0);
  for (size_t j = 0; j < L.window_index.size(); ++j) {
    const int64_t g = L.window_index[j] % (lh * lw);
    const int64_t by = g / lw, bx = g % lw;
    for (int64_t u = 0; u < unit; ++u) {
      const int64_t row = int64_t(j) * unit + u;
      L.positions[row] = static_cast<int32_t>(by * merge + u / merge);
      L.positions[L.n_patches + row] = static_cast<int32_t>(bx * merge + u % merge);
    }
  }
  return L;
}

}  // namespace kotaro
