#include "model/text_model.h"

#include <cmath>

#include "model/weight_loader.h"

namespace kotaro {

namespace {

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) fail(ErrorCode::Cancelled, "cancelled");
}

int64_t positive(const GgufFile& f, const std::string& key) {
  const uint32_t v = f.get_u32(key);
  if (v == 0) fail(ErrorCode::ModelMismatch, "'" + f.path() + "': metadata key '" + key + "' is 0");
  return v;
}

}  // namespace

TextConfig TextConfig::from_gguf(const GgufFile& f) {
  TextConfig c;
  c.architecture = f.get_string("general.architecture");
  if (c.architecture != "qwen2" && c.architecture != "qwen2vl")
    fail(ErrorCode::GgufUnsupported, "'" + f.path() + "': architecture '" + c.architecture +
                                         "' is not supported (qwen2 or qwen2vl)");
  const std::string a = c.architecture + ".";
  c.n_embd = positive(f, a + "embedding_length");
  c.n_layer = positive(f, a + "block_count");
  c.n_head = positive(f, a + "attention.head_count");
  c.n_head_kv = f.has_key(a + "attention.head_count_kv") ? positive(f, a + "attention.head_count_kv") : c.n_head;
  c.n_ff = positive(f, a + "feed_forward_length");
  c.n_ctx_train = f.get_u32(a + "context_length", 4096);
  c.rms_eps = f.get_f32(a + "attention.layer_norm_rms_epsilon");
  c.rope_base = f.get_f32(a + "rope.freq_base", 10000.0f);
  if (c.n_embd % c.n_head != 0 || c.n_head % c.n_head_kv != 0)
    fail(ErrorCode::ModelMismatch, "'" + f.path() + "': " + std::to_string(c.n_head) + " heads (" +
                                       std::to_string(c.n_head_kv) + " kv) do not divide the embedding " +
                                       std::to_string(c.n_embd));
  c.head_dim = c.n_embd / c.n_head;
  if (f.has_key(a + "attention.key_length") && f.get_u32(a + "attention.key_length") != c.head_dim)
    fail(ErrorCode::ModelMismatch, "'" + f.path() + "': attention.key_length differs from embedding/heads");
  if (c.head_dim % 4 != 0) fail(ErrorCode::ModelMismatch, "'" + f.path() + "': head size must be a multiple of 4");
  const int64_t half = c.head_dim / 2;
  if (c.architecture == "qwen2vl") {
    const std::vector<int64_t> s = f.get_int_array(a + "rope.dimension_sections");
    if (s.size() < 3 || s.size() > 4 || (s.size() == 4 && s[3] != 0) || s[0] < 0 || s[1] < 0 || s[2] < 0 ||
        s[0] + s[1] + s[2] != half)
      fail(ErrorCode::ModelMismatch, "'" + f.path() + "': rope.dimension_sections must be [t, h, w, 0] adding up to " +
                                         std::to_string(half));
    for (int i = 0; i < 3; ++i) c.rope_sections[i] = static_cast<int>(s[i]);
  } else {
    c.rope_sections[0] = static_cast<int>(half);
  }
  const GgufTensor& emb = f.tensor("token_embd.weight");
  c.n_vocab = emb.ne[1];
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  return c;
}

TextModel::TextModel(const GgufFile& file, Backend& backend) : TextModel(file, backend, WeightLoader(file, backend)) {}

uint64_t TextModel::weight_bytes(const GgufFile& file, Backend& backend) {
  uint64_t bytes = 0;
  TextModel plan(file, backend, WeightLoader(file, backend, &bytes));
  return bytes;
}

TextModel::TextModel(const GgufFile& file, Backend& backend, const WeightLoader& w)
    : cfg_(TextConfig::from_gguf(file)), backend_(backend) {
  const int64_t d = cfg_.n_embd, kv = cfg_.n_head_kv * cfg_.head_dim, ff = cfg_.n_ff;
  token_embd_ = w.matrix("token_embd.weight", d, cfg_.n_vocab);
  output_ = cfg_.tied_output ? token_embd_ : w.matrix("output.weight", d, cfg_.n_vocab);
  output_norm_ = w.vector("output_norm.weight", d);
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Layer L;
    L.attn_norm = w.vector(p + "attn_norm.weight", d);
    L.ffn_norm = w.vector(p + "ffn_norm.weight", d);
    L.wq = w.matrix(p + "attn_q.weight", d, d);
    L.wk = w.matrix(p + "attn_k.weight", d, kv);
    L.wv = w.matrix(p + "attn_v.weight", d, kv);
    L.wo = w.matrix(p + "attn_output.weight", d, d);
    L.bq = w.optional_vector(p + "attn_q.bias", d);
    L.bk = w.optional_vector(p + "attn_k.bias", kv);
    L.bv = w.optional_vector(p + "attn_v.bias", kv);
    L.w_gate = w.matrix(p + "ffn_gate.weight", d, ff);
    L.w_up = w.matrix(p + "ffn_up.weight", d, ff);
    L.w_down = w.matrix(p + "ffn_down.weight", ff, d);
    layers_.push_back(std::move(L));
  }
}

KvCacheSpec TextModel::kv_spec(int64_t max_tokens, KvCacheType type) const {
  KvCacheSpec s;
  s.n_layer = static_cast<int>(cfg_.n_layer);
  s.n_kv_head = static_cast<int>(cfg_.n_head_kv);
  s.head_dim = static_cast<int>(cfg_.head_dim);
  s.max_tokens = max_tokens;
  s.type = type;
  return s;
}

uint64_t TextModel::activation_bytes(const TextConfig& c, const Backend& b, int64_t n) {
  // As forward() and EngineSession::evaluate() allocate them: ids, positions, x, image rows,
  // h, q, attn, o [n, d]; k, v [n, kv]; gate, up [n, ff]; the last row's norm and logits,
  // and the session's copy of that logits row.
  const int64_t d = c.n_embd, kv = c.n_head_kv * c.head_dim;
  return b.tensor_bytes(1, n) + b.tensor_bytes(3, n) + 6 * b.tensor_bytes(n, d) + 2 * b.tensor_bytes(n, kv) +
         2 * b.tensor_bytes(n, c.n_ff) + b.tensor_bytes(1, d) + 2 * b.tensor_bytes(1, c.n_vocab);
}

Tensor TextModel::embed(const std::vector<int32_t>& tokens) const {
  const int64_t n = static_cast<int64_t>(tokens.size());
  Tensor ids = backend_.alloc(DType::I32, 1, n, MemoryCategory::Activations);
  backend_.upload(tokens.data(), ids);
  Tensor x = backend_.alloc(DType::F32, n, cfg_.n_embd, MemoryCategory::Activations);
  backend_.embed_rows(token_embd_, ids, x);
  return x;
}

Tensor TextModel::forward(const Tensor& x, const Tensor& pos, KvCache& cache, int64_t n_past, bool all_logits,
                          const std::atomic<bool>* cancel) const {
  const int64_t n = x.rows, d = cfg_.n_embd, kv = cfg_.n_head_kv * cfg_.head_dim, ff = cfg_.n_ff;
  check_shape("text forward input", x, n, d, DType::F32);
  check_shape("text forward positions", pos, 3, n, DType::I32);
  if (n_past != cache.rows())
    fail(ErrorCode::Internal, "text forward: at position " + std::to_string(n_past) + " but the KV cache holds " +
                                  std::to_string(cache.rows()) + " rows");
  if (n_past + n > cache.capacity())
    fail(ErrorCode::InvalidArgument, "the sequence (" + std::to_string(n_past + n) +
                                         " tokens) exceeds the context length " + std::to_string(cache.capacity()));
  auto act = [&](int64_t rows, int64_t cols) { return backend_.alloc(DType::F32, rows, cols, MemoryCategory::Activations); };
  Tensor h = act(n, d), q = act(n, d), k = act(n, kv), v = act(n, kv), attn = act(n, d), o = act(n, d);
  Tensor gate = act(n, ff), up = act(n, ff);

  RopeSpec rope;
  rope.kind = RopeKind::MRope;
  rope.n_heads = static_cast<int>(cfg_.n_head);
  rope.head_dim = static_cast<int>(cfg_.head_dim);
  rope.freq_base = cfg_.rope_base;
  for (int i = 0; i < 3; ++i) rope.sections[i] = cfg_.rope_sections[i];
  RopeSpec rope_k = rope;
  rope_k.n_heads = static_cast<int>(cfg_.n_head_kv);
  AttentionSpec as;
  as.n_head = static_cast<int>(cfg_.n_head);
  as.n_kv_head = static_cast<int>(cfg_.n_head_kv);
  as.head_dim = static_cast<int>(cfg_.head_dim);
  as.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(cfg_.head_dim)));

  // Each residual add is fused with the RMSNorm that reads its sum (add_rmsnorm): the
  // attention output's add with ffn_norm, the MLP output's add with the next layer's
  // attn_norm (or, when every row goes on, the output norm).
  const Tensor rows = all_logits ? x : x.row_slice(n - 1, 1);
  Tensor normed = act(rows.rows, d);
  if (!layers_.empty()) backend_.rmsnorm(x, layers_[0].attn_norm, cfg_.rms_eps, h);
  for (size_t l = 0; l < layers_.size(); ++l) {
    check_cancel(cancel);
    const Layer& L = layers_[l];
    backend_.matmul(h, L.wq, L.bq.empty() ? nullptr : &L.bq, q);
    backend_.matmul(h, L.wk, L.bk.empty() ? nullptr : &L.bk, k);
    backend_.matmul(h, L.wv, L.bv.empty() ? nullptr : &L.bv, v);
    backend_.rope(q, pos, rope);
    backend_.rope(k, pos, rope_k);
    backend_.kv_store(cache, static_cast<int>(l), k, v, n_past);
    backend_.attention_kv(q, cache, static_cast<int>(l), n_past, attn, as);
    backend_.matmul(attn, L.wo, nullptr, o);
    backend_.add_rmsnorm(x, o, x, L.ffn_norm, cfg_.rms_eps, h);
    backend_.matmul(h, L.w_gate, nullptr, gate);
    backend_.matmul(h, L.w_up, nullptr, up);
    backend_.swiglu(gate, up, gate);
    backend_.matmul(gate, L.w_down, nullptr, o);
    if (l + 1 < layers_.size())
      backend_.add_rmsnorm(x, o, x, layers_[l + 1].attn_norm, cfg_.rms_eps, h);
    else if (rows.rows == n)
      backend_.add_rmsnorm(x, o, x, output_norm_, cfg_.rms_eps, normed);
    else
      backend_.add(x, o, x);
  }
  check_cancel(cancel);
  if (layers_.empty() || rows.rows != n) backend_.rmsnorm(rows, output_norm_, cfg_.rms_eps, normed);
  Tensor logits = act(rows.rows, cfg_.n_vocab);
  backend_.matmul(normed, output_, nullptr, logits);
  return logits;
}

}  // namespace kotaro
