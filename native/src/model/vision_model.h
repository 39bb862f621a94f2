// The Qwen2.5-VL vision tower + patch merger from a llama.cpp mmproj GGUF
// (clip.projector_type "qwen2.5vl_merger"), written against the backend seam.
// Math: transformers' Qwen2_5_VisionTransformerPretrainedModel (the fixtures' reference);
// file layout: /work/shared/reference/gguf-qwen25vl.md §B.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "kotaro/engine.h"
#include "kotaro/gguf.h"
#include "model/weight_loader.h"
#include "runtime/backend.h"

namespace kotaro {

struct VisionConfig {
  int64_t n_embd = 0, n_layer = 0, n_head = 0, head_dim = 0, n_ff = 0, projection_dim = 0;
  int patch_size = 14, merge_size = 2, temporal_patch = 2, channels = 3;
  int window_px = 112;      // llama.cpp files do not carry it: transformers' default
  int n_wa_pattern = 0;     // layer il is full attention when (il + 1) % n_wa_pattern == 0
  float eps = 1e-6f;
  float rope_base = 10000.0f;
  float image_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float image_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

  bool full_attention(int64_t layer) const {
    return n_wa_pattern <= 0 || (layer + 1) % n_wa_pattern == 0;
  }
  int64_t patch_dim() const { return int64_t(channels) * temporal_patch * patch_size * patch_size; }
  static VisionConfig from_gguf(const GgufFile& file);
};

class VisionModel {
 public:
  VisionModel(const GgufFile& file, Backend& backend);
  const VisionConfig& config() const { return cfg_; }

  // Bytes the weights will take in `backend` (checks every tensor, uploads nothing).
  static uint64_t weight_bytes(const GgufFile& file, Backend& backend);
  // Bytes of the activations encode() allocates for an image of n_patches 14-px patches.
  static uint64_t activation_bytes(const VisionConfig& cfg, const Backend& backend, int64_t n_patches);

  // pixels: [grid_t*grid_h*grid_w, patch_dim] in the image processor's patch order (host).
  // Returns [n_merged, projection_dim] in raster order of the merged grid (host memory).
  ImageEmbeds encode(const PixelValues& pixels, const std::atomic<bool>* cancel) const;
  // The same from pixel rows already in backend memory (Backend::preprocess_image).
  ImageEmbeds encode(const PixelTensor& pixels, const std::atomic<bool>* cancel) const;

 private:
  VisionModel(const GgufFile& file, Backend& backend, const WeightLoader& w);
  struct Layer {
    Tensor ln1, ln2;
    Weight wq, wk, wv, wo, w_gate, w_up, w_down;
    Tensor bq, bk, bv, bo, b_gate, b_up, b_down;
  };
  VisionConfig cfg_;
  Backend& backend_;
  Weight patch_embd_;  // both temporal slices as one F32 [n_embd, patch_dim] matrix
  std::vector<Layer> layers_;
  Tensor post_ln_;
  Weight mm0_, mm2_;
  Tensor mm0_b_, mm2_b_;
};

}  // namespace kotaro
