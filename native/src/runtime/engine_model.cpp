// Model::load and the EngineModel: backend choice, the up-front memory check, weights,
// vision tower, image preprocessing.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>

#include "kotaro/quant.h"
#include "runtime/engine_impl.h"

namespace kotaro {

namespace {

std::unique_ptr<Backend> choose_backend(const ModelOptions& o) {
  switch (o.backend) {
    case BackendKind::Cpu: return make_cpu_backend(o.threads, o.memory_budget_bytes);
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
      return make_cpu_backend(o.threads, o.memory_budget_bytes);
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

constexpr int64_t kPrefillBatch = 512;      // EngineSession's tokens per forward pass
constexpr int64_t kSavedLogitsRows = 4;    // EngineSession keeps this many logits rows
// The largest RGB input the workspace estimate stages on the device, in multiples of the
// pixel budget (the app scales images down to its maxImageSide before the engine sees them);
// larger inputs still work when the memory is free, else the allocation says what it needed.
constexpr int64_t kPlannedImageInputFactor = 4;

std::string file_name(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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
  text_cfg_ = TextConfig::from_gguf(*text_file_);
  const TextConfig& tc = text_cfg_;
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
  // Float32 models keep a float32 cache (the reference numerics); others halve it.
  kv_type_ = options.kv_cache_type != KvCacheType::Auto ? options.kv_cache_type
             : info_.weight_type == "F32"             ? KvCacheType::F32
                                                      : KvCacheType::F16;

  image_cfg_.min_pixels = options.min_pixels;
  image_cfg_.max_pixels = options.max_pixels;
  if (!options.mmproj_path.empty()) {
    if (tc.architecture != "qwen2vl")
      fail(ErrorCode::ModelMismatch, "'" + options.model_path + "' is a " + tc.architecture +
                                         " model: a vision projector needs a qwen2vl text model");
    if (info_.image_pad_token < 0)
      fail(ErrorCode::ModelMismatch, "'" + options.model_path + "' has no <|image_pad|> token");
    vision_file_ = GgufFile::open(options.mmproj_path);
    vision_cfg_ = VisionConfig::from_gguf(*vision_file_);
    const VisionConfig& vc = vision_cfg_;
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
  report(0.05f);

  // Everything this model needs, summed before any of it is uploaded: the weights as the
  // backend will hold them, one session's KV cache and the activations at their largest.
  MemoryPlan plan;
  plan.weights = TextModel::weight_bytes(*text_file_, *backend_);
  if (vision_file_) plan.weights += VisionModel::weight_bytes(*vision_file_, *backend_);
  plan.kv_cache = backend_->kv_cache_bytes(session_kv_spec());
  plan.activations = session_activation_bytes();
  backend_->reserve(plan, "loading '" + file_name(options.model_path) + "'" +
                              (vision_file_ ? " + '" + file_name(options.mmproj_path) + "'" : std::string()));
  report(0.1f);

  text_ = std::make_unique<TextModel>(*text_file_, *backend_);
  report(vision_file_ ? 0.7f : 0.95f);
  if (vision_file_) vision_ = std::make_unique<VisionModel>(*vision_file_, *backend_);
  report(1.0f);
}

EngineModel::~EngineModel() = default;

KvCacheSpec EngineModel::session_kv_spec() const {
  KvCacheSpec s;
  s.n_layer = static_cast<int>(text_cfg_.n_layer);
  s.n_kv_head = static_cast<int>(text_cfg_.n_head_kv);
  s.head_dim = static_cast<int>(text_cfg_.head_dim);
  s.max_tokens = info_.context_length;
  s.type = kv_type_;
  return s;
}

uint64_t EngineModel::session_activation_bytes() const {
  const Backend& be = *backend_;
  const int64_t batch = std::min(kPrefillBatch, info_.context_length);
  uint64_t act = TextModel::activation_bytes(text_cfg_, be, batch);
  WorkspaceShapes ws;
  ws.n_head = static_cast<int>(text_cfg_.n_head);
  ws.n_kv_head = static_cast<int>(text_cfg_.n_head_kv);
  ws.head_dim = static_cast<int>(text_cfg_.head_dim);
  ws.max_kv_tokens = info_.context_length;
  ws.max_query_rows = batch;
  ws.n_vocab = text_cfg_.n_vocab;
  ws.max_history = info_.context_length;
  if (info_.has_vision) {
    // The vision tower runs between prefills, never beside one: the larger of the two.
    const int64_t unit = int64_t(vision_cfg_.merge_size) * vision_cfg_.merge_size;
    const int64_t patches = options_.max_pixels / (int64_t(vision_cfg_.patch_size) * vision_cfg_.patch_size) / unit * unit;
    act = std::max(act, VisionModel::activation_bytes(vision_cfg_, be, std::max<int64_t>(patches, unit)));
    ws.image_input_pixels = kPlannedImageInputFactor * options_.max_pixels;
    ws.image_output_pixels = options_.max_pixels;
  }
  return act + be.workspace_bytes(ws) + kSavedLogitsRows * be.tensor_bytes(1, text_cfg_.n_vocab);
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

ImageEmbeds EngineModel::encode_image_rgb(const uint8_t* rgb, int width, int height, const std::atomic<bool>* cancel,
                                          EncodeTimings* timings) {
  if (!vision_) fail(ErrorCode::ModelMismatch, "encode_image: no vision projector (mmproj) was loaded");
  if (cancel && cancel->load()) fail(ErrorCode::Cancelled, "cancelled");
  auto t0 = std::chrono::steady_clock::now();
  const PixelTensor pixels = backend_->preprocess_image(rgb, width, height, image_cfg_);
  if (timings) {
    backend_->synchronize();  // so the preprocessing's own time is not counted as the tower's
    timings->preprocess_ms = ms_since(t0);
  }
  t0 = std::chrono::steady_clock::now();
  ImageEmbeds e = vision_->encode(pixels, cancel);
  if (timings) timings->vision_ms = ms_since(t0);
  return e;
}

std::unique_ptr<Session> EngineModel::new_session() {
  return std::make_unique<EngineSession>(shared_from_this());
}

}  // namespace kotaro
