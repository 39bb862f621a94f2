// Tests of src/quant: fp16/bf16 conversions, type traits, per-type round-trip error bounds on
// random data, hand-made blocks, hashes of the bytes ggml's reference quantisers produce for a
// fixed input (every quantised type), and known-answer checks against the llama.cpp-made GGUF
// files of the fixtures (dequantising their q8_0/f16 tensors, and quantising their f32 tensors
// to the same bytes).
//
// Error bounds checked on random data (per element unless said otherwise; amax = largest
// |x| of the block, range = max - min of the block, eps16 = 2^-11):
//   F32  exact                          F16   |e| <= max(2^-11 |x|, 2^-25)
//   BF16 |e| <= 2^-8 |x|                Q8_0  |e| <= amax*(0.5/127 + eps16) * 1.001
//   Q4_0 |e| <= amax/8 * (1 + 2 eps16)  Q5_0  |e| <= amax/16 * (1 + 2 eps16)
//   Q4_1 |e| <= range/30 + eps16*(|min| + range) * 1.1
//   Q5_1 |e| <= range/62 + eps16*(|min| + range) * 1.1
//   K-quants, on N(0,1) data, relative RMS error rms(e)/rms(x):
//   Q3_K < 0.20   Q4_K < 0.10   Q5_K < 0.05   Q6_K < 0.025
//   and max |e| per 256-block: Q3_K <= amax/2, Q4_K <= amax/6, Q5_K <= amax/12, Q6_K <= amax/24.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <utility>
#include <string>
#include <vector>

#include "kotaro/error.h"
#include "kotaro/quant.h"

using namespace kotaro;

namespace {

int g_failures = 0;
int g_checks = 0;

#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    ++g_checks;                                                               \
    if (!(cond)) {                                                            \
      ++g_failures;                                                           \
      std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      std::fprintf(stderr, __VA_ARGS__);                                      \
      std::fprintf(stderr, "\n");                                             \
    }                                                                         \
  } while (0)

float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// fp16 rounding error: half an ulp, 2^-11 relative for normals, 2^-25 absolute for subnormals
double f16_bound(float x) { return std::max(std::ldexp((double)std::fabs(x), -11), std::ldexp(1.0, -25)); }

// ---------------------------------------------------------------- fp16 / bf16
void test_half_conversions() {
  // every fp16 value survives fp16 -> fp32 -> fp16 (NaNs come back as quiet NaNs)
  int bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32((uint16_t)h);
    const uint16_t back = fp32_to_fp16(f);
    const bool is_nan = ((h & 0x7C00) == 0x7C00) && (h & 0x3FF);
    if (is_nan ? !(std::isnan(f) && (back & 0x7E00) == 0x7E00) : back != h) ++bad;
  }
  CHECK(bad == 0, "%d fp16 values did not round-trip", bad);
  CHECK(fp16_to_fp32(0x3C00) == 1.0f && fp16_to_fp32(0xC000) == -2.0f, "fp16 constants");
  CHECK(fp16_to_fp32(0x0001) == std::ldexp(1.0f, -24), "smallest fp16 subnormal");
  CHECK(fp16_to_fp32(0x7BFF) == 65504.0f, "largest fp16");
  CHECK(fp32_to_fp16(65520.0f) == 0x7C00, "65520 rounds to inf");
  CHECK(fp32_to_fp16(65519.0f) == 0x7BFF, "65519 rounds to 65504");
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000, "2^-25 ties to even (0)");
  CHECK(fp32_to_fp16(std::ldexp(3.0f, -25)) == 0x0002, "3*2^-25 ties to even (2)");
  CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00, "1+2^-11 ties to even");
  CHECK(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)) == 0x3C02, "1+3*2^-11 ties to even");

  // against the compiler's own _Float16 conversion (RNE) on a million random bit patterns
#if defined(__FLT16_MAX__)
  std::mt19937 rng(1234);
  int mismatches = 0;
  for (int i = 0; i < 1000000; ++i) {
    const float f = from_bits(rng());
    if (std::isnan(f)) continue;
    const _Float16 h = (_Float16)f;
    uint16_t hb;
    std::memcpy(&hb, &h, 2);
    if (hb != fp32_to_fp16(f)) ++mismatches;
    // and in the interesting range near 1
    const float g = std::ldexp((float)(rng() % 100000) / 1000.0f, (int)(rng() % 40) - 30);
    const _Float16 hg = (_Float16)g;
    std::memcpy(&hb, &hg, 2);
    if (hb != fp32_to_fp16(g)) ++mismatches;
  }
  CHECK(mismatches == 0, "%d fp32->fp16 results differ from _Float16", mismatches);
#endif

  // bf16: round to nearest even on the upper 16 bits, quiet NaN
  CHECK(fp32_to_bf16(1.0f) == 0x3F80, "bf16 1.0");
  CHECK(fp32_to_bf16(from_bits(0x3F808000u)) == 0x3F80, "bf16 tie to even (down)");
  CHECK(fp32_to_bf16(from_bits(0x3F818000u)) == 0x3F82, "bf16 tie to even (up)");
  CHECK(fp32_to_bf16(from_bits(0x3F808001u)) == 0x3F81, "bf16 above tie");
  CHECK((fp32_to_bf16(from_bits(0x7F800001u)) & 0x7FC0) == 0x7FC0, "bf16 NaN stays NaN");
  CHECK(bf16_to_fp32(0xC040) == -3.0f, "bf16 -> fp32");
}

// ---------------------------------------------------------------- traits
void test_traits() {
  struct Want { GgmlType t; uint32_t blck, size; bool sup; };
  const Want wants[] = {
      {GgmlType::F32, 1, 4, true},     {GgmlType::F16, 1, 2, true},
      {GgmlType::BF16, 1, 2, true},    {GgmlType::Q4_0, 32, 18, true},
      {GgmlType::Q4_1, 32, 20, true},  {GgmlType::Q5_0, 32, 22, true},
      {GgmlType::Q5_1, 32, 24, true},  {GgmlType::Q8_0, 32, 34, true},
      {GgmlType::Q3_K, 256, 110, true}, {GgmlType::Q4_K, 256, 144, true},
      {GgmlType::Q5_K, 256, 176, true}, {GgmlType::Q6_K, 256, 210, true},
      {GgmlType::Q2_K, 256, 84, false},
  };
  for (const Want& w : wants) {
    const TypeTraits t = type_traits((uint32_t)w.t);
    CHECK(t.block_size == w.blck && t.type_size == w.size && t.supported == w.sup,
          "traits of %s", t.name);
  }
  CHECK(type_traits(4).block_size == 0, "ids 4/5 (removed Q4_2/Q4_3) are unknown");
  CHECK(type_traits(999).block_size == 0, "unknown id");
  CHECK(row_size(GgmlType::Q4_K, 512) == 288, "row_size q4_K");
  CHECK(row_size(GgmlType::F16, 7) == 14, "row_size f16");

  auto throws_code = [](const std::function<void()>& fn, ErrorCode code) {
    try { fn(); } catch (const Error& e) { return e.code() == code; } catch (...) { return false; }
    return false;
  };
  CHECK(throws_code([] { row_size(GgmlType::Q8_0, 33); }, ErrorCode::InvalidArgument),
        "row_size rejects a partial block");
  CHECK(throws_code([] { row_size((GgmlType)4, 32); }, ErrorCode::InvalidArgument),
        "row_size rejects an unknown type");
  float out[256];
  uint8_t in[256] = {};
  CHECK(throws_code([&] { dequantize_row(GgmlType::Q2_K, in, out, 256); },
                    ErrorCode::GgufUnsupported), "dequantize_row rejects q2_K");
  CHECK(throws_code([&] { quantize_row(GgmlType::IQ4_NL, out, in, 32); },
                    ErrorCode::GgufUnsupported), "quantize_row rejects iq4_nl");
  CHECK(throws_code([&] { dequantize_row(GgmlType::Q4_K, in, out, 100); },
                    ErrorCode::InvalidArgument), "dequantize_row rejects a partial block");
}

// ---------------------------------------------------------------- round trips
struct RoundTrip {
  std::vector<float> x, y;
  std::vector<uint8_t> q;
};

RoundTrip round_trip(GgmlType t, const std::vector<float>& x) {
  RoundTrip r;
  r.x = x;
  r.q.assign(row_size(t, (int64_t)x.size()), 0xAA);
  r.y.assign(x.size(), NAN);
  quantize_row(t, x.data(), r.q.data(), (int64_t)x.size());
  dequantize_row(t, r.q.data(), r.y.data(), (int64_t)x.size());
  return r;
}

std::vector<float> random_data(size_t n, uint32_t seed, bool gaussian) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    // vary the scale per 32-block so blocks have different d/min
    const float scale = std::ldexp(1.0f, (int)((i / 32) % 7) - 3);
    x[i] = (gaussian ? nd(rng) : ud(rng)) * scale;
  }
  return x;
}

// per-element bound for the legacy 32-blocks; returns the number of violations
int check_legacy_bounds(GgmlType t, const RoundTrip& r) {
  const double eps16 = std::ldexp(1.0, -11);
  int bad = 0;
  for (size_t b = 0; b < r.x.size() / 32; ++b) {
    double amax = 0, mn = INFINITY, mx = -INFINITY;
    for (int j = 0; j < 32; ++j) {
      const double v = r.x[b * 32 + j];
      amax = std::max(amax, std::fabs(v));
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    const double range = mx - mn;
    double bound = 0;
    switch (t) {
      case GgmlType::Q8_0: bound = amax * (0.5 / 127 + eps16) * 1.001; break;
      case GgmlType::Q4_0: bound = amax / 8 * (1 + 2 * eps16); break;
      case GgmlType::Q5_0: bound = amax / 16 * (1 + 2 * eps16); break;
      case GgmlType::Q4_1: bound = range / 30 + eps16 * (std::fabs(mn) + range) * 1.1; break;
      case GgmlType::Q5_1: bound = range / 62 + eps16 * (std::fabs(mn) + range) * 1.1; break;
      default: return -1;
    }
    for (int j = 0; j < 32; ++j)
      if (std::fabs((double)r.x[b * 32 + j] - r.y[b * 32 + j]) > bound) ++bad;
  }
  return bad;
}

void test_round_trips() {
  for (bool gaussian : {false, true}) {
    const std::vector<float> x = random_data(4096, gaussian ? 7 : 11, gaussian);

    RoundTrip r = round_trip(GgmlType::F32, x);
    CHECK(std::memcmp(r.x.data(), r.y.data(), x.size() * 4) == 0, "f32 is exact");

    r = round_trip(GgmlType::F16, x);
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (std::fabs(x[i] - r.y[i]) > f16_bound(x[i])) ++bad;
    CHECK(bad == 0, "f16 error above 2^-11 |x| for %d values", bad);

    r = round_trip(GgmlType::BF16, x);
    bad = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (std::fabs(x[i] - r.y[i]) > std::ldexp(std::fabs(x[i]), -8)) ++bad;
    CHECK(bad == 0, "bf16 error above 2^-8 |x| for %d values", bad);

    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                       GgmlType::Q5_1}) {
      r = round_trip(t, x);
      const int v = check_legacy_bounds(t, r);
      CHECK(v == 0, "%s: %d values outside the error bound (%s data)",
            type_traits((uint32_t)t).name, v, gaussian ? "gaussian" : "uniform");
    }
  }

  // K-quants: relative RMS error and max error per 256-block on gaussian data
  struct KBound { GgmlType t; double rel_rms; double max_frac; };
  const KBound kb[] = {{GgmlType::Q3_K, 0.20, 1.0 / 2}, {GgmlType::Q4_K, 0.10, 1.0 / 6},
                       {GgmlType::Q5_K, 0.05, 1.0 / 12}, {GgmlType::Q6_K, 0.025, 1.0 / 24}};
  const std::vector<float> x = random_data(256 * 64, 99, true);
  for (const KBound& k : kb) {
    const RoundTrip r = round_trip(k.t, x);
    double se = 0, sx = 0, worst_frac = 0;
    for (size_t b = 0; b < x.size() / 256; ++b) {
      double amax = 0, emax = 0;
      for (int j = 0; j < 256; ++j) {
        const double v = x[b * 256 + j], e = v - r.y[b * 256 + j];
        amax = std::max(amax, std::fabs(v));
        emax = std::max(emax, std::fabs(e));
        se += e * e;
        sx += v * v;
      }
      worst_frac = std::max(worst_frac, emax / amax);
    }
    const double rel = std::sqrt(se / sx);
    std::printf("  %-5s rel rms err %.4f (bound %.3f), worst max err/amax %.4f (bound %.4f)\n",
                type_traits((uint32_t)k.t).name, rel, k.rel_rms, worst_frac, k.max_frac);
    CHECK(rel < k.rel_rms, "%s relative rms error %.4f", type_traits((uint32_t)k.t).name, rel);
    CHECK(worst_frac <= k.max_frac, "%s max error %.4f of amax",
          type_traits((uint32_t)k.t).name, worst_frac);
  }

  // all-zero and constant blocks quantise without NaNs and come back (near) exactly
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                     GgmlType::Q5_1, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K}) {
    const RoundTrip z = round_trip(t, std::vector<float>(256, 0.0f));
    bool ok = true;
    for (float v : z.y) ok = ok && v == 0.0f;
    CHECK(ok, "%s: zeros do not come back as zeros", type_traits((uint32_t)t).name);
    const RoundTrip c = round_trip(t, std::vector<float>(256, 0.75f));
    ok = true;
    for (float v : c.y) ok = ok && std::isfinite(v) && std::fabs(v - 0.75f) < 0.75f * 0.07f;
    CHECK(ok, "%s: a constant block is not reproduced", type_traits((uint32_t)t).name);
  }
}

// Known answers computed by hand from the block layouts (independent of the dequantisers).
void test_known_blocks() {
  // Q8_0: d = 0.5 (fp16 0x3800), qs = -3, 0, 5, ...
  uint8_t q8[34] = {0x00, 0x38};
  for (int j = 0; j < 32; ++j) q8[2 + j] = (uint8_t)(int8_t)(j - 16);
  float y[256];
  dequantize_row(GgmlType::Q8_0, q8, y, 32);
  bool ok = true;
  for (int j = 0; j < 32; ++j) ok = ok && y[j] == 0.5f * (j - 16);
  CHECK(ok, "q8_0 known block");

  // Q4_0: d = 2 (0x4000); byte j = lo (j) | hi (15-j) -> y[j] = 2*(j-8), y[j+16] = 2*(7-j)
  uint8_t q4[18] = {0x00, 0x40};
  for (int j = 0; j < 16; ++j) q4[2 + j] = (uint8_t)(j | ((15 - j) << 4));
  dequantize_row(GgmlType::Q4_0, q4, y, 32);
  ok = true;
  for (int j = 0; j < 16; ++j) ok = ok && y[j] == 2.0f * (j - 8) && y[j + 16] == 2.0f * (7 - j);
  CHECK(ok, "q4_0 known block");

  // Q5_0: d = 1; all low nibbles 0xF; qh bit j set for j even -> value (15|16)-16=15 or 15-16=-1
  uint8_t q5[22] = {0x00, 0x3C, 0x55, 0x55, 0x55, 0x55};
  for (int j = 0; j < 16; ++j) q5[6 + j] = 0xFF;
  dequantize_row(GgmlType::Q5_0, q5, y, 32);
  ok = true;
  for (int j = 0; j < 32; ++j) ok = ok && y[j] == ((j % 2 == 0) ? 15.0f : -1.0f);
  CHECK(ok, "q5_0 known block");

  // Q6_K: d = 1, every scale = 2, every 6-bit quant = 33 (ql nibble 1, qh bits 2) -> 2*(33-32)
  uint8_t q6[210] = {};
  for (int i = 0; i < 128; ++i) q6[i] = 0x11;
  for (int i = 0; i < 64; ++i) q6[128 + i] = 0xAA;
  for (int i = 0; i < 16; ++i) q6[192 + i] = 2;
  q6[208] = 0x00; q6[209] = 0x3C;
  dequantize_row(GgmlType::Q6_K, q6, y, 256);
  ok = true;
  for (int j = 0; j < 256; ++j) ok = ok && y[j] == 2.0f;
  CHECK(ok, "q6_K known block");

  // Q4_K: d = 1, dmin = 0.5; sub-block j has scale j+1 and min j (6-bit packing by hand)
  uint8_t q4k[144] = {0x00, 0x3C, 0x00, 0x38};
  uint8_t* sc = q4k + 4;
  for (int j = 0; j < 8; ++j) {
    const int s = j + 1, m = j;
    if (j < 4) { sc[j] = (uint8_t)s; sc[j + 4] = (uint8_t)m; }
    else { sc[j + 4] = (uint8_t)((s & 0xF) | ((m & 0xF) << 4)); sc[j - 4] |= (uint8_t)((s >> 4) << 6); sc[j] |= (uint8_t)((m >> 4) << 6); }
  }
  for (int i = 0; i < 128; ++i) q4k[16 + i] = (uint8_t)(3 | (5 << 4));
  dequantize_row(GgmlType::Q4_K, q4k, y, 256);
  ok = true;
  for (int j = 0; j < 256; ++j) {
    const int sub = j / 32;
    const int q = (sub % 2 == 0) ? 3 : 5;
    ok = ok && y[j] == (float)(sub + 1) * q - 0.5f * sub;
  }
  CHECK(ok, "q4_K known block");
}

// ---------------------------------------------------------------- ggml reference bytes
// Deterministic input made only of exact float operations (the same on every platform).
std::vector<float> golden_input(int n) {
  std::vector<float> x(n);
  uint32_t s = 0x12345678u;
  for (int i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    const float u = (float)(s >> 8) / 16777216.0f - 0.5f;
    float v = std::ldexp(u, (i / 256) % 9 - 6);
    if (i % 37 == 0) v *= 8.0f;                      // outliers
    if ((i / 256) % 13 == 12) v = std::fabs(v);      // all-positive super-blocks (min = 0 paths)
    x[i] = v;
  }
  return x;
}

uint64_t fnv1a(const std::vector<uint8_t>& b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) { h ^= c; h *= 1099511628211ull; }
  return h;
}

// FNV-1a of the bytes ggml's scalar reference quantisers (quantize_row_*_ref, built without
// FMA contraction) produce for golden_input(16384); computed once with ggml-quants.c's code.
void test_golden_bytes() {
  const int n = 256 * 64;
  const std::vector<float> x = golden_input(n);
  const std::pair<GgmlType, uint64_t> golden[] = {
      {GgmlType::Q4_0, 0x73540be4647e8aa0ull}, {GgmlType::Q4_1, 0x6acb329e4974aebaull},
      {GgmlType::Q5_0, 0x287d1a7d583ab766ull}, {GgmlType::Q5_1, 0xaec3512d3960081aull},
      {GgmlType::Q3_K, 0x1f7833f9d6684350ull}, {GgmlType::Q4_K, 0xf3d19a8b2d111b31ull},
      {GgmlType::Q5_K, 0x17168cc73463e6d8ull}, {GgmlType::Q6_K, 0x83710a4d4da9c846ull},
  };
  for (const auto& [t, want] : golden) {
    std::vector<uint8_t> q(row_size(t, n));
    quantize_row(t, x.data(), q.data(), n);
    const uint64_t got = fnv1a(q);
    CHECK(got == want, "%s bytes differ from ggml's reference quantiser (hash %016llx, want %016llx)",
          type_traits((uint32_t)t).name, (unsigned long long)got, (unsigned long long)want);
  }
}

// ---------------------------------------------------------------- fixtures
// A minimal GGUF v3 reader for this test only (the engine's reader lives in src/gguf and is
// tested there): tensor name -> (type, element count, bytes).
struct MiniTensor {
  uint32_t type = 0;
  std::vector<int64_t> ne;
  int64_t count = 1;
  std::vector<uint8_t> data;
};

bool read_gguf(const std::string& path, std::map<std::string, MiniTensor>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::vector<uint8_t> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t p = 0;
  auto need = [&](size_t n) {
    if (p + n > buf.size()) throw std::runtime_error("truncated gguf " + path);
  };
  auto u32 = [&] { need(4); uint32_t v; std::memcpy(&v, &buf[p], 4); p += 4; return v; };
  auto u64 = [&] { need(8); uint64_t v; std::memcpy(&v, &buf[p], 8); p += 8; return v; };
  auto str = [&] { const uint64_t n = u64(); need(n); std::string s((const char*)&buf[p], n); p += n; return s; };
  const size_t scalar_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  std::function<void(uint32_t)> skip = [&](uint32_t t) {
    if (t == 8) { str(); return; }
    if (t == 9) {
      const uint32_t et = u32();
      const uint64_t n = u64();
      for (uint64_t i = 0; i < n; ++i) skip(et);
      return;
    }
    if (t > 12) throw std::runtime_error("bad kv type");
    need(scalar_size[t]);
    p += scalar_size[t];
  };
  if (u32() != 0x46554747u) return false;
  if (u32() != 3) return false;
  const uint64_t n_tensors = u64(), n_kv = u64();
  uint32_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = str();
    const uint32_t t = u32();
    if (key == "general.alignment" && t == 4) alignment = u32();
    else skip(t);
  }
  struct Info { std::string name; MiniTensor t; uint64_t off; };
  std::vector<Info> infos;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info info;
    info.name = str();
    const uint32_t nd = u32();
    for (uint32_t d = 0; d < nd; ++d) {
      info.t.ne.push_back((int64_t)u64());
      info.t.count *= info.t.ne.back();
    }
    info.t.type = u32();
    info.off = u64();
    infos.push_back(std::move(info));
  }
  const size_t data_start = (p + alignment - 1) / alignment * alignment;
  for (Info& info : infos) {
    const size_t nbytes = row_size((GgmlType)info.t.type, info.t.ne[0]) * (info.t.count / info.t.ne[0]);
    p = data_start + info.off;
    need(nbytes);
    info.t.data.assign(buf.begin() + p, buf.begin() + p + nbytes);
    out[info.name] = std::move(info.t);
  }
  return true;
}

std::string fixtures_dir() {
  if (const char* env = std::getenv("KOTARO_FIXTURES")) return env;
  // repo root = three levels above this file (native/tests/test_quant.cpp)
  std::string here = __FILE__;
  for (int i = 0; i < 3; ++i) {
    const size_t slash = here.find_last_of('/');
    if (slash == std::string::npos) { here.clear(); break; }
    here = here.substr(0, slash);
  }
  for (const std::string& c : {here + "/../shared/fixtures", std::string("../shared/fixtures"),
                               std::string("../../shared/fixtures")}) {
    std::ifstream probe(c + "/README.md");
    if (probe) return c;
  }
  return "../shared/fixtures";
}

void test_fixture_files(const std::string& fixture, const std::string& stem) {
  const std::string dir = fixtures_dir() + "/" + fixture + "/llamacpp/";
  std::map<std::string, MiniTensor> f32, f16, q8;
  if (!read_gguf(dir + stem + "-f32.gguf", f32) || !read_gguf(dir + stem + "-f16.gguf", f16) ||
      !read_gguf(dir + stem + "-q8_0.gguf", q8)) {
    CHECK(false, "cannot read the fixture files in %s (set KOTARO_FIXTURES)", dir.c_str());
    return;
  }
  int n_f16 = 0, n_q8 = 0, n_exact_f16 = 0, n_exact_q8 = 0;
  double worst_q8_rel = 0;
  for (const auto& [name, ref] : f32) {
    CHECK(ref.type == 0, "%s is not F32 in the f32 file", name.c_str());
    const std::vector<float> x = [&] {
      std::vector<float> v(ref.count);
      std::memcpy(v.data(), ref.data.data(), ref.data.size());
      return v;
    }();
    for (auto* other : {&f16, &q8}) {
      auto it = other->find(name);
      if (it == other->end()) { CHECK(false, "%s missing", name.c_str()); continue; }
      const MiniTensor& t = it->second;
      CHECK(t.count == ref.count, "%s element count", name.c_str());
      if (t.type == 0) {
        CHECK(t.data == ref.data, "%s stored as F32 but differs from the f32 file", name.c_str());
        continue;
      }
      const int64_t ne0 = t.ne[0], rows = t.count / ne0;
      // known answer: dequantised bytes are within the type's error of the f32 tensor
      std::vector<float> y(t.count);
      const size_t rs = row_size((GgmlType)t.type, ne0);
      for (int64_t r = 0; r < rows; ++r)
        dequantize_row((GgmlType)t.type, t.data.data() + r * rs, y.data() + r * ne0, ne0);
      int bad = 0;
      for (int64_t i = 0; i < t.count; ++i) {
        if (t.type == (uint32_t)GgmlType::F16) {
          if (std::fabs(x[i] - y[i]) > f16_bound(x[i])) ++bad;
        } else {
          const int64_t b = i / 32;
          float amax = 0;
          for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
          const double bound = amax * (0.5 / 127 + std::ldexp(1.0, -11)) * 1.001;
          if (std::fabs(x[i] - y[i]) > bound) ++bad;
          if (amax > 0) worst_q8_rel = std::max(worst_q8_rel, std::fabs(x[i] - y[i]) / (double)amax);
        }
      }
      CHECK(bad == 0, "%s (%s): %d dequantised values outside the error bound", name.c_str(),
            type_traits(t.type).name, bad);
      // exact bytes: quantising the f32 tensor gives llama.cpp's bytes
      std::vector<uint8_t> mine(t.data.size());
      for (int64_t r = 0; r < rows; ++r)
        quantize_row((GgmlType)t.type, x.data() + r * ne0, mine.data() + r * rs, ne0);
      const bool same = mine == t.data;
      CHECK(same, "%s: quantize(f32) to %s differs from llama.cpp's bytes", name.c_str(),
            type_traits(t.type).name);
      if (t.type == (uint32_t)GgmlType::F16) { ++n_f16; n_exact_f16 += same; }
      if (t.type == (uint32_t)GgmlType::Q8_0) { ++n_q8; n_exact_q8 += same; }
    }
  }
  std::printf("  %s/%s: %zu tensors; f16 byte-identical %d/%d, q8_0 byte-identical %d/%d, "
              "q8_0 worst |err|/amax %.5f\n",
              fixture.c_str(), stem.c_str(), f32.size(), n_exact_f16, n_f16, n_exact_q8, n_q8,
              worst_q8_rel);
  CHECK(n_f16 > 0 && n_q8 > 0, "the fixture files hold f16 and q8_0 tensors");
}

}  // namespace

int main() {
  std::printf("test_quant\n");
  test_half_conversions();
  test_traits();
  test_known_blocks();
  test_round_trips();
  test_golden_bytes();
  test_fixture_files("tiny-qwen2-a", "model");
  test_fixture_files("tiny-qwen25vl-a", "model");
  test_fixture_files("tiny-qwen25vl-a", "mmproj");
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
