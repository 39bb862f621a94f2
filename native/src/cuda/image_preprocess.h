// Image preprocessing on the GPU from RGB8 uploaded once: Pillow-exact bicubic resize
// (the same fixed-point arithmetic as image/pil_resize.cpp, so the output bytes are
// identical), rescale by 1/255, CLIP normalisation and the Qwen2.5-VL patch order (as
// image/qwen_image_processor.cpp), written straight into the vision tower's input.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_memory.h"
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
                          DeviceMemory& memory, float* out, cudaStream_t stream);

}  // namespace kotaro::cuda
