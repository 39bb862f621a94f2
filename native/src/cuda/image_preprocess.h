// Image preprocessing on the GPU from RGB8 uploaded once: antialiased bicubic resize with
// the same taps and fixed-point sums as image/bicubic_resize.cpp (so the bytes are
// identical, in either of its precisions; torch's by default, as the CPU processor), rescale by 1/255, CLIP normalisation and the Qwen2.5-VL patch order (as
// image/qwen_image_processor.cpp), written straight into the vision tower's input.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_memory.h"
#include "image/bicubic_resize.h"
#include "image/qwen_image_processor.h"

namespace kotaro::cuda {

struct GpuPixelGrid {
  int grid_h = 0, grid_w = 0;  // in patches (grid_t = 1)
  int64_t rows = 0, row_len = 0;  // pixel rows [rows, row_len]
};

// The grid preprocess_image_gpu will produce for an image (smart_resize of the processor).
GpuPixelGrid gpu_pixel_grid(int width, int height, const ImageProcessorConfig& cfg);

// rgb: host, width*height*3 bytes. out: device, rows*row_len floats (see gpu_pixel_grid).
// Temporary device buffers are charged to `memory` as workspace.
void preprocess_image_gpu(const uint8_t* rgb, int width, int height, const ImageProcessorConfig& cfg,
                          DeviceMemory& memory, float* out, cudaStream_t stream,
                          BicubicPrecision precision = BicubicPrecision::Torch);

}  // namespace kotaro::cuda
