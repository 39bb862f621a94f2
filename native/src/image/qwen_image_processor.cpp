#include "image/qwen_image_processor.h"

#include <string>

#include "image/bicubic_resize.h"
#include "image/smart_resize.h"
#include "kotaro/error.h"

namespace kotaro {

PixelValues patchify_qwen(const std::vector<float>& planar, int height, int width, const ImageProcessorConfig& cfg) {
  const int P = cfg.patch_size, M = cfg.merge_size, T = cfg.temporal_patch;
  if (height % (P * M) != 0 || width % (P * M) != 0 ||
      planar.size() != static_cast<size_t>(3) * height * width)
    fail(ErrorCode::InvalidArgument, "patchify: " + std::to_string(width) + "x" + std::to_string(height) +
                                         " is not a multiple of " + std::to_string(P * M));
  PixelValues pv;
  pv.grid_t = 1;  // one image repeated over the temporal patch
  pv.grid_h = height / P;
  pv.grid_w = width / P;
  const int64_t row_len = int64_t(3) * T * P * P;
  pv.data.resize(static_cast<size_t>(int64_t(pv.grid_h) * pv.grid_w * row_len));
  // transformers: reshape(gt, T, C, gh/M, M, P, gw/M, M, P).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
  int64_t row = 0;
  for (int by = 0; by < pv.grid_h / M; ++by)
    for (int bx = 0; bx < pv.grid_w / M; ++bx)
      for (int dy = 0; dy < M; ++dy)
        for (int dx = 0; dx < M; ++dx, ++row) {
          float* out = pv.data.data() + row * row_len;
          const int y0 = (by * M + dy) * P, x0 = (bx * M + dx) * P;
          for (int c = 0; c < 3; ++c)
            for (int t = 0; t < T; ++t)
              for (int py = 0; py < P; ++py)
                for (int px = 0; px < P; ++px)
                  *out++ = planar[(static_cast<size_t>(c) * height + y0 + py) * width + x0 + px];
        }
  return pv;
}

PixelValues preprocess_qwen_image(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg) {
  if (!rgb) fail(ErrorCode::InvalidArgument, "preprocess_image: no pixels");
  const ResizeTarget target = smart_resize(height, width, cfg.patch_size * cfg.merge_size, cfg.min_pixels, cfg.max_pixels);
  const std::vector<uint8_t> resized =
      bicubic_resize_rgb8(rgb, width, height, target.width, target.height, BicubicPrecision::Torch);
  // transformers: rescale in float64 then cast to float32; normalise in float32.
  const double rescale = 1.0 / 255.0;
  std::vector<float> planar(static_cast<size_t>(3) * target.height * target.width);
  const size_t plane = static_cast<size_t>(target.height) * target.width;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      const float v = static_cast<float>(resized[i * 3 + c] * rescale);
      planar[c * plane + i] = (v - cfg.mean[c]) / cfg.std[c];
    }
  return patchify_qwen(planar, target.height, target.width, cfg);
}

}  // namespace kotaro
