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
  std::unique_ptr<Session> new_session() override;

  Backend& backend() { return *backend_; }
  const TextModel& text() const { return *text_; }
  // Throws OutOfMemory when `extra` more bytes would exceed the memory budget.
  void reserve(uint64_t extra, const char* what) const;

 private:
  ModelOptions options_;
  // Declared first so that it is destroyed last, after every buffer it owns.
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<GgufFile> text_file_, vision_file_;
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
  const std::vector<float>& last_logits() const override { return last_logits_; }
  std::vector<int32_t> generate(const GenerateOptions& options, const TokenCallback& on_token,
                                const std::atomic<bool>* cancel) override;
  int64_t n_past() const override { return static_cast<int64_t>(tokens_.size()); }
  void rewind(int64_t n) override;
  std::vector<int32_t> position_ids() const override;

 private:
  // Evaluates tokens [first, tokens_.size()) whose positions are already recorded.
  void evaluate(int64_t first, const std::vector<std::pair<int64_t, const ImageEmbeds*>>& image_runs,
                std::vector<float>* all_logits, const std::atomic<bool>* cancel);
  void remember_logits();

  std::shared_ptr<EngineModel> model_;
  KvCache cache_;
  std::vector<int32_t> tokens_;  // every token in the cache
  MropePositions positions_;
  std::vector<float> last_logits_;
  // Logits after earlier prefills/generations, by sequence length, so rewind() to one of
  // those lengths can generate at once.
  std::vector<std::pair<int64_t, std::vector<float>>> saved_logits_;
};

}  // namespace kotaro
