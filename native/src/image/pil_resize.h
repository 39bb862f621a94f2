// Bicubic resampling of RGB8 images bit-exact with Pillow's Image.resize(BICUBIC) for
// 8-bit RGB (libImaging/Resample.c): separable (horizontal pass, then vertical), cubic
// kernel with a = -0.5, support scaled by the downscale factor (antialiasing), coefficients
// normalised then converted to 22-bit fixed point, and each pass rounded and clamped to
// uint8.
#pragma once
#include <cstdint>
#include <vector>

namespace kotaro {

// rgb: width*height*3 bytes, row-major. Returns out_width*out_height*3 bytes.
std::vector<uint8_t> pil_resize_bicubic(const uint8_t* rgb, int width, int height, int out_width, int out_height);

}  // namespace kotaro
