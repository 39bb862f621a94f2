// Kotaro-Engine public API: what the addon (native/addon) and the C++ tools
// (native/tools) use. Everything else under src/ is private to the engine.
//
// Contract notes (keep in step with native/addon and gpu-worker/engine-binding.ts):
//  - Errors are thrown as kotaro::Error (kotaro/error.h) with a code.
//  - All calls on one Model/Session come from one thread at a time (the addon serialises
//    them on an engine thread); a `cancel` flag may be set from any thread.
//  - Token ids are int32; images are RGB8, row-major, tightly packed.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kotaro/error.h"

namespace kotaro {

enum class BackendKind { Auto, Cpu, Cuda };
const char* backend_name(BackendKind kind);  // "auto" | "cpu" | "cuda"

// Element type of the KV cache. Auto: float32 for float32 models (the reference numerics),
// float16 otherwise (half the memory; its rounding is far below a quantised weight's). The
// CPU backend always stores float32.
enum class KvCacheType { Auto, F32, F16 };

struct GpuInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  uint64_t total_bytes = 0, free_bytes = 0;
  int sm_count = 0;
};

struct BuildInfo {
  std::string version;        // engine version, e.g. "0.1.0"
  bool cuda_compiled = false; // CUDA backend compiled in
  std::string cuda_archs;     // e.g. "89-real;90-real"
  int cuda_runtime_version = 0;
  int cuda_driver_version = 0;  // 0 when no driver is present
  std::vector<GpuInfo> gpus;    // empty without a usable GPU
};
BuildInfo build_info();

struct ModelOptions {
  std::string model_path;         // text GGUF: architecture qwen2 or qwen2vl
  std::string mmproj_path;        // optional vision GGUF: clip, projector qwen2.5vl_merger
  BackendKind backend = BackendKind::Auto;
  int threads = 0;                // CPU backend threads; 0 = hardware concurrency
  int64_t context_length = 4096;  // tokens the KV cache holds (clamped to the model's)
  uint64_t memory_budget_bytes = 0;  // device bytes the engine may use; 0 = what is free
                                     // (CPU backend: host bytes; 0 = no limit). Model::load
                                     // refuses, before uploading anything, a model whose
                                     // weights + one session's KV cache + activations do not
                                     // fit (OutOfMemory naming each part and what is free).
  KvCacheType kv_cache_type = KvCacheType::Auto;
  // Image pixel budget for encode_image (transformers' min_pixels/max_pixels).
  int64_t min_pixels = 56 * 56;
  int64_t max_pixels = 28 * 28 * 1280;
};

struct ModelInfo {
  std::string architecture;   // "qwen2" | "qwen2vl"
  std::string name;           // general.name
  std::string backend;        // backend actually used: "cpu" | "cuda"
  std::string weight_type;    // dominant tensor type, e.g. "Q4_K"
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0;
  int64_t n_ctx_train = 0, context_length = 0;
  bool has_vision = false;
  int32_t image_pad_token = -1, vision_start_token = -1, vision_end_token = -1;
  int vision_patch_size = 14, vision_merge_size = 2;
};

// Device/host memory the engine holds, by category (bytes).
struct MemoryReport {
  uint64_t weights = 0, kv_cache = 0, activations = 0, workspace = 0;
  uint64_t device_used = 0, device_total = 0;  // whole device (0 on the CPU backend)
};

// A preprocessed image (what the vision tower consumes), in transformers' patch order.
struct PixelValues {
  int grid_t = 1, grid_h = 0, grid_w = 0;   // in 14-px patches
  std::vector<float> data;                  // [grid_t*grid_h*grid_w, 3*2*14*14]
};

// The vision tower's output for one image: one row per merged 28x28 patch.
struct ImageEmbeds {
  int grid_t = 1, grid_h = 0, grid_w = 0;   // in 14-px patches (before merging)
  int64_t n_tokens = 0, n_embd = 0;
  std::vector<float> data;                  // [n_tokens, n_embd], host memory
};

struct SamplingParams {
  float temperature = 0.0f;        // <= 0: greedy
  int top_k = 0;                   // 0 = off
  float top_p = 1.0f;              // 1 = off
  float min_p = 0.0f;              // 0 = off
  float repetition_penalty = 1.0f; // transformers' semantics over prompt + generated tokens
  uint64_t seed = 0;
};

struct GenerateOptions {
  SamplingParams sampling;
  int max_new_tokens = 256;
  std::vector<int32_t> stop_tokens;
};

// Called for each generated token; return false to stop.
using TokenCallback = std::function<bool(int32_t token)>;

class Session;

class Model {
 public:
  virtual ~Model() = default;
  static std::shared_ptr<Model> load(const ModelOptions& options,
                                     const std::function<void(float)>& progress = nullptr);
  virtual const ModelInfo& info() const = 0;
  virtual MemoryReport memory() const = 0;

  // RGB8 → pixel values (smart resize within the pixel budget, bicubic, normalise, patch order).
  virtual PixelValues preprocess_image(const uint8_t* rgb, int width, int height) const = 0;
  // Vision tower + merger. Throws ModelMismatch without an mmproj.
  virtual ImageEmbeds encode_image(const PixelValues& pixels, const std::atomic<bool>* cancel = nullptr) = 0;
  // RGB8 → embeddings in one call: the image is uploaded once and preprocessed by the
  // backend (on the GPU with the CUDA backend; the same values as preprocess_image), then
  // encoded. `timings`, when given, receives the two stages' wall times.
  struct EncodeTimings {
    double preprocess_ms = 0, vision_ms = 0;
  };
  virtual ImageEmbeds encode_image_rgb(const uint8_t* rgb, int width, int height,
                                       const std::atomic<bool>* cancel = nullptr,
                                       EncodeTimings* timings = nullptr) = 0;

  virtual std::unique_ptr<Session> new_session() = 0;
};

class Session {
 public:
  virtual ~Session() = default;
  // Appends tokens to the sequence. Each maximal run of image_pad tokens takes the next
  // image of `images` (its n_tokens must equal the run's length). Positions are M-RoPE
  // positions as transformers computes them (plain positions for qwen2).
  // When all_logits is given it receives [tokens.size(), n_vocab].
  virtual void prefill(const std::vector<int32_t>& tokens,
                       const std::vector<const ImageEmbeds*>& images,
                       std::vector<float>* all_logits = nullptr,
                       const std::atomic<bool>* cancel = nullptr) = 0;
  // Logits after the last token ([n_vocab]). They stay in backend memory until asked for:
  // calling this copies them to the host (once per evaluation).
  virtual const std::vector<float>& last_logits() const = 0;
  // Samples, appends and evaluates up to max_new_tokens tokens; stops at a stop token
  // (which is reported and not evaluated), when the callback returns false, or on cancel
  // (throws Cancelled). Returns the generated tokens.
  // Details (CPU reference semantics, kept by every backend):
  //  - the callback sees each token right after it is sampled; last_logits() then holds the
  //    logits that chose it;
  //  - the last returned token is not evaluated when generation ends by max_new_tokens or
  //    the callback (nor is a stop token): n_past() counts the evaluated ones only;
  //  - generation also ends, without error, when the context is full;
  //  - a cancelled evaluation is rolled back: the session keeps every token evaluated before;
  //  - greedy (temperature <= 0) still applies the repetition penalty, as transformers does.
  virtual std::vector<int32_t> generate(const GenerateOptions& options, const TokenCallback& on_token,
                                        const std::atomic<bool>* cancel = nullptr) = 0;
  // Tokens in the KV cache; rewind(n) forgets everything after the first n (used to branch
  // two answers from one shared image prefix). When n is where an earlier prefill or
  // generate() ended, last_logits() is restored to the logits there (so generate() may
  // follow at once); otherwise last_logits() is empty until the next prefill.
  // A prefill that fails (bad input, Cancelled, ...) leaves the session as it was.
  virtual int64_t n_past() const = 0;
  virtual void rewind(int64_t n) = 0;
  // M-RoPE positions of every token so far: [3][n_past] (section t, h, w).
  virtual std::vector<int32_t> position_ids() const = 0;
};

}  // namespace kotaro
