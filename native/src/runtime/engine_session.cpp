// EngineSession: KV cache, M-RoPE positions, prefill with images, generation, rewind.
#include <algorithm>
#include <string>

#include "runtime/engine_impl.h"
#include "runtime/sampler.h"

namespace kotaro {

namespace {
constexpr int64_t kMaxBatch = 512;  // tokens per forward pass (bounds activation memory)
constexpr size_t kSavedLogits = 4;

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) fail(ErrorCode::Cancelled, "cancelled");
}
}  // namespace

EngineSession::EngineSession(std::shared_ptr<EngineModel> model) : model_(std::move(model)) {
  Backend& be = model_->backend();
  const KvCacheSpec spec = model_->session_kv_spec();
  MemoryPlan plan;
  plan.kv_cache = be.kv_cache_bytes(spec);
  plan.activations = model_->session_activation_bytes();
  be.reserve(plan, "a new session");
  cache_ = be.create_kv_cache(spec);
}

const std::vector<float>& EngineSession::last_logits() const {
  if (!last_host_valid_) {
    last_host_.clear();
    if (!last_row_.empty()) {
      last_host_.resize(static_cast<size_t>(last_row_.cols));
      model_->backend().download(last_row_, last_host_.data());
    }
    last_host_valid_ = true;
  }
  return last_host_;
}

void EngineSession::set_last_row(Tensor row) {
  last_row_ = std::move(row);
  last_host_valid_ = false;
}

void EngineSession::roll_back(int64_t n, const MropePositions& positions) {
  tokens_.resize(static_cast<size_t>(n));
  positions_ = positions;
  model_->backend().kv_truncate(*cache_, n);
}

void EngineSession::prefill(const std::vector<int32_t>& tokens, const std::vector<const ImageEmbeds*>& images,
                            std::vector<float>* all_logits, const std::atomic<bool>* cancel) {
  const ModelInfo& info = model_->info();
  if (tokens.empty()) {
    if (!images.empty()) fail(ErrorCode::InvalidArgument, "prefill: images given without tokens");
    if (all_logits) all_logits->clear();
    return;
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n_past() + n > cache_->capacity())
    fail(ErrorCode::InvalidArgument, "prefill: " + std::to_string(n_past() + n) + " tokens exceed the context length " +
                                         std::to_string(cache_->capacity()));
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= info.n_vocab)
      fail(ErrorCode::InvalidArgument, "prefill: token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                           " is outside the vocabulary [0, " + std::to_string(info.n_vocab) + ")");
  check_cancel(cancel);

  // Each maximal run of image_pad tokens takes the next image.
  const int64_t first = n_past();
  std::vector<std::pair<int64_t, const ImageEmbeds*>> runs;  // (start index in tokens, image)
  MropePositions positions = positions_;
  size_t next_image = 0;
  int64_t text_run = 0;
  for (int64_t i = 0; i < n;) {
    if (info.image_pad_token < 0 || tokens[i] != info.image_pad_token) {
      ++text_run;
      ++i;
      continue;
    }
    positions.append_text(text_run);
    text_run = 0;
    int64_t end = i;
    while (end < n && tokens[end] == info.image_pad_token) ++end;
    const int64_t len = end - i;
    if (next_image >= images.size() || !images[next_image])
      fail(ErrorCode::InvalidArgument, "prefill: the image_pad run at token " + std::to_string(i) + " has no image (" +
                                           std::to_string(images.size()) + " given)");
    const ImageEmbeds* img = images[next_image++];
    const int merge = info.vision_merge_size;
    if (img->grid_t <= 0 || img->grid_h <= 0 || img->grid_w <= 0 || img->grid_h % merge || img->grid_w % merge)
      fail(ErrorCode::InvalidArgument, "prefill: image " + std::to_string(next_image - 1) + " has a bad grid");
    const int64_t lh = img->grid_h / merge, lw = img->grid_w / merge;
    if (img->n_tokens != len || int64_t(img->grid_t) * lh * lw != len || img->n_embd != info.n_embd ||
        static_cast<int64_t>(img->data.size()) != len * info.n_embd)
      fail(ErrorCode::InvalidArgument, "prefill: image " + std::to_string(next_image - 1) + " has " +
                                           std::to_string(img->n_tokens) + " embeddings of " + std::to_string(img->n_embd) +
                                           " but its image_pad run at token " + std::to_string(i) + " holds " +
                                           std::to_string(len) + " tokens of " + std::to_string(info.n_embd));
    positions.append_image(img->grid_t, lh, lw);
    runs.emplace_back(i, img);
    i = end;
  }
  positions.append_text(text_run);
  if (next_image != images.size())
    fail(ErrorCode::InvalidArgument, "prefill: " + std::to_string(images.size()) + " images given, " +
                                         std::to_string(next_image) + " image_pad runs in the tokens");

  // Commit, evaluate, and roll back on any failure (cancel included).
  const MropePositions old_positions = positions_;
  positions_ = positions;
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  const Tensor old_last = last_row_;
  try {
    evaluate(first, runs, all_logits, cancel);
  } catch (...) {
    roll_back(first, old_positions);
    set_last_row(old_last);
    throw;
  }
  remember_logits();
}

void EngineSession::evaluate(int64_t first, const std::vector<std::pair<int64_t, const ImageEmbeds*>>& image_runs,
                             std::vector<float>* all_logits, const std::atomic<bool>* cancel) {
  Backend& be = model_->backend();
  const TextModel& text = model_->text();
  const int64_t n = n_past() - first, d = text.config().n_embd, vocab = text.config().n_vocab;
  if (all_logits) all_logits->assign(static_cast<size_t>(n * vocab), 0.0f);
  for (int64_t c0 = 0; c0 < n; c0 += kMaxBatch) {
    const int64_t len = std::min(kMaxBatch, n - c0);
    std::vector<int32_t> ids(tokens_.begin() + first + c0, tokens_.begin() + first + c0 + len);
    Tensor x = text.embed(ids);
    // Image rows replace the image_pad embeddings.
    for (const auto& run : image_runs) {
      const int64_t r0 = std::max(run.first, c0), r1 = std::min(run.first + run.second->n_tokens, c0 + len);
      if (r0 >= r1) continue;
      Tensor rows = be.alloc(DType::F32, r1 - r0, d, MemoryCategory::Activations);
      be.upload(run.second->data.data() + (r0 - run.first) * d, rows);
      be.copy_rows(rows, x, r0 - c0);
    }
    const std::vector<int32_t> pos_host = positions_.rows(first + c0, len);
    Tensor pos = be.alloc(DType::I32, 3, len, MemoryCategory::Activations);
    be.upload(pos_host.data(), pos);
    Tensor logits = text.forward(x, pos, *cache_, first + c0, all_logits != nullptr, cancel);
    if (all_logits) {
      be.download(logits, all_logits->data() + c0 * vocab);
      // The last row is kept apart so the batch's [len, vocab] block can be freed.
      Tensor row = be.alloc(DType::F32, 1, vocab, MemoryCategory::Activations);
      be.copy_rows(logits.row_slice(len - 1, 1), row, 0);
      set_last_row(row);
      last_host_.assign(all_logits->begin() + (c0 + len - 1) * vocab, all_logits->begin() + (c0 + len) * vocab);
      last_host_valid_ = true;
    } else {
      set_last_row(logits);  // [1, vocab]: stays in backend memory until asked for
    }
  }
}

void EngineSession::remember_logits() {
  saved_logits_.erase(std::remove_if(saved_logits_.begin(), saved_logits_.end(),
                                     [&](const auto& s) { return s.first == n_past(); }),
                      saved_logits_.end());
  saved_logits_.emplace_back(n_past(), last_row_);
  if (saved_logits_.size() > kSavedLogits) saved_logits_.erase(saved_logits_.begin());
}

std::vector<int32_t> EngineSession::generate(const GenerateOptions& options, const TokenCallback& on_token,
                                             const std::atomic<bool>* cancel) {
  if (last_row_.empty()) fail(ErrorCode::InvalidArgument, "generate: no logits to sample from (prefill first)");
  if (options.max_new_tokens < 0) fail(ErrorCode::InvalidArgument, "generate: max_new_tokens must be >= 0");
  Backend& be = model_->backend();
  Sampler sampler(options.sampling);
  std::vector<int32_t> history = tokens_;
  std::vector<int32_t> out;
  for (int i = 0; i < options.max_new_tokens; ++i) {
    check_cancel(cancel);
    // On the GPU only the token id comes back; the logits stay there unless the callback
    // asks for them through last_logits().
    const int32_t tok = be.sample(last_row_, sampler, history);
    out.push_back(tok);
    history.push_back(tok);
    const bool stop = std::find(options.stop_tokens.begin(), options.stop_tokens.end(), tok) != options.stop_tokens.end();
    const bool go_on = on_token ? on_token(tok) : true;
    if (stop || !go_on || i + 1 == options.max_new_tokens) break;
    if (n_past() + 1 > cache_->capacity()) break;  // context full: the caller sees fewer tokens
    // Evaluate the token so the next one can be sampled.
    const int64_t first = n_past();
    const MropePositions old_positions = positions_;
    const Tensor old_last = last_row_;
    positions_.append_text(1);
    tokens_.push_back(tok);
    try {
      evaluate(first, {}, nullptr, cancel);
    } catch (...) {
      roll_back(first, old_positions);
      set_last_row(old_last);
      throw;
    }
  }
  remember_logits();
  return out;
}

void EngineSession::rewind(int64_t n) {
  if (n < 0 || n > n_past())
    fail(ErrorCode::InvalidArgument, "rewind: " + std::to_string(n) + " is outside [0, " + std::to_string(n_past()) + "]");
  if (n == n_past()) return;
  MropePositions positions = positions_;
  positions.truncate(n);
  roll_back(n, positions);  // the paged cache returns the blocks past n
  saved_logits_.erase(std::remove_if(saved_logits_.begin(), saved_logits_.end(),
                                     [&](const auto& s) { return s.first > n; }),
                      saved_logits_.end());
  set_last_row(Tensor());
  for (const auto& s : saved_logits_)
    if (s.first == n) set_last_row(s.second);
}

std::vector<int32_t> EngineSession::position_ids() const { return positions_.rows(0, n_past()); }

}  // namespace kotaro
