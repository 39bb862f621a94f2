// Model::load and the EngineModel: backend choice, weights, vision tower, image
// preprocessing and the memory budget.
#include <algorithm>
#include <cctype>
#include <map>

#include "kotaro/quant.h"
#include "runtime/engine_impl.h"

namespace kotaro {

namespace {

std::unique_ptr<Backend> choose_backend(const ModelOptions& o) {
  switch (o.backend) {
    case BackendKind::Cpu: return make_cpu_backend(o.threads);
    case BackendKind::Cuda:
#if KOTARO_HAS_CUDA
      if (cuda_device_count() > 0) return make_cuda_backend(0, o.memory_budget_bytes);
      fail(ErrorCode::Cuda, "the CUDA backend was requested but no usable GPU was found");
#else
      fail(ErrorCode::Cuda, "the CUDA backend was requested but this build has no CUDA support");
#endif
    case BackendKind::Auto:
#if KOTARO_HAS_CUDA
      if (cuda_device_count() > 0) return make_cuda_backend(0, o.memory_budget_bytes);
#endif
      return make_cpu_backend(o.threads);
  }
  fail(ErrorCode::InvalidArgument, "unknown backend kind");
}

int32_t find_token(const std::vector<std::string>& vocab, const char* text) {
  auto it = std::find(vocab.begin(), vocab.end(), text);
  return it == vocab.end() ? -1 : static_cast<int32_t>(it - vocab.begin());
}

// The type holding most bytes among the text model's matrices, as "Q4_K", "F16", ...
std::string dominant_type(const GgufFile& f) {
  std::map<uint32_t, uint64_t> bytes;
  for (const GgufTensor& t : f.tensors())
    if (t.n_dims >= 2) bytes[t.type_id] += t.bytes;
  if (bytes.empty()) return "";
  auto best = std::max_element(bytes.begin(), bytes.end(), [](auto& a, auto& b) { return a.second < b.second; });
  std::string name = type_traits(best->first).name;
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

std::shared_ptr<Model> Model::load(const ModelOptions& options, const std::function<void(float)>& progress) {
  return std::make_shared<EngineModel>(options, progress);
}

EngineModel::EngineModel(const ModelOptions& options, const std::function<void(float)>& progress) : options_(options) {
  auto report = [&](float f) {
    if (progress) progress(f);
  };
  if (options.model_path.empty()) fail(ErrorCode::InvalidArgument, "no model path given");
  if (options.context_length <= 0) fail(ErrorCode::InvalidArgument, "context_length must be positive");
  if (options.min_pixels <= 0 || options.max_pixels < options.min_pixels)
    fail(ErrorCode::InvalidArgument, "bad image pixel budget [min_pixels, max_pixels]");
  report(0.0f);
  backend_ = choose_backend(options);
  text_file_ = GgufFile::open(options.model_path);
  report(0.05f);
  text_ = std::make_unique<TextModel>(*text_file_, *backend_);
  reserve(0, "the text model's weights");
  report(options.mmproj_path.empty() ? 0.95f : 0.7f);

  const TextConfig& tc = text_->config();
  info_.architecture = tc.architecture;
  info_.name = text_file_->get_string("general.name", "");
  info_.backend = backend_->name();
  info_.weight_type = dominant_type(*text_file_);
  info_.n_vocab = tc.n_vocab;
  info_.n_embd = tc.n_embd;
  info_.n_layer = tc.n_layer;
  info_.n_head = tc.n_head;
  info_.n_head_kv = tc.n_head_kv;
  info_.n_ctx_train = tc.n_ctx_train;
  info_.context_length = tc.n_ctx_train > 0 ? std::min(options.context_length, tc.n_ctx_train) : options.context_length;
  if (tc.architecture == "qwen2vl" && text_file_->has_key("tokenizer.ggml.tokens")) {
    const std::vector<std::string> vocab = text_file_->get_string_array("tokenizer.ggml.tokens");
    info_.image_pad_token = find_token(vocab, "<|image_pad|>");
    info_.vision_start_token = find_token(vocab, "<|vision_start|>");
    info_.vision_end_token = find_token(vocab, "<|vision_end|>");
  }

  image_cfg_.min_pixels = options.min_pixels;
  image_cfg_.max_pixels = options.max_pixels;
  if (!options.mmproj_path.empty()) {
    if (tc.architecture != "qwen2vl")
      fail(ErrorCode::ModelMismatch, "'" + options.model_path + "' is a " + tc.architecture +
                                         " model: a vision projector needs a qwen2vl text model");
    if (info_.image_pad_token < 0)
      fail(ErrorCode::ModelMismatch, "'" + options.model_path + "' has no <|image_pad|> token");
    vision_file_ = GgufFile::open(options.mmproj_path);
    vision_ = std::make_unique<VisionModel>(*vision_file_, *backend_);
    reserve(0, "the vision tower's weights");
    const VisionConfig& vc = vision_->config();
    if (vc.projection_dim != tc.n_embd)
      fail(ErrorCode::ModelMismatch, "'" + options.mmproj_path + "' projects to " + std::to_string(vc.projection_dim) +
                                         " dimensions, the text model has " + std::to_string(tc.n_embd));
    image_cfg_.patch_size = vc.patch_size;
    image_cfg_.merge_size = vc.merge_size;
    image_cfg_.temporal_patch = vc.temporal_patch;
    for (int c = 0; c < 3; ++c) {
      image_cfg_.mean[c] = vc.image_mean[c];
      image_cfg_.std[c] = vc.image_std[c];
    }
    info_.has_vision = true;
    info_.vision_patch_size = vc.patch_size;
    info_.vision_merge_size = vc.merge_size;
  }
  report(1.0f);
}

EngineModel::~EngineModel() = default;

void EngineModel::reserve(uint64_t extra, const char* what) const {
  if (options_.memory_budget_bytes == 0 || backend_->name() != "cpu") return;  // cuda enforces its own
  const BackendUsage u = backend_->usage();
  uint64_t used = 0;
  for (uint64_t b : u.bytes) used += b;
  if (used + extra > options_.memory_budget_bytes)
    fail(ErrorCode::OutOfMemory, std::string(what) + " need " + std::to_string(used + extra) +
                                     " bytes in all, over the memory budget of " +
                                     std::to_string(options_.memory_budget_bytes));
}

MemoryReport EngineModel::memory() const {
  const BackendUsage u = backend_->usage();
  MemoryReport r;
  r.weights = u.bytes[static_cast<int>(MemoryCategory::Weights)];
  r.kv_cache = u.bytes[static_cast<int>(MemoryCategory::KvCache)];
  r.activations = u.bytes[static_cast<int>(MemoryCategory::Activations)];
  r.workspace = u.bytes[static_cast<int>(MemoryCategory::Workspace)];
  r.device_used = u.device_used;
  r.device_total = u.device_total;
  return r;
}

PixelValues EngineModel::preprocess_image(const uint8_t* rgb, int width, int height) const {
  return preprocess_qwen_image(rgb, width, height, image_cfg_);
}

ImageEmbeds EngineModel::encode_image(const PixelValues& pixels, const std::atomic<bool>* cancel) {
  if (!vision_) fail(ErrorCode::ModelMismatch, "encode_image: no vision projector (mmproj) was loaded");
  return vision_->encode(pixels, cancel);
}

std::unique_ptr<Session> EngineModel::new_session() {
  return std::make_unique<EngineSession>(shared_from_this());
}

}  // namespace kotaro
