#include "model/vision_model.h"

#include <cmath>

#include "model/vision_layout.h"
#include "model/weight_loader.h"

namespace kotaro {

namespace {

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) fail(ErrorCode::Cancelled, "cancelled");
}

}  // namespace

VisionConfig VisionConfig::from_gguf(const GgufFile& f) {
  VisionConfig c;
  const std::string arch = f.get_string("general.architecture");
  if (arch != "clip")
    fail(ErrorCode::ModelMismatch, "'" + f.path() + "': not an mmproj file (architecture '" + arch + "', expected clip)");
  const std::string proj = f.get_string("clip.projector_type", "");
  if (proj != "qwen2.5vl_merger")
    fail(ErrorCode::GgufUnsupported, "'" + f.path() + "': projector '" + proj + "' is not supported (qwen2.5vl_merger)");
  if (!f.get_bool("clip.has_vision_encoder", true))
    fail(ErrorCode::ModelMismatch, "'" + f.path() + "': the mmproj has no vision encoder");
  auto positive = [&](const std::string& key) -> int64_t {
    const uint32_t v = f.get_u32(key);
    if (v == 0) fail(ErrorCode::ModelMismatch, "'" + f.path() + "': metadata key '" + key + "' is 0");
    return v;
  };
  c.n_embd = positive("clip.vision.embedding_length");
  c.n_layer = positive("clip.vision.block_count");
  c.n_head = positive("clip.vision.attention.head_count");
  c.n_ff = positive("clip.vision.feed_forward_length");
  c.projection_dim = positive("clip.vision.projection_dim");
  c.patch_size = static_cast<int>(positive("clip.vision.patch_size"));
  c.merge_size = static_cast<int>(f.get_u32("clip.vision.spatial_merge_size", 2));
  c.window_px = static_cast<int>(f.get_u32("clip.vision.window_size", 112));
  c.n_wa_pattern = static_cast<int>(f.get_u32("clip.vision.n_wa_pattern"));
  c.eps = f.get_f32("clip.vision.attention.layer_norm_epsilon", 1e-6f);
  if (c.n_embd % c.n_head != 0 || (c.n_embd / c.n_head) % 4 != 0)
    fail(ErrorCode::ModelMismatch, "'" + f.path() + "': vision head size must be a multiple of 4");
  if (c.merge_size != 2) fail(ErrorCode::ModelMismatch, "'" + f.path() + "': spatial merge size must be 2");
  c.head_dim = c.n_embd / c.n_head;
  for (const char* key : {"clip.vision.image_mean", "clip.vision.image_std"}) {
    if (!f.has_key(key)) continue;
    const std::vector<float> v = f.get_float_array(key);
    if (v.size() != 3) fail(ErrorCode::ModelMismatch, "'" + f.path() + "': " + key + " must hold 3 values");
    float* dst = std::string(key).find("mean") != std::string::npos ? c.image_mean : c.image_std;
    for (int i = 0; i < 3; ++i) dst[i] = v[i];
  }
  for (float s : c.image_std)
    if (!(s > 0)) fail(ErrorCode::ModelMismatch, "'" + f.path() + "': image_std must be positive");
  return c;
}

VisionModel::VisionModel(const GgufFile& file, Backend& backend)
    : VisionModel(file, backend, WeightLoader(file, backend)) {}

uint64_t VisionModel::weight_bytes(const GgufFile& file, Backend& backend) {
  uint64_t bytes = 0;
  VisionModel plan(file, backend, WeightLoader(file, backend, &bytes));
  return bytes;
}

VisionModel::VisionModel(const GgufFile& file, Backend& backend, const WeightLoader& w)
    : cfg_(VisionConfig::from_gguf(file)), backend_(backend) {
  const int64_t d = cfg_.n_embd, ff = cfg_.n_ff, P = cfg_.patch_size, C = cfg_.channels;
  const int64_t unit = int64_t(cfg_.merge_size) * cfg_.merge_size;

  // Conv3d(kernel = stride = [2, P, P]) on one patch row is a matmul with the kernel
  // flattened as the processor flattens a patch: index c*2*P*P + t*P*P + py*P + px. The file
  // holds the two temporal slices separately, each [d][C][P][P].
  if (!w.has("v.patch_embd.weight.1"))
    fail(ErrorCode::ModelMismatch, "'" + file.path() + "': tensor 'v.patch_embd.weight.1' (second temporal slice) is missing");
  if (w.has("v.patch_embd.bias"))
    fail(ErrorCode::ModelMismatch, "'" + file.path() + "': unexpected 'v.patch_embd.bias' for Qwen2.5-VL");
  w.check("v.patch_embd.weight", {P, P, C, d});
  w.check("v.patch_embd.weight.1", {P, P, C, d});
  const int64_t pd = cfg_.patch_dim(), pp = P * P;
  patch_embd_ = w.f32_matrix("v.patch_embd.weight", pd, d, [&] {
    const std::vector<float> s0 = w.host_floats("v.patch_embd.weight", {P, P, C, d});
    const std::vector<float> s1 = w.host_floats("v.patch_embd.weight.1", {P, P, C, d});
    std::vector<float> kernel(static_cast<size_t>(d * pd));
    for (int64_t o = 0; o < d; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < pp; ++i) {
          kernel[o * pd + c * 2 * pp + i] = s0[(o * C + c) * pp + i];
          kernel[o * pd + c * 2 * pp + pp + i] = s1[(o * C + c) * pp + i];
        }
    return kernel;
  });

  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    const std::string p = "v.blk." + std::to_string(l) + ".";
    Layer L;
    L.ln1 = w.vector(p + "ln1.weight", d);
    L.ln2 = w.vector(p + "ln2.weight", d);
    L.wq = w.matrix(p + "attn_q.weight", d, d);
    L.wk = w.matrix(p + "attn_k.weight", d, d);
    L.wv = w.matrix(p + "attn_v.weight", d, d);
    L.wo = w.matrix(p + "attn_out.weight", d, d);
    L.bq = w.vector(p + "attn_q.bias", d);
    L.bk = w.vector(p + "attn_k.bias", d);
    L.bv = w.vector(p + "attn_v.bias", d);
    L.bo = w.vector(p + "attn_out.bias", d);
    L.w_gate = w.matrix(p + "ffn_gate.weight", d, ff);
    L.w_up = w.matrix(p + "ffn_up.weight", d, ff);
    L.w_down = w.matrix(p + "ffn_down.weight", ff, d);
    L.b_gate = w.vector(p + "ffn_gate.bias", ff);
    L.b_up = w.vector(p + "ffn_up.bias", ff);
    L.b_down = w.vector(p + "ffn_down.bias", d);
    layers_.push_back(std::move(L));
  }
  post_ln_ = w.vector("v.post_ln.weight", d);
  mm0_ = w.matrix("mm.0.weight", d * unit, d * unit);
  mm0_b_ = w.vector("mm.0.bias", d * unit);
  mm2_ = w.matrix("mm.2.weight", d * unit, cfg_.projection_dim);
  mm2_b_ = w.vector("mm.2.bias", cfg_.projection_dim);
}

uint64_t VisionModel::activation_bytes(const VisionConfig& c, const Backend& b, int64_t n) {
  // As encode() allocates them: pixels [n, pd]; embedded, x, h, q, k, v, attn, o [n, d];
  // gate, up [n, ff]; window/reverse indices and positions; the merger's mid [n/4, 4d],
  // out and raster [n/4, proj]; the segment bounds (at most one per merged window).
  const int64_t d = c.n_embd, m = n / (int64_t(c.merge_size) * c.merge_size);
  return b.tensor_bytes(n, c.patch_dim()) + 8 * b.tensor_bytes(n, d) + 2 * b.tensor_bytes(n, c.n_ff) +
         2 * b.tensor_bytes(1, m) + b.tensor_bytes(2, n) + b.tensor_bytes(m, 4 * d) +
         2 * b.tensor_bytes(m, c.projection_dim) + b.tensor_bytes(1, m + 2);
}

ImageEmbeds VisionModel::encode(const PixelValues& pixels, const std::atomic<bool>* cancel) const {
  // Validates the grid before anything is allocated.
  const VisionLayout lay = make_vision_layout(pixels.grid_t, pixels.grid_h, pixels.grid_w, cfg_.merge_size,
                                              cfg_.patch_size, cfg_.window_px);
  const int64_t n = lay.n_patches, pd = cfg_.patch_dim();
  if (static_cast<int64_t>(pixels.data.size()) != n * pd)
    fail(ErrorCode::InvalidArgument, "pixel values hold " + std::to_string(pixels.data.size()) + " floats, expected " +
                                         std::to_string(n) + " patches x " + std::to_string(pd));
  PixelTensor t;
  t.grid_t = pixels.grid_t;
  t.grid_h = pixels.grid_h;
  t.grid_w = pixels.grid_w;
  t.pixels = backend_.alloc(DType::F32, n, pd, MemoryCategory::Activations);
  backend_.upload(pixels.data.data(), t.pixels);
  return encode(t, cancel);
}

ImageEmbeds VisionModel::encode(const PixelTensor& pixels, const std::atomic<bool>* cancel) const {
  const VisionLayout lay = make_vision_layout(pixels.grid_t, pixels.grid_h, pixels.grid_w, cfg_.merge_size,
                                              cfg_.patch_size, cfg_.window_px);
  const int64_t n = lay.n_patches, d = cfg_.n_embd, ff = cfg_.n_ff, pd = cfg_.patch_dim();
  const int64_t unit = int64_t(cfg_.merge_size) * cfg_.merge_size, m = lay.n_merged;
  check_shape("vision pixels", pixels.pixels, n, pd, DType::F32);
  auto act = [&](DType t, int64_t rows, int64_t cols) { return backend_.alloc(t, rows, cols, MemoryCategory::Activations); };

  const Tensor& pix = pixels.pixels;
  Tensor embedded = act(DType::F32, n, d);
  backend_.matmul(pix, patch_embd_, nullptr, embedded);

  // Into window order, merge group by merge group.
  Tensor widx = act(DType::I32, 1, m), ridx = act(DType::I32, 1, m), pos = act(DType::I32, 2, n);
  backend_.upload(lay.window_index.data(), widx);
  backend_.upload(lay.reverse_index.data(), ridx);
  backend_.upload(lay.positions.data(), pos);
  Tensor x = act(DType::F32, n, d);
  backend_.gather_rows(embedded.view(m, unit * d), widx, x.view(m, unit * d));

  RopeSpec rope;
  rope.kind = RopeKind::Vision;
  rope.n_heads = static_cast<int>(cfg_.n_head);
  rope.head_dim = static_cast<int>(cfg_.head_dim);
  rope.freq_base = cfg_.rope_base;
  AttentionSpec as;
  as.n_head = as.n_kv_head = static_cast<int>(cfg_.n_head);
  as.head_dim = static_cast<int>(cfg_.head_dim);
  as.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(cfg_.head_dim)));

  Tensor h = act(DType::F32, n, d), q = act(DType::F32, n, d), k = act(DType::F32, n, d), v = act(DType::F32, n, d);
  Tensor attn = act(DType::F32, n, d), o = act(DType::F32, n, d);
  Tensor gate = act(DType::F32, n, ff), up = act(DType::F32, n, ff);
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    check_cancel(cancel);
    const Layer& L = layers_[l];
    backend_.rmsnorm(x, L.ln1, cfg_.eps, h);
    backend_.matmul(h, L.wq, &L.bq, q);
    backend_.matmul(h, L.wk, &L.bk, k);
    backend_.matmul(h, L.wv, &L.bv, v);
    backend_.rope(q, pos, rope);
    backend_.rope(k, pos, rope);
    backend_.attention_segments(q, k, v, cfg_.full_attention(l) ? lay.frame_bounds : lay.window_bounds, attn, as);
    backend_.matmul(attn, L.wo, &L.bo, o);
    backend_.add(x, o, x);
    backend_.rmsnorm(x, L.ln2, cfg_.eps, h);
    backend_.matmul(h, L.w_gate, &L.b_gate, gate);
    backend_.matmul(h, L.w_up, &L.b_up, up);
    backend_.swiglu(gate, up, gate);
    backend_.matmul(gate, L.w_down, &L.b_down, o);
    backend_.add(x, o, x);
  }
  check_cancel(cancel);

  // Merger: RMSNorm per patch, 2x2 groups concatenated, MLP with exact GELU.
  backend_.rmsnorm(x, post_ln_, cfg_.eps, h);
  Tensor grouped = h.view(m, unit * d);
  Tensor mid = act(DType::F32, m, unit * d), out = act(DType::F32, m, cfg_.projection_dim);
  backend_.matmul(grouped, mm0_, &mm0_b_, mid);
  backend_.gelu(mid, mid);
  backend_.matmul(mid, mm2_, &mm2_b_, out);
  Tensor raster = act(DType::F32, m, cfg_.projection_dim);
  backend_.gather_rows(out, ridx, raster);

  ImageEmbeds e;
  e.grid_t = pixels.grid_t;
  e.grid_h = pixels.grid_h;
  e.grid_w = pixels.grid_w;
  e.n_tokens = m;
  e.n_embd = cfg_.projection_dim;
  e.data.resize(static_cast<size_t>(m * cfg_.projection_dim));
  backend_.download(raster, e.data.data());
  return e;
}

}  // namespace kotaro
