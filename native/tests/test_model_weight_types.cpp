// Every weight type the CPU backend computes with (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q3_K, Q4_K, Q5_K, Q6_K): a small synthetic qwen2 model with its matrices stored in
// that type must give the same logits as the same model stored in F32 with the
// dequantised values. A type the engine cannot compute with is refused at load with
// GgufUnsupported naming the tensor.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <unistd.h>

#include "../tools/fixture_eval.h"
#include "kotaro/engine.h"
#include "kotaro/quant.h"
#include "test_gguf_writer.h"
#include "test_check.h"

using namespace gguf_test;
using kotaro::GgmlType;


constexpr int64_t kEmbd = 256, kFF = 256, kVocab = 64, kHeads = 4, kKvHeads = 2, kHeadDim = kEmbd / kHeads;

struct Tensor {
  std::string name;
  int64_t n_in, n_out;  // n_out = 1 for vectors
  std::vector<float> values;
};

static std::vector<Tensor> random_model(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  auto mat = [&](const std::string& name, int64_t n_in, int64_t n_out, float mean = 0.0f) {
    Tensor t{name, n_in, n_out, std::vector<float>(static_cast<size_t>(n_in * n_out))};
    for (float& v : t.values) v = mean + nd(rng);
    return t;
  };
  const int64_t kv = kKvHeads * kHeadDim;
  return {mat("token_embd.weight", kEmbd, kVocab),  mat("output.weight", kEmbd, kVocab),
          mat("output_norm.weight", kEmbd, 1, 1.0f), mat("blk.0.attn_norm.weight", kEmbd, 1, 1.0f),
          mat("blk.0.ffn_norm.weight", kEmbd, 1, 1.0f), mat("blk.0.attn_q.weight", kEmbd, kEmbd),
          mat("blk.0.attn_q.bias", kEmbd, 1),          mat("blk.0.attn_k.weight", kEmbd, kv),
          mat("blk.0.attn_k.bias", kv, 1),             mat("blk.0.attn_v.weight", kEmbd, kv),
          mat("blk.0.attn_v.bias", kv, 1),             mat("blk.0.attn_output.weight", kEmbd, kEmbd),
          mat("blk.0.ffn_gate.weight", kEmbd, kFF),     mat("blk.0.ffn_up.weight", kEmbd, kFF),
          mat("blk.0.ffn_down.weight", kFF, kEmbd)};
}

// Writes the model with its matrices in `type` (vectors stay F32). When `roundtrip`, the
// matrices are stored as F32 holding the values that `type` dequantises to.
static void write_model(const std::string& path, const std::vector<Tensor>& tensors, GgmlType type, bool roundtrip,
                        const char* override_name = nullptr, GgmlType override_type = GgmlType::F32) {
  Spec s;
  s.kvs = {{"general.architecture", 8, v_str("qwen2")},
           {"qwen2.embedding_length", 4, v_u32(kEmbd)},
           {"qwen2.block_count", 4, v_u32(1)},
           {"qwen2.attention.head_count", 4, v_u32(kHeads)},
           {"qwen2.attention.head_count_kv", 4, v_u32(kKvHeads)},
           {"qwen2.feed_forward_length", 4, v_u32(kFF)},
           {"qwen2.context_length", 4, v_u32(64)},
           {"qwen2.attention.layer_norm_rms_epsilon", 6, v_f32(1e-6f)},
           {"qwen2.rope.freq_base", 6, v_f32(10000.0f)}};
  for (const Tensor& t : tensors) {
    GgmlType ty = t.n_out == 1 ? GgmlType::F32 : type;
    if (override_name && t.name == override_name) ty = override_type;
    const size_t row = kotaro::row_size(ty, t.n_in);
    std::vector<uint8_t> bytes(row * t.n_out);
    if (kotaro::type_traits(static_cast<uint32_t>(ty)).supported) {
      for (int64_t r = 0; r < t.n_out; ++r) kotaro::quantize_row(ty, &t.values[r * t.n_in], &bytes[r * row], t.n_in);
    } else {
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 13);  // any bytes will do
    }
    if (roundtrip && ty != GgmlType::F32) {
      std::vector<float> deq(t.values.size());
      for (int64_t r = 0; r < t.n_out; ++r) kotaro::dequantize_row(ty, &bytes[r * row], &deq[r * t.n_in], t.n_in);
      bytes.assign(reinterpret_cast<uint8_t*>(deq.data()), reinterpret_cast<uint8_t*>(deq.data() + deq.size()));
      ty = GgmlType::F32;
    }
    while (s.data.size() % 32) s.data.push_back(0);
    s.tensors.push_back({t.name, t.n_out == 1 ? std::vector<int64_t>{t.n_in} : std::vector<int64_t>{t.n_in, t.n_out},
                         static_cast<uint32_t>(ty), s.data.size()});
    s.data.insert(s.data.end(), bytes.begin(), bytes.end());
  }
  write_file(path, build(s));
}

static std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& tokens) {
  kotaro::ModelOptions o;
  o.model_path = path;
  o.backend = kotaro::BackendKind::Cpu;
  o.context_length = 64;
  auto m = kotaro::Model::load(o);
  auto s = m->new_session();
  std::vector<float> logits;
  s->prefill(tokens, {}, &logits);
  return logits;
}

int main() {
  char tmpl[] = "/tmp/kotaro-types-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const std::string dir = tmpl;
  try {
    const std::vector<Tensor> model = random_model(42);
    const std::vector<int32_t> tokens = {1, 5, 9, 17, 33, 2, 60, 7};
    write_model(dir + "/f32.gguf", model, GgmlType::F32, false);
    const std::vector<float> reference = logits_of(dir + "/f32.gguf", tokens);
    const GgmlType types[] = {GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                              GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q3_K,
                              GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
    for (GgmlType t : types) {
      const char* name = kotaro::type_traits(static_cast<uint32_t>(t)).name;
      write_model(dir + "/q.gguf", model, t, false);
      write_model(dir + "/rt.gguf", model, t, true);
      const std::vector<float> q = logits_of(dir + "/q.gguf", tokens), rt = logits_of(dir + "/rt.gguf", tokens);
      const kotaro_tools::Diff same = kotaro_tools::diff(q, rt), vs_f32 = kotaro_tools::diff(q, reference);
      std::printf("%-5s logits vs the same values in F32: rel %.3g; vs the unquantised model: rel %.3g\n", name,
                  same.rel(), vs_f32.rel());
      CHECK(same.rel() < 1e-6, "%s: stored type changes the result (rel %.3g)", name, same.rel());
      CHECK(vs_f32.rel() > 0, "%s: the weights were not stored quantised", name);
    }
    // Q2_K is a known type the engine does not compute with: refused at load, naming the tensor.
    write_model(dir + "/bad.gguf", model, GgmlType::F32, false, "blk.0.attn_v.weight", GgmlType::Q2_K);
    std::string message;
    kotaro::ErrorCode code = kotaro::ErrorCode::Internal;
    try {
      logits_of(dir + "/bad.gguf", tokens);
    } catch (const kotaro::Error& e) {
      code = e.code();
      message = e.what();
    }
    std::printf("Q2_K weight: %s %s\n", kotaro::error_code_name(code), message.c_str());
    CHECK(code == kotaro::ErrorCode::GgufUnsupported && message.find("blk.0.attn_v.weight") != std::string::npos,
          "unsupported type not refused properly");
  } catch (const std::exception& e) {
    ++failures;
    std::printf("FAIL exception: %s\n", e.what());
  }
  for (const char* f : {"f32.gguf", "q.gguf", "rt.gguf", "bad.gguf"}) std::remove((dir + "/" + f).c_str());
  rmdir(tmpl);
  std::printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
