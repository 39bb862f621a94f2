// Block (de)quantisation of every weight type the engine reads, bit-compatible with
// llama.cpp's ggml (block layouts in /work/shared/reference/gguf-qwen25vl.md §F.2).
// Implemented in src/quant/. CPU code; the CUDA kernels have their own device versions
// and are tested against these.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kotaro/ggml_types.h"

namespace kotaro {

// Bytes that n elements of `type` occupy (n must be a multiple of the block size;
// throws InvalidArgument otherwise or for an unknown type).
size_t row_size(GgmlType type, int64_t n);

// src holds row_size(type, n) bytes; writes n floats. Throws GgufUnsupported for types
// we do not implement.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// Inverse, with llama.cpp's reference quantisers (no importance matrix), so files we write
// match llama.cpp's byte for byte for F32/F16/BF16/Q8_0 and closely for the K-quants.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// fp16/bf16 scalar conversions (round to nearest even), shared by CPU code and tests.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

}  // namespace kotaro
