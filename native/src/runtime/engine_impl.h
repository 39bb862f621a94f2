// The implementation behind kotaro::Model / kotaro::Session (kotaro/engine.h): a loaded
// text model (+ optional vision tower) on one backend, and sessions holding a KV cache.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "image/qwen_image_processor.h"
#include "kotaro/engine.h"
#include "kotaro/gguf.h"
#include "model/mrope_positions.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "runtime/backend.h"

namespace kotaro {

class EngineModel final : public Model, public std::enable_shared_from_this<EngineModel> {
 public:
  EngineModel(const ModelOptions& options, const std::function<void(float)>& progress);
  ~EngineModel() override;

  const ModelInfo& info() const override { return info_; }
  MemoryReport memory() const override;
  PixelValues preprocess_image(const uint8_t* rgb, int width, int height) const override;
  ImageEmbeds encode_image(const PixelValues& pixels, const std::atomic<bool>* cancel) override;
  ImageEmbeds encode_image_rgb(const uint8_t* rgb, int width, int height, const std::atomic<bool>* cancel,
                               EncodeTimings* timings) override;
  std::unique_ptr<Session> new_session() override;

  Backend& backend() { return *backend_; }
  const TextModel& text() const { return *text_; }
  // The KV cache of one session (context_length tokens of the resolved type).
  KvCacheSpec session_kv_spec() const;
  // Activations + backend workspace one session's work needs at its largest (a prefill
  // batch, or the vision tower on the largest image the pixel budget allows).
  uint64_t session_activation_bytes() const;

 private:
  ModelOptions options_;
  KvCacheType kv_type_ = KvCacheType::F32;  // resolved from options_.kv_cache_type
  // Declared first so that it is destroyed last, after every buffer it owns.
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<GgufFile> text_file_, vision_file_;
  TextConfig text_cfg_;
  VisionConfig vision_cfg_;  // meaningful when info_.has_vision
  std::unique_ptr<TextModel> text_;
  std::unique_ptr<VisionModel> vision_;
  ImageProcessorConfig image_cfg_;
  ModelInfo info_;
};

class EngineSession final : public Session {
 public:
  explicit EngineSession(std::shared_ptr<EngineModel> model);

  void prefill(const std::vector<int32_t>& tokens, const std::vector<const ImageEmbeds*>& images,
               std::vector<float>* all_logits, const std::atomic<bool>* cancel) override;
  const std::vector<float>& last_logits() const override;
  std::vector<int32_t> generate(const GenerateOptions& options, const TokenCallback& on_token,
                                const std::atomic<bool>* cancel) override;
  int64_t n_past() const override { return static_cast<int64_t>(tokens_.size()); }
  void rewind(int64_t n) override;
  std::vector<int32_t> position_ids() const override;

 private:
  // Evaluates tokens [first, tokens_.size()) whose positions are already recorded; keeps the
  // last row's logits in backend memory (last_row_), all rows in *all_logits when given.
  void evaluate(int64_t first, const std::vector<std::pair<int64_t, const ImageEmbeds*>>& image_runs,
                std::vector<float>* all_logits, const std::atomic<bool>* cancel);
  // Forgets tokens from n on (positions, KV rows), after a failed evaluation or a rewind.
  void roll_back(int64_t n, const MropePositions& positions);
  void remember_logits();
  void set_last_row(Tensor row);

  std::shared_ptr<EngineModel> model_;
  std::unique_ptr<KvCache> cache_;
  std::vector<int32_t> tokens_;  // every token in the cache
  MropePositions positions_;
  // Logits after the last token, [1, n_vocab] in backend memory (empty when there are none);
  // copied to the host only when last_logits() is asked for.
  Tensor last_row_;
  mutable std::vector<float> last_host_;
  mutable bool last_host_valid_ = false;
  // Logits rows after earlier prefills/generations, by sequence length, so rewind() to one
  // of those lengths can generate at once.
  std::vector<std::pair<int64_t, Tensor>> saved_logits_;
};

}  // namespace kotaro
