// The synthetic Qwen2.5-VL files bench_model measures (tools/synthetic_qwen25vl.h and the
// streaming writer tools/gguf_stream_writer.h):
//  - the Q4_K_M type mix: llama-quantize's "more bits" layers for 28 layers as
//    docs/converter.md lists them, and the 7B tensor list (339 tensors, 29 of them Q6_K);
//  - the tiny files are valid GGUF with every declared tensor, identical whatever the chunk
//    size and thread count, and their values are what the fill promises: finite, weights
//    within ±0.1, norms in [0.9, 1.1), biases within ±0.02;
//  - the engine loads them, encodes an image and generates with finite logits;
//  - an unwritable path is FileIo and leaves no partial file.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "../tools/synthetic_qwen25vl.h"
#include "kotaro/engine.h"
#include "kotaro/gguf.h"
#include "test_check.h"

using namespace kotaro_tools;
using kotaro::ErrorCode;
using kotaro::GgmlType;
namespace fs = std::filesystem;

static std::vector<char> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

static void test_mix() {
  std::set<int64_t> more;
  for (int64_t l = 0; l < 28; ++l)
    if (more_bits_layer(l, 28)) more.insert(l);
  CHECK((more == std::set<int64_t>{0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27}), "more-bits layers for 28 layers");
  CHECK(text_matrix_type(WeightMix::Q4_K_M, "output", -1, 28) == GgmlType::Q6_K, "output Q6_K");
  CHECK(text_matrix_type(WeightMix::Q4_K_M, "token_embd", -1, 28) == GgmlType::Q4_K, "token_embd Q4_K");
  CHECK(text_matrix_type(WeightMix::Q4_K_M, "attn_v", 5, 28) == GgmlType::Q6_K, "attn_v layer 5 Q6_K");
  CHECK(text_matrix_type(WeightMix::Q4_K_M, "attn_v", 6, 28) == GgmlType::Q4_K, "attn_v layer 6 Q4_K");
  CHECK(text_matrix_type(WeightMix::Q4_K_M, "ffn_down", 27, 28) == GgmlType::Q6_K, "ffn_down layer 27 Q6_K");
  CHECK(text_matrix_type(WeightMix::Q4_K_M, "ffn_up", 0, 28) == GgmlType::Q4_K, "ffn_up layer 0 Q4_K");
  CHECK(text_matrix_type(WeightMix::Q8_0, "output", -1, 28) == GgmlType::Q8_0, "q8_0 output");
  CHECK(code_of([] { parse_weight_mix("q2_k"); }) == ErrorCode::InvalidArgument, "unknown mix refused");

  const SyntheticFile f = synthetic_text_file(qwen25vl_7b_text(), WeightMix::Q4_K_M, "7b");
  int q6 = 0;
  for (const auto& t : f.writer.tensors()) q6 += t.type == GgmlType::Q6_K;
  CHECK(f.writer.tensors().size() == 339, "7B text tensors: %zu", f.writer.tensors().size());
  CHECK(q6 == 29, "7B Q6_K tensors: %d (output + 14 attn_v + 14 ffn_down)", q6);
  CHECK(f.writer.tensors()[0].name == "output.weight" && f.writer.tensors()[2].name == "token_embd.weight" &&
            f.writer.tensors()[3].name == "blk.0.attn_k.bias" && f.writer.tensors().back().name == "blk.27.ffn_up.weight",
        "llama-quantize's tensor order");
  const SyntheticFile v = synthetic_mmproj_file(qwen25vl_7b_vision(), "7b");
  CHECK(v.writer.tensors().size() == 2 + 32 * 16 + 5, "7B mmproj tensors: %zu", v.writer.tensors().size());
}

// Every tensor of `path` decodes to finite values within its role's range.
static void check_values(const std::string& path) {
  const auto f = kotaro::GgufFile::open(path);
  for (const kotaro::GgufTensor& t : f->tensors()) {
    std::vector<float> row(static_cast<size_t>(t.ne[0]));
    const size_t rb = kotaro::row_size(t.type, t.ne[0]);
    const int64_t rows = t.n_elements() / t.ne[0];
    const bool norm = t.name.find("norm") != std::string::npos || t.name.find(".ln") != std::string::npos ||
                      t.name.find("post_ln") != std::string::npos;
    const bool bias = t.name.find(".bias") != std::string::npos;
    double lo = 1e30, hi = -1e30, sq = 0;
    bool finite = true;
    for (int64_t r = 0; r < rows; ++r) {
      kotaro::dequantize_row(t.type, t.data + r * rb, row.data(), t.ne[0]);
      for (float x : row) {
        finite = finite && std::isfinite(x);
        lo = std::min<double>(lo, x);
        hi = std::max<double>(hi, x);
        sq += double(x) * x;
      }
    }
    const double rms = std::sqrt(sq / double(t.n_elements()));
    CHECK(finite, "%s: non-finite values", t.name.c_str());
    if (norm) CHECK(lo >= 0.9 && hi < 1.1, "%s: norm in [%g, %g]", t.name.c_str(), lo, hi);
    else if (bias) CHECK(lo >= -0.02 && hi <= 0.02 && hi > lo, "%s: bias in [%g, %g]", t.name.c_str(), lo, hi);
    else CHECK(lo >= -0.1 && hi <= 0.1 && rms > 0.005 && rms < 0.05, "%s: weights in [%g, %g], rms %g", t.name.c_str(), lo, hi, rms);
  }
}

static void test_tiny_files(const fs::path& dir) {
  for (WeightMix mix : {WeightMix::Q4_K_M, WeightMix::Q8_0}) {
    const SyntheticFile text = synthetic_text_file(tiny_text(), mix, "tiny");
    const std::string a = (dir / "a.gguf").string(), b = (dir / "b.gguf").string();
    const uint64_t size = text.write(a, 3);
    text.write(b, 1, 4096);  // another chunking and thread count: the same bytes
    const std::vector<char> ba = read_all(a), bb = read_all(b);
    CHECK(ba.size() == size && ba == bb, "%s: the file depends on chunking/threads", weight_mix_name(mix));
    const auto f = kotaro::GgufFile::open(a);
    CHECK(f->tensors().size() == text.writer.tensors().size(), "tensor count");
    for (const auto& spec : text.writer.tensors()) {
      const kotaro::GgufTensor* t = f->find_tensor(spec.name);
      CHECK(t && t->type == spec.type && t->bytes == spec.bytes, "%s: type or size differs", spec.name.c_str());
    }
    check_values(a);
  }
  const SyntheticFile v = synthetic_mmproj_file(tiny_vision(), "tiny");
  v.write((dir / "p.gguf").string(), 2, 1000);
  check_values((dir / "p.gguf").string());
}

static void test_engine_runs(const fs::path& dir) {
  const std::string model = (dir / "m.gguf").string(), mmproj = (dir / "v.gguf").string();
  synthetic_text_file(tiny_text(), WeightMix::Q4_K_M, "tiny").write(model, 2);
  synthetic_mmproj_file(tiny_vision(), "tiny").write(mmproj, 2);
  kotaro::ModelOptions o;
  o.model_path = model;
  o.mmproj_path = mmproj;
  o.backend = kotaro::BackendKind::Cpu;
  o.threads = 2;
  o.context_length = 256;
  auto m = kotaro::Model::load(o);
  const kotaro::ModelInfo& info = m->info();
  CHECK(info.has_vision && info.n_layer == 2 && info.n_vocab == 2048 && info.weight_type == "Q4_K", "model info");
  CHECK(info.image_pad_token == special_base(2048) + 12, "image_pad id %d", info.image_pad_token);
  std::vector<uint8_t> rgb(84 * 56 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 37 + 11);
  const kotaro::ImageEmbeds e = m->encode_image_rgb(rgb.data(), 84, 56, nullptr, nullptr);
  CHECK(e.n_tokens == 6 && e.n_embd == 256, "image tokens %lld", static_cast<long long>(e.n_tokens));
  bool finite = true;
  for (float x : e.data) finite = finite && std::isfinite(x);
  CHECK(finite, "image embeddings finite");
  std::vector<int32_t> tokens = {5, 6, info.vision_start_token};
  tokens.insert(tokens.end(), static_cast<size_t>(e.n_tokens), info.image_pad_token);
  tokens.push_back(info.vision_end_token);
  tokens.push_back(7);
  auto s = m->new_session();
  s->prefill(tokens, {&e});
  kotaro::GenerateOptions g;
  g.max_new_tokens = 5;
  const std::vector<int32_t> out = s->generate(g, nullptr);
  CHECK(out.size() == 5, "generated %zu tokens", out.size());
  for (int32_t t : out) CHECK(t >= 0 && t < 2048, "token %d out of range", t);
  for (float x : s->last_logits()) finite = finite && std::isfinite(x);
  CHECK(finite, "logits finite");
}

static void test_write_errors(const fs::path& dir) {
  const std::string bad = (dir / "no-such-dir" / "x.gguf").string();
  CHECK(code_of([&] { synthetic_mmproj_file(tiny_vision(), "tiny").write(bad, 1); }) == ErrorCode::FileIo,
        "unwritable path is FileIo");
  CHECK(!fs::exists(bad + ".partial"), "no partial file left");
  GgufStreamWriter w;
  CHECK(code_of([&] { w.tensor("x", {100, 2}, GgmlType::Q4_K); }) == ErrorCode::InvalidArgument,
        "a row that does not fill whole blocks is refused");
}

int main() {
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  const fs::path dir = fs::temp_directory_path() / ("kotaro-synthetic-" + std::to_string(stamp));
  fs::create_directories(dir);
  try {
    test_mix();
    test_tiny_files(dir);
    test_engine_runs(dir);
    test_write_errors(dir);
  } catch (const kotaro::Error& e) {
    CHECK(false, "unexpected %s: %s", e.code_name(), e.what());
  }
  fs::remove_all(dir);
  std::printf("test_synthetic_model: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
