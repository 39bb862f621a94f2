// Antialiased bicubic resampling of RGB8 images, the separable integer algorithm shared by
// Pillow (Image.resize(BICUBIC), libImaging/Resample.c) and PyTorch's uint8 CPU kernel
// (interpolate(mode="bicubic", antialias=True) on uint8, which torchvision and transformers'
// fast image processors use): cubic kernel with a = -0.5, support scaled by the downscale
// factor, taps normalised in double then converted to fixed point, horizontal pass then
// vertical pass, each rounded and clamped to uint8. Only the fixed-point precision differs:
//  - Pillow: 22 fractional bits;
//  - Torch:  int16 taps, with per axis the most bits that keep the largest tap < 2^15.
// The two give the same image except for about 0.3% of the values, off by one level.
#pragma once
#include <cstdint>
#include <vector>

namespace kotaro {

enum class BicubicPrecision { Pillow, Torch };

// The fixed-point taps of one axis: output index o reads bounds[2o+1] input samples from
// bounds[2o], with weights k[o*ksize ..] of `bits` fractional bits. Shared with the GPU
// resize (cuda/image_preprocess.cu), which uploads them, so both resize bit-identically.
struct BicubicTaps {
  int ksize = 0, bits = 0;
  std::vector<int32_t> bounds;  // [out][2]: first input index, count
  std::vector<int32_t> k;       // [out][ksize]
};
BicubicTaps bicubic_taps(int in_size, int out_size, BicubicPrecision precision);

// rgb: width*height*3 bytes, row-major. Returns out_width*out_height*3 bytes. An axis whose
// size does not change is not resampled (as both references do).
std::vector<uint8_t> bicubic_resize_rgb8(const uint8_t* rgb, int width, int height, int out_width, int out_height,
                                         BicubicPrecision precision);

}  // namespace kotaro
