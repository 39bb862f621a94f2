// Synthetic Qwen2.5-VL GGUF files: every metadata key and tensor the engine's loaders read,
// at the real shapes (or tiny ones for CPU smoke runs), filled with random but valid data:
// finite small fp16 block scales, random quant bytes, norms near 1, small biases. Nothing is
// quantised from floats (a 7B file is written in seconds), so the values are noise: the
// files are for speed and memory measurements, never for output quality.
//
// Weight types follow the engine's converter (electron/convert/type-mix.ts, docs/converter.md),
// which follows llama-quantize:
//  - q4_k_m: Q4_K, with attn_v and ffn_down Q6_K on the "more bits" layers
//    (i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2) and output.weight Q6_K;
//  - q6_k: Q6_K everywhere; q8_0: Q8_0 everywhere (convert_hf_to_gguf.py's rules);
//  - norms and biases F32;
//  - the mmproj as llama.cpp users pair it with K-quant models: F16 matrices (patch
//    embedding included), F32 norms and biases.
// Row lengths must fill whole blocks of the chosen type (true for the 7B and tiny shapes);
// a shape that would need llama-quantize's fallback types is refused.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gguf_stream_writer.h"
#include "kotaro/error.h"
#include "kotaro/quant.h"

namespace kotaro_tools {

struct SyntheticText {
  int64_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_vocab;
  int32_t sections[3];  // M-RoPE pairs (t, h, w), adding up to head_dim / 2
  uint32_t context_length;
  float rope_base, rms_eps;
};
struct SyntheticVision {
  int64_t n_embd, n_ff, n_layer, n_head, projection_dim;
  uint32_t patch_size, image_size, n_wa_pattern;  // full attention where (il + 1) % n_wa_pattern == 0
  float eps;
};

// Qwen2.5-VL-7B-Instruct (config.json): hidden 3584, intermediate 18944, 28 layers, 28 heads /
// 4 KV heads of 128, vocabulary 152064, mrope_section [16, 24, 24], rope theta 1e6, rms eps
// 1e-6; vision: 32 blocks of 1280, 16 heads, intermediate 3420, patch 14, merge 2, full
// attention at blocks 7, 15, 23, 31, out hidden 3584.
inline SyntheticText qwen25vl_7b_text() { return {3584, 18944, 28, 28, 4, 152064, {16, 24, 24}, 128000, 1e6f, 1e-6f}; }
inline SyntheticVision qwen25vl_7b_vision() { return {1280, 3420, 32, 16, 3584, 14, 560, 8, 1e-6f}; }
// A small model of the same structure for CPU smoke runs (every row a multiple of 256).
inline SyntheticText tiny_text() { return {256, 512, 2, 4, 2, 2048, {8, 12, 12}, 4096, 1e6f, 1e-6f}; }
inline SyntheticVision tiny_vision() { return {128, 256, 4, 2, 256, 14, 560, 2, 1e-6f}; }

// --- the type mix -----------------------------------------------------------------------

enum class WeightMix { Q4_K_M, Q6_K, Q8_0 };

inline WeightMix parse_weight_mix(const std::string& s) {
  if (s == "q4_k_m") return WeightMix::Q4_K_M;
  if (s == "q6_k") return WeightMix::Q6_K;
  if (s == "q8_0") return WeightMix::Q8_0;
  kotaro::fail(kotaro::ErrorCode::InvalidArgument, "unknown --type '" + s + "' (q4_k_m, q6_k or q8_0)");
}
inline const char* weight_mix_name(WeightMix m) {
  return m == WeightMix::Q4_K_M ? "q4_k_m" : m == WeightMix::Q6_K ? "q6_k" : "q8_0";
}
inline uint32_t weight_mix_file_type(WeightMix m) {  // llama_ftype, general.file_type
  return m == WeightMix::Q4_K_M ? 15 : m == WeightMix::Q6_K ? 18 : 7;
}

// llama-quant.cpp's use_more_bits (layer i of n).
inline bool more_bits_layer(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// The type of a text matrix ("attn_q", "ffn_down", "token_embd", "output", ...) of layer
// `layer` (-1 for the non-layer tensors).
inline kotaro::GgmlType text_matrix_type(WeightMix mix, const std::string& role, int64_t layer, int64_t n_layer) {
  using kotaro::GgmlType;
  switch (mix) {
    case WeightMix::Q8_0: return GgmlType::Q8_0;
    case WeightMix::Q6_K: return GgmlType::Q6_K;
    case WeightMix::Q4_K_M:
      if (role == "output") return GgmlType::Q6_K;
      if ((role == "attn_v" || role == "ffn_down") && more_bits_layer(layer, n_layer)) return GgmlType::Q6_K;
      return GgmlType::Q4_K;
  }
  return GgmlType::Q4_K;
}

// --- special tokens ----------------------------------------------------------------------

// Qwen2's added tokens from <|endoftext|> (151643) on; in a smaller vocabulary they sit at
// the same distance from `special_base`.
inline const std::vector<std::string>& qwen_special_tokens() {
  static const std::vector<std::string> t = {
      "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
      "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
      "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"};
  return t;
}
inline int64_t special_base(int64_t n_vocab) { return std::min<int64_t>(151643, n_vocab - 32); }

// --- filling -----------------------------------------------------------------------------

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Uniform in [lo, hi).
inline float uniform(uint64_t& s, float lo, float hi) {
  return lo + (hi - lo) * static_cast<float>(splitmix64(s) >> 40) * (1.0f / 16777216.0f);
}

// What a tensor's values stand for.
enum class FillRole { Norm, Bias, Matrix };

struct TensorFill {
  kotaro::GgmlType type;
  FillRole role;
  uint64_t seed;
};

// Writes `bytes` bytes of a tensor's data from byte `offset` on. The bytes of each block (or
// element, for F32/F16) depend only on the seed and the block's index, so the file does not
// depend on the chunking or the thread count. Scales are chosen so that weights lie within
// about ±0.05 (std ≈ 0.01–0.02, like a trained 7B's), norms in [0.9, 1.1), biases in ±0.02.
inline void fill_tensor_bytes(const TensorFill& t, uint64_t offset, uint8_t* dst, size_t bytes) {
  using kotaro::GgmlType;
  using kotaro::fp32_to_fp16;
  auto put16 = [](uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); };
  switch (t.type) {
    case GgmlType::F32: {
      for (size_t i = 0; i < bytes / 4; ++i) {
        uint64_t s = t.seed ^ ((offset / 4 + i) * 0x2545F4914F6CDD1Dull);
        const float v = t.role == FillRole::Norm ? uniform(s, 0.9f, 1.1f)
                        : t.role == FillRole::Bias ? uniform(s, -0.02f, 0.02f)
                                                   : uniform(s, -0.04f, 0.04f);
        std::memcpy(dst + 4 * i, &v, 4);
      }
      return;
    }
    case GgmlType::F16: {
      // 4096 evenly spaced fp16 values in ±0.04 (exactly representable, never inf/NaN),
      // indexed by 12 random bits per element.
      static const std::vector<uint16_t> table = [] {
        std::vector<uint16_t> v(4096);
        for (int i = 0; i < 4096; ++i) v[i] = fp32_to_fp16(-0.04f + 0.08f * (i + 0.5f) / 4096.0f);
        return v;
      }();
      for (size_t i = 0; i < bytes / 2;) {
        uint64_t s = t.seed ^ (((offset / 2 + i) / 5) * 0x2545F4914F6CDD1Dull);
        uint64_t r = splitmix64(s);
        for (size_t k = (offset / 2 + i) % 5; k < 5 && i < bytes / 2; ++k, ++i) put16(dst + 2 * i, table[(r >> (12 * k)) & 4095]);
      }
      return;
    }
    case GgmlType::Q4_K:
    case GgmlType::Q6_K:
    case GgmlType::Q8_0: {
      const size_t bb = kotaro::row_size(t.type, t.type == GgmlType::Q8_0 ? 32 : 256);
      for (size_t b = 0; b < bytes / bb; ++b) {
        uint8_t* p = dst + b * bb;
        uint64_t s = t.seed ^ ((offset / bb + b) * 0x2545F4914F6CDD1Dull);
        for (size_t i = 0; i < bb; i += 8) {  // random bytes first, then the scales over them
          const uint64_t r = splitmix64(s);
          std::memcpy(p + i, &r, std::min<size_t>(8, bb - i));
        }
        if (t.type == GgmlType::Q4_K) {
          // {d, dmin, scales[12], qs[128]}: w = d·sc·q − dmin·m with 6-bit sc, m and 4-bit q;
          // dmin ≈ 7.5·d centres the weights (q averages 7.5); d stays a normal fp16.
          const float d = uniform(s, 6.5e-5f, 8.5e-5f);
          put16(p, fp32_to_fp16(d));
          put16(p + 2, fp32_to_fp16(d * uniform(s, 7.0f, 8.0f)));
        } else if (t.type == GgmlType::Q6_K) {
          // {ql[128], qh[64], scales[16] int8, d}: w = d·sc·(q − 32); scales kept within ±20
          // so that d stays a normal fp16.
          for (int j = 0; j < 16; ++j) p[192 + j] = static_cast<uint8_t>(static_cast<int8_t>((p[192 + j] % 41) - 20));
          put16(p + 208, fp32_to_fp16(uniform(s, 6.5e-5f, 8e-5f)));
        } else {
          // {d, qs[32] int8}: w = d·q.
          put16(p, fp32_to_fp16(uniform(s, 2.5e-4f, 3.5e-4f)));
        }
      }
      return;
    }
    default:
      kotaro::fail(kotaro::ErrorCode::InvalidArgument, "synthetic fill: unsupported type");
  }
}

// Fills one chunk with `threads` threads, split on block boundaries.
inline void fill_parallel(const TensorFill& t, uint64_t offset, uint8_t* dst, size_t bytes, int threads) {
  const auto tr = kotaro::type_traits(static_cast<uint32_t>(t.type));
  const size_t bb = kotaro::row_size(t.type, tr.block_size);
  const size_t blocks = bytes / bb;
  const size_t n = std::max<size_t>(1, std::min<size_t>(threads, blocks / 4096 + 1));
  if (n == 1) return fill_tensor_bytes(t, offset, dst, bytes);
  std::vector<std::thread> pool;
  for (size_t k = 0; k < n; ++k) {
    const size_t b0 = blocks * k / n, b1 = blocks * (k + 1) / n;
    pool.emplace_back([&, b0, b1] { fill_tensor_bytes(t, offset + b0 * bb, dst + b0 * bb, (b1 - b0) * bb); });
  }
  for (auto& th : pool) th.join();
}

// --- the files ---------------------------------------------------------------------------

struct SyntheticFile {
  GgufStreamWriter writer;
  std::vector<TensorFill> fills;  // per tensor, in declaration order

  void add(const std::string& name, std::vector<int64_t> ne, kotaro::GgmlType type, FillRole role) {
    const uint64_t seed = 0x5EED0000ull + 0x100000001B3ull * (fills.size() + 1);
    writer.tensor(name, std::move(ne), type);
    fills.push_back({type, role, seed});
  }
  uint64_t write(const std::string& path, int threads, size_t chunk_bytes = 64u << 20) const {
    return writer.write(
        path, [&](size_t i, uint64_t off, uint8_t* dst, size_t n) { fill_parallel(fills[i], off, dst, n, threads); },
        chunk_bytes);
  }
};

// llama-quantize's tensor order: non-layer tensors first, then by layer number, then by name.
inline bool quantize_order(const std::string& a, const std::string& b) {
  auto layer = [](const std::string& s) -> long {
    return s.rfind("blk.", 0) == 0 ? std::stol(s.substr(4)) : -1;
  };
  const long la = layer(a), lb = layer(b);
  return la != lb ? la < lb : a < b;
}

inline SyntheticFile synthetic_text_file(const SyntheticText& c, WeightMix mix, const std::string& name) {
  using kotaro::GgmlType;
  SyntheticFile f;
  GgufStreamWriter& w = f.writer;
  const int64_t head_dim = c.n_embd / c.n_head, kv = c.n_head_kv * head_dim;
  if (c.n_embd % c.n_head || c.n_head % c.n_head_kv || c.sections[0] + c.sections[1] + c.sections[2] != head_dim / 2)
    kotaro::fail(kotaro::ErrorCode::InvalidArgument, "synthetic text shape: heads or rope sections do not fit");
  w.kv_str("general.architecture", "qwen2vl");
  w.kv_str("general.type", "model");
  w.kv_str("general.name", name);
  w.kv_u32("qwen2vl.block_count", static_cast<uint32_t>(c.n_layer));
  w.kv_u32("qwen2vl.context_length", c.context_length);
  w.kv_u32("qwen2vl.embedding_length", static_cast<uint32_t>(c.n_embd));
  w.kv_u32("qwen2vl.feed_forward_length", static_cast<uint32_t>(c.n_ff));
  w.kv_u32("qwen2vl.attention.head_count", static_cast<uint32_t>(c.n_head));
  w.kv_u32("qwen2vl.attention.head_count_kv", static_cast<uint32_t>(c.n_head_kv));
  w.kv_i32_array("qwen2vl.rope.dimension_sections", {c.sections[0], c.sections[1], c.sections[2], 0});
  w.kv_f32("qwen2vl.rope.freq_base", c.rope_base);
  w.kv_f32("qwen2vl.attention.layer_norm_rms_epsilon", c.rms_eps);
  w.kv_str("tokenizer.ggml.model", "gpt2");
  w.kv_str("tokenizer.ggml.pre", "qwen2");
  std::vector<std::string> tokens(static_cast<size_t>(c.n_vocab));
  std::vector<int32_t> token_type(tokens.size(), 1);  // normal
  const int64_t base = special_base(c.n_vocab);
  for (int64_t i = 0; i < c.n_vocab; ++i) tokens[i] = "t" + std::to_string(i);
  for (size_t k = 0; k < qwen_special_tokens().size(); ++k) {
    tokens[base + k] = qwen_special_tokens()[k];
    token_type[base + k] = 3;  // control
  }
  w.kv_str_array("tokenizer.ggml.tokens", tokens);
  w.kv_i32_array("tokenizer.ggml.token_type", token_type);
  w.kv_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(base + 2));
  w.kv_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(base));
  w.kv_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(base));
  w.kv_u32("general.quantization_version", 2);
  w.kv_u32("general.file_type", weight_mix_file_type(mix));

  struct Entry {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    FillRole role;
  };
  std::vector<Entry> all;
  auto matrix = [&](const std::string& n, const std::string& role, int64_t layer, int64_t n_in, int64_t n_out) {
    all.push_back({n, {n_in, n_out}, text_matrix_type(mix, role, layer, c.n_layer), FillRole::Matrix});
  };
  matrix("token_embd.weight", "token_embd", -1, c.n_embd, c.n_vocab);
  matrix("output.weight", "output", -1, c.n_embd, c.n_vocab);
  all.push_back({"output_norm.weight", {c.n_embd}, GgmlType::F32, FillRole::Norm});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    all.push_back({p + "attn_norm.weight", {c.n_embd}, GgmlType::F32, FillRole::Norm});
    all.push_back({p + "ffn_norm.weight", {c.n_embd}, GgmlType::F32, FillRole::Norm});
    matrix(p + "attn_q.weight", "attn_q", l, c.n_embd, c.n_embd);
    matrix(p + "attn_k.weight", "attn_k", l, c.n_embd, kv);
    matrix(p + "attn_v.weight", "attn_v", l, c.n_embd, kv);
    matrix(p + "attn_output.weight", "attn_output", l, c.n_embd, c.n_embd);
    all.push_back({p + "attn_q.bias", {c.n_embd}, GgmlType::F32, FillRole::Bias});
    all.push_back({p + "attn_k.bias", {kv}, GgmlType::F32, FillRole::Bias});
    all.push_back({p + "attn_v.bias", {kv}, GgmlType::F32, FillRole::Bias});
    matrix(p + "ffn_gate.weight", "ffn_gate", l, c.n_embd, c.n_ff);
    matrix(p + "ffn_up.weight", "ffn_up", l, c.n_embd, c.n_ff);
    matrix(p + "ffn_down.weight", "ffn_down", l, c.n_ff, c.n_embd);
  }
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return quantize_order(a.name, b.name); });
  for (Entry& e : all) f.add(e.name, std::move(e.ne), e.type, e.role);
  return f;
}

inline SyntheticFile synthetic_mmproj_file(const SyntheticVision& c, const std::string& name) {
  using kotaro::GgmlType;
  SyntheticFile f;
  GgufStreamWriter& w = f.writer;
  if (c.n_embd % c.n_head || (c.n_embd / c.n_head) % 4)
    kotaro::fail(kotaro::ErrorCode::InvalidArgument, "synthetic vision shape: head size must be a multiple of 4");
  w.kv_str("general.architecture", "clip");
  w.kv_str("general.type", "mmproj");
  w.kv_str("general.name", name);
  w.kv_u32("general.file_type", 1);
  w.kv_bool("clip.has_vision_encoder", true);
  w.kv_u32("clip.vision.projection_dim", static_cast<uint32_t>(c.projection_dim));
  w.kv_u32("clip.vision.image_size", c.image_size);
  w.kv_u32("clip.vision.patch_size", c.patch_size);
  w.kv_u32("clip.vision.embedding_length", static_cast<uint32_t>(c.n_embd));
  w.kv_u32("clip.vision.feed_forward_length", static_cast<uint32_t>(c.n_ff));
  w.kv_u32("clip.vision.block_count", static_cast<uint32_t>(c.n_layer));
  w.kv_u32("clip.vision.attention.head_count", static_cast<uint32_t>(c.n_head));
  w.kv_f32_array("clip.vision.image_mean", {0.48145466f, 0.4578275f, 0.40821073f});
  w.kv_f32_array("clip.vision.image_std", {0.26862954f, 0.26130258f, 0.27577711f});
  w.kv_str("clip.projector_type", "qwen2.5vl_merger");
  w.kv_bool("clip.use_silu", true);
  w.kv_u32("clip.vision.n_wa_pattern", c.n_wa_pattern);
  w.kv_f32("clip.vision.attention.layer_norm_epsilon", c.eps);
  w.kv_u32("general.quantization_version", 2);

  const int64_t d = c.n_embd, P = c.patch_size, unit = 4;  // 2x2 merge
  f.add("v.patch_embd.weight", {P, P, 3, d}, GgmlType::F16, FillRole::Matrix);
  f.add("v.patch_embd.weight.1", {P, P, 3, d}, GgmlType::F16, FillRole::Matrix);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "v.blk." + std::to_string(l) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_out"}) {
      f.add(p + m + ".weight", {d, d}, GgmlType::F16, FillRole::Matrix);
      f.add(p + m + ".bias", {d}, GgmlType::F32, FillRole::Bias);
    }
    f.add(p + "ln1.weight", {d}, GgmlType::F32, FillRole::Norm);
    f.add(p + "ln2.weight", {d}, GgmlType::F32, FillRole::Norm);
    f.add(p + "ffn_gate.weight", {d, c.n_ff}, GgmlType::F16, FillRole::Matrix);
    f.add(p + "ffn_gate.bias", {c.n_ff}, GgmlType::F32, FillRole::Bias);
    f.add(p + "ffn_up.weight", {d, c.n_ff}, GgmlType::F16, FillRole::Matrix);
    f.add(p + "ffn_up.bias", {c.n_ff}, GgmlType::F32, FillRole::Bias);
    f.add(p + "ffn_down.weight", {c.n_ff, d}, GgmlType::F16, FillRole::Matrix);
    f.add(p + "ffn_down.bias", {d}, GgmlType::F32, FillRole::Bias);
  }
  f.add("v.post_ln.weight", {d}, GgmlType::F32, FillRole::Norm);
  f.add("mm.0.weight", {d * unit, d * unit}, GgmlType::F16, FillRole::Matrix);
  f.add("mm.0.bias", {d * unit}, GgmlType::F32, FillRole::Bias);
  f.add("mm.2.weight", {d * unit, c.projection_dim}, GgmlType::F16, FillRole::Matrix);
  f.add("mm.2.bias", {c.projection_dim}, GgmlType::F32, FillRole::Bias);
  return f;
}

}  // namespace kotaro_tools
