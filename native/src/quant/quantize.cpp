// quantize_row(): dispatch to the per-type reference quantisers; plain float types inline.
#include <cstring>
#include <string>

#include "kotaro/error.h"
#include "kotaro/quant.h"
#include "quantizers.h"

namespace kotaro {

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  row_size(type, n);  // validates the type id and that n is a whole number of blocks
  using namespace quant;
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
      return;
    }
    case GgmlType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
      return;
    }
    case GgmlType::Q4_0: quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n); return;
    case GgmlType::Q4_1: quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n); return;
    case GgmlType::Q5_0: quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n); return;
    case GgmlType::Q5_1: quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), n); return;
    case GgmlType::Q8_0: quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n); return;
    case GgmlType::Q3_K: quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), n); return;
    case GgmlType::Q4_K: quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n); return;
    case GgmlType::Q5_K: quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), n); return;
    case GgmlType::Q6_K: quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n); return;
    default:
      fail(ErrorCode::GgufUnsupported,
           std::string("quantize_row: no quantiser for type ") +
               type_traits(static_cast<uint32_t>(type)).name);
  }
}

}  // namespace kotaro
