// The Qwen2 / Qwen2.5-VL language model (GGUF architectures `qwen2` and `qwen2vl`), written
// against the backend seam. Layer math: /work/shared/reference/gguf-qwen25vl.md §A.4.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "kotaro/gguf.h"
#include "model/weight_loader.h"
#include "runtime/backend.h"

namespace kotaro {

struct TextConfig {
  std::string architecture;  // "qwen2" | "qwen2vl"
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0;
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-6f;
  float rope_base = 10000.0f;
  int rope_sections[3] = {0, 0, 0};  // M-RoPE (t, h, w) pairs; qwen2: {head_dim/2, 0, 0}
  bool tied_output = false;          // no output.weight: token_embd is reused

  static TextConfig from_gguf(const GgufFile& file);
};

class TextModel {
 public:
  TextModel(const GgufFile& file, Backend& backend);
  const TextConfig& config() const { return cfg_; }

  // Bytes the weights will take in `backend` (checks every tensor, uploads nothing).
  static uint64_t weight_bytes(const GgufFile& file, Backend& backend);
  // Bytes of the activations one forward pass of `batch` tokens allocates (last-row logits).
  static uint64_t activation_bytes(const TextConfig& cfg, const Backend& backend, int64_t batch);
  // The KV cache this model needs for `max_tokens` tokens of `type` (F32 or F16).
  KvCacheSpec kv_spec(int64_t max_tokens, KvCacheType type) const;

  // token ids (host) -> embeddings [n, n_embd] in backend memory.
  Tensor embed(const std::vector<int32_t>& tokens) const;
  // Runs the layers over x [n, n_embd] (overwritten) with M-RoPE positions pos (I32 [3, n]),
  // storing their keys/values in `cache` at rows n_past..n_past+n-1 (cache.rows() must be
  // n_past). Returns logits [n, n_vocab] when all_logits, else [1, n_vocab] for the last row
  // only. Checks `cancel` between layers (throws Cancelled).
  Tensor forward(const Tensor& x, const Tensor& pos, KvCache& cache, int64_t n_past, bool all_logits,
                 const std::atomic<bool>* cancel) const;

 private:
  TextModel(const GgufFile& file, Backend& backend, const WeightLoader& w);
  struct Layer {
    Tensor attn_norm, ffn_norm;
    Weight wq, wk, wv, wo, w_gate, w_up, w_down;
    Tensor bq, bk, bv;
  };
  TextConfig cfg_;
  Backend& backend_;
  Weight token_embd_, output_;
  Tensor output_norm_;
  std::vector<Layer> layers_;
};

}  // namespace kotaro
