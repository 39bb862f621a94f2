// Included first by every quant source: forbid the compiler from fusing a*b+c into an FMA.
// ggml's reference (de)quantisers are plain float arithmetic; contraction (the default of
// clang on arm64, and of GCC whenever FMA is enabled) would change rounding, so files and
// dequantised values would differ between machines.
#pragma once
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
