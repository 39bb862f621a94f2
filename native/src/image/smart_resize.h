// transformers' Qwen2-VL `smart_resize`: the target size, in multiples of `factor` (28),
// closest to the input with its pixel count inside [min_pixels, max_pixels]. Python's
// round() (half to even), floor and ceil on doubles, exactly as the reference.
#pragma once
#include <cstdint>

namespace kotaro {

struct ResizeTarget {
  int height = 0, width = 0;
};

// Throws InvalidArgument for empty images, an aspect ratio above 200, or bad limits.
ResizeTarget smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels);

}  // namespace kotaro
