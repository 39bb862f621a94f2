// RGB8 image -> Qwen2.5-VL pixel values, as transformers 5 (the fixtures' reference)
// computes them: smart_resize to multiples of patch*merge, antialiased bicubic resize of the
// uint8 image (torch's integer kernel: see bicubic_resize.h; Pillow's differs by one level
// on ~0.3% of values), rescale by 1/255, normalise with the CLIP mean/std, then flatten into
// patches of [channel][temporal 2][14][14] in merge-group order (the image repeated for both
// temporal slices).
#pragma once
#include <cstdint>
#include <vector>

#include "kotaro/engine.h"

namespace kotaro {

struct ImageProcessorConfig {
  int patch_size = 14, merge_size = 2, temporal_patch = 2;
  int64_t min_pixels = 56 * 56, max_pixels = 28 * 28 * 1280;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
};

// rgb: width*height*3 bytes, row-major, tightly packed.
PixelValues preprocess_qwen_image(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg);

// The patch flattening alone, from normalised planar float pixels [3][height][width]
// (height/width multiples of patch*merge). Exposed for tests.
PixelValues patchify_qwen(const std::vector<float>& planar, int height, int width, const ImageProcessorConfig& cfg);

}  // namespace kotaro
