// Per-type reference quantisers (ggml's quantize_row_*_ref), private to src/quant.
// k is the element count, a multiple of the type's block size (checked by the caller).
#pragma once
#include <cstdint>

#include "block_layouts.h"

namespace kotaro::quant {

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t k);
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t k);
void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t k);
void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t k);
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t k);
void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t k);
void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t k);
void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t k);
void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t k);

}  // namespace kotaro::quant
