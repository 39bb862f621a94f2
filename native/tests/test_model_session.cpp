// Session semantics on the VL fixture: incremental prefill equals one-shot prefill, rewind
// and branching, stop tokens, callback stop, cancellation (state kept), input errors, memory
// report, the up-front memory check at its exact boundary, load errors.
// Runs on the CPU backend; KOTARO_TEST_BACKEND=cuda runs the same on the CUDA backend (the
// GPU check does), where rewinds return KV pages and sampling happens on the device.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../tools/fixture_eval.h"
#include "test_check.h"

using namespace kotaro_tools;
using kotaro::ErrorCode;

static std::string root() { return fixtures_root() + "/tiny-qwen25vl-a"; }

static bool on_cuda() {
  const char* b = std::getenv("KOTARO_TEST_BACKEND");
  return b && std::string(b) == "cuda";
}

static kotaro::ModelOptions vl_options() {
  kotaro::ModelOptions o;
  o.model_path = root() + "/llamacpp/model-f32.gguf";
  o.mmproj_path = root() + "/llamacpp/mmproj-f32.gguf";
  o.backend = on_cuda() ? kotaro::BackendKind::Cuda : kotaro::BackendKind::Cpu;
  o.context_length = 1024;
  return o;
}

static std::vector<kotaro::ImageEmbeds> encode_all(kotaro::Model& m, const FixtureCase& c) {
  std::vector<kotaro::ImageEmbeds> out;
  for (const kotaro::PixelValues& pv : split_pixel_values(c)) out.push_back(m.encode_image(pv));
  return out;
}

static std::vector<int32_t> greedy(kotaro::Session& s, int n) {
  kotaro::GenerateOptions g;
  g.max_new_tokens = n;
  return s.generate(g, nullptr);
}

static void incremental_and_rewind(kotaro::Model& m, const FixtureCase& c) {
  const auto embeds = encode_all(m, c);
  const std::vector<const kotaro::ImageEmbeds*> both = {&embeds[0], &embeds[1]};
  const int64_t vocab = m.info().n_vocab;
  const int32_t pad = m.info().image_pad_token;

  // Split points: before the first image, between the images (inside the text), at the end.
  std::vector<size_t> runs;  // start of each image_pad run
  for (size_t i = 0; i < c.input_ids.size(); ++i)
    if (c.input_ids[i] == pad && (i == 0 || c.input_ids[i - 1] != pad)) runs.push_back(i);
  CHECK(runs.size() == 2, "two image runs expected");
  const size_t cut1 = runs[0] - 1, cut2 = runs[1] - 1;  // the vision_start tokens
  auto s = m.new_session();
  std::vector<float> l1, l2, l3;
  s->prefill({c.input_ids.begin(), c.input_ids.begin() + cut1}, {}, &l1);
  s->prefill({c.input_ids.begin() + cut1, c.input_ids.begin() + cut2}, {&embeds[0]}, &l2);
  s->prefill({c.input_ids.begin() + cut2, c.input_ids.end()}, {&embeds[1]}, &l3);
  std::vector<float> all = l1;
  all.insert(all.end(), l2.begin(), l2.end());
  all.insert(all.end(), l3.begin(), l3.end());
  CHECK(s->position_ids() == c.position_ids, "incremental prefill: positions differ");
  const Diff d = diff(all, c.logits);
  CHECK(d.rel() < 1e-4, "incremental prefill: logits rel err %.3g", d.rel());
  CHECK(s->n_past() == static_cast<int64_t>(c.input_ids.size()), "n_past");
  const std::vector<float> end_logits = s->last_logits();
  CHECK(std::equal(end_logits.begin(), end_logits.end(), all.end() - vocab), "last_logits = last row");

  // Greedy, rewind to the prompt, greedy again: same tokens (logits at the prompt end restored).
  const std::vector<int32_t> first = greedy(*s, 6);
  CHECK(std::equal(first.begin(), first.end(), c.greedy_tokens.begin()), "greedy after incremental prefill");
  CHECK(s->n_past() == static_cast<int64_t>(c.input_ids.size()) + 5, "n_past after 6 generated (last not evaluated)");
  s->rewind(static_cast<int64_t>(c.input_ids.size()));
  CHECK(s->last_logits() == end_logits, "rewind restores the prompt-end logits");
  CHECK(greedy(*s, 6) == first, "generation after rewind");

  // Rewinding to the end of an earlier prefill restores its logits; elsewhere there are none.
  s->rewind(static_cast<int64_t>(cut2));
  CHECK(s->last_logits() == std::vector<float>(l2.end() - vocab, l2.end()), "logits after rewind to a prefill end");
  s->rewind(static_cast<int64_t>(cut2 - 1));
  CHECK(s->last_logits().empty(), "no logits after rewind inside a prefill");
  const size_t k = cut2 - 1, seq = c.input_ids.size();
  std::vector<int32_t> expect;
  for (int axis = 0; axis < 3; ++axis)
    expect.insert(expect.end(), c.position_ids.begin() + axis * seq, c.position_ids.begin() + axis * seq + k);
  CHECK(s->position_ids() == expect, "positions after rewind");
}

static void branch_positions(kotaro::Model& m, const FixtureCase& c) {
  const auto embeds = encode_all(m, c);
  const int32_t pad = m.info().image_pad_token;
  size_t second = 0;
  for (size_t i = 1; i < c.input_ids.size(); ++i)
    if (c.input_ids[i] == pad && c.input_ids[i - 1] != pad) second = i - 1;
  auto s = m.new_session();
  s->prefill(c.input_ids, {&embeds[0], &embeds[1]});
  greedy(*s, 3);
  s->rewind(static_cast<int64_t>(second));
  std::vector<float> rest;
  s->prefill({c.input_ids.begin() + second, c.input_ids.end()}, {&embeds[1]}, &rest);
  const int64_t vocab = m.info().n_vocab;
  const std::vector<float> ref(c.logits.begin() + second * vocab, c.logits.end());
  CHECK(diff(rest, ref).rel() < 1e-4, "branch after rewind: logits rel err %.3g", diff(rest, ref).rel());
  CHECK(s->position_ids() == c.position_ids, "branch after rewind: positions");
  CHECK(greedy(*s, 20) == std::vector<int32_t>(c.greedy_tokens.begin(), c.greedy_tokens.end()), "branch greedy");
}

static void stopping_and_cancel(kotaro::Model& m, const FixtureCase& c) {
  auto s = m.new_session();
  s->prefill(c.input_ids, {});
  const int64_t prompt = s->n_past();
  // A stop token is reported and not evaluated.
  kotaro::GenerateOptions g;
  g.max_new_tokens = 20;
  g.stop_tokens = {c.greedy_tokens[3]};
  std::vector<int32_t> seen;
  const auto out = s->generate(g, [&](int32_t t) { seen.push_back(t); return true; });
  const size_t first_stop = std::find(c.greedy_tokens.begin(), c.greedy_tokens.end(), c.greedy_tokens[3]) - c.greedy_tokens.begin();
  CHECK(out.size() == first_stop + 1 && out.back() == c.greedy_tokens[3] && seen == out, "stop token: %zu tokens", out.size());
  CHECK(s->n_past() == prompt + static_cast<int64_t>(first_stop), "stop token not evaluated");
  // The callback stops generation.
  s->rewind(prompt);
  g.stop_tokens.clear();
  int calls = 0;
  const auto two = s->generate(g, [&](int32_t) { return ++calls < 2; });
  CHECK(two.size() == 2 && calls == 2, "callback stop: %zu tokens", two.size());
  // Cancellation: before prefill (state unchanged), and during generation.
  s->rewind(prompt);
  std::atomic<bool> cancel{true};
  CHECK(code_of([&] { s->prefill({c.input_ids[0]}, {}, nullptr, &cancel); }) == ErrorCode::Cancelled, "cancelled prefill");
  CHECK(s->n_past() == prompt && s->position_ids().size() == static_cast<size_t>(3 * prompt), "state after a cancelled prefill");
  cancel = false;
  int n = 0;
  CHECK(code_of([&] { s->generate(g, [&](int32_t) { if (++n == 3) cancel = true; return true; }, &cancel); }) ==
            ErrorCode::Cancelled,
        "cancelled generation");
  // Tokens 1 and 2 were evaluated; the evaluation of token 3 was cancelled and rolled back.
  CHECK(n == 3 && s->n_past() == prompt + 2, "state after a cancelled generation (n_past %lld)", (long long)s->n_past());
  cancel = false;
  s->rewind(prompt);
  CHECK(greedy(*s, 20) == c.greedy_tokens, "greedy after cancellations");
}

static void input_errors(kotaro::Model& m, const FixtureCase& img_case) {
  const auto embeds = encode_all(m, img_case);
  auto s = m.new_session();
  const auto inval = ErrorCode::InvalidArgument;
  CHECK(code_of([&] { s->prefill({5, 704}, {}); }) == inval, "token id = vocab");
  CHECK(code_of([&] { s->prefill({-1}, {}); }) == inval, "negative token id");
  CHECK(code_of([&] { s->prefill(img_case.input_ids, {}); }) == inval, "image run without an image");
  CHECK(code_of([&] { s->prefill({1, 2, 3}, {&embeds[0]}); }) == inval, "image without a run");
  const int32_t pad = m.info().image_pad_token;
  CHECK(code_of([&] { s->prefill({1, pad, pad, 2}, {&embeds[0]}); }) == inval, "run shorter than the image");
  CHECK(code_of([&] { s->prefill({1, 2}, {nullptr}); }) == inval, "null image");
  CHECK(code_of([&] { s->generate({}, nullptr); }) == inval, "generate before prefill");
  CHECK(code_of([&] { s->rewind(1); }) == inval, "rewind past the end");
  CHECK(s->n_past() == 0, "failed calls leave the session empty");
  kotaro::PixelValues pv;
  pv.grid_h = 3;
  pv.grid_w = 4;
  pv.data.assign(12 * 1176, 0.0f);
  CHECK(code_of([&] { m.encode_image(pv); }) == inval, "odd grid");
  pv.grid_h = 4;
  pv.data.resize(10);
  CHECK(code_of([&] { m.encode_image(pv); }) == inval, "pixel count");
  std::vector<uint8_t> rgb(3 * 4, 0);
  CHECK(code_of([&] { m.preprocess_image(rgb.data(), 0, 4); }) == inval, "empty image");
  CHECK(code_of([&] { m.preprocess_image(rgb.data(), 400, 1); }) == inval, "aspect ratio 400");
  CHECK(code_of([&] { m.encode_image_rgb(rgb.data(), 0, 4); }) == inval, "encode_image_rgb: empty image");
  CHECK(code_of([&] { m.encode_image_rgb(nullptr, 56, 56); }) == inval, "encode_image_rgb: no pixels");
  std::atomic<bool> cancel{true};
  std::vector<uint8_t> rgb56(56 * 56 * 3, 128);
  CHECK(code_of([&] { m.encode_image_rgb(rgb56.data(), 56, 56, &cancel); }) == ErrorCode::Cancelled,
        "encode_image_rgb: cancelled");
  kotaro::Model::EncodeTimings t;
  const kotaro::ImageEmbeds e = m.encode_image_rgb(rgb56.data(), 56, 56, nullptr, &t);
  CHECK(e.n_tokens == 4 && e.grid_h == 4 && e.grid_w == 4 && t.preprocess_ms > 0 && t.vision_ms > 0,
        "encode_image_rgb: %lld tokens, %.3f / %.3f ms", (long long)e.n_tokens, t.preprocess_ms, t.vision_ms);
}

static void context_limit() {
  kotaro::ModelOptions o = vl_options();
  o.context_length = 8;
  auto m = kotaro::Model::load(o);
  CHECK(m->info().context_length == 8, "context length");
  auto s = m->new_session();
  CHECK(code_of([&] { s->prefill(std::vector<int32_t>(9, 1), {}); }) == ErrorCode::InvalidArgument, "prefill past the context");
  s->prefill(std::vector<int32_t>(6, 1), {});
  kotaro::GenerateOptions g;
  g.max_new_tokens = 10;
  const auto out = s->generate(g, nullptr);
  CHECK(out.size() == 3 && s->n_past() == 8, "generation stops when the context is full (%zu tokens)", out.size());
}

static bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

static void info_memory_and_load_errors() {
  auto m = kotaro::Model::load(vl_options());
  const kotaro::ModelInfo& i = m->info();
  CHECK(i.architecture == "qwen2vl" && i.backend == (on_cuda() ? "cuda" : "cpu") && i.weight_type == "F32" &&
            i.has_vision,
        "info");
  CHECK(i.n_vocab == 704 && i.n_embd == 128 && i.n_layer == 2 && i.n_head == 4 && i.n_head_kv == 2, "info dims");
  CHECK(i.image_pad_token == 668 && i.vision_start_token == 665 && i.vision_end_token == 666, "info tokens");
  const kotaro::MemoryReport before = m->memory();
  CHECK(before.weights > 1000000 && before.kv_cache == 0, "weights %llu", (unsigned long long)before.weights);
  {
    auto s = m->new_session();
    // k+v, layers, ctx, kv heads, head dim, f32 (a float32 model keeps a float32 cache);
    // the paged cache adds its block table and the allocator's rounding.
    const uint64_t kv = 2ull * 2 * 1024 * 2 * 32 * 4, got = m->memory().kv_cache;
    CHECK(on_cuda() ? (got >= kv && got < kv + (1u << 20)) : got == kv, "kv cache bytes %llu", (unsigned long long)got);
  }
  CHECK(m->memory().kv_cache == 0, "kv cache freed with the session");
}

// The up-front check: a budget far too small is refused at load with every part named; the
// smallest budget that loads (found by bisection) runs a session with two images, refuses a
// second session, and one byte less is refused at load.
static void memory_budget(const FixtureCase& two) {
  kotaro::ModelOptions o = vl_options();
  o.memory_budget_bytes = 1u << 20;
  std::string msg;
  try {
    kotaro::Model::load(o);
  } catch (const kotaro::Error& e) {
    CHECK(e.code() == ErrorCode::OutOfMemory, "1 MiB budget: code %s", e.code_name());
    msg = e.what();
  }
  std::printf("1 MiB budget: %s\n", msg.c_str());
  CHECK(contains(msg, "loading 'model-f32.gguf' + 'mmproj-f32.gguf' needs ") && contains(msg, "(weights ") &&
            contains(msg, ", KV ") && contains(msg, ", activations ") && contains(msg, " free / budget 1.0 MiB"),
        "1 MiB budget message: %s", msg.c_str());

  auto loads = [&](uint64_t budget) {
    o.memory_budget_bytes = budget;
    try {
      kotaro::Model::load(o);
      return true;
    } catch (const kotaro::Error& e) {
      if (e.code() != ErrorCode::OutOfMemory) throw;
      return false;
    }
  };
  uint64_t lo = 1u << 20, hi = 1024ull << 20;
  CHECK(!loads(lo) && loads(hi), "bisection bounds");
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    (loads(mid) ? hi : lo) = mid;
  }
  std::printf("smallest budget that loads: %llu bytes\n", (unsigned long long)hi);
  o.memory_budget_bytes = hi;
  auto m = kotaro::Model::load(o);
  {
    auto s = m->new_session();
    const auto embeds = encode_all(*m, two);
    s->prefill(two.input_ids, {&embeds[0], &embeds[1]});
    CHECK(greedy(*s, 20) == two.greedy_tokens, "greedy within the smallest budget");
    std::string second;
    try {
      m->new_session();
    } catch (const kotaro::Error& e) {
      CHECK(e.code() == ErrorCode::OutOfMemory, "second session: code %s", e.code_name());
      second = e.what();
    }
    CHECK(contains(second, "a new session needs ") && contains(second, "(weights 0.0 MiB, KV "),
          "second session over the budget: '%s'", second.c_str());
  }
  auto again = m->new_session();  // the first session's memory came back
  CHECK(again->n_past() == 0, "a session after the first was freed");
}

static void load_errors() {
  kotaro::ModelOptions o;
  o = vl_options();
  o.model_path = root() + "/llamacpp/missing.gguf";
  CHECK(code_of([&] { kotaro::Model::load(o); }) == ErrorCode::FileIo, "missing model file");
  o = vl_options();
  o.model_path = o.mmproj_path;
  CHECK(code_of([&] { kotaro::Model::load(o); }) == ErrorCode::GgufUnsupported, "mmproj as the text model");
  o = vl_options();
  o.mmproj_path = o.model_path;
  CHECK(code_of([&] { kotaro::Model::load(o); }) == ErrorCode::ModelMismatch, "text model as the mmproj");
  o = vl_options();
  o.model_path = fixtures_root() + "/tiny-qwen2-a/llamacpp/model-f32.gguf";
  CHECK(code_of([&] { kotaro::Model::load(o); }) == ErrorCode::ModelMismatch, "qwen2 with an mmproj");
  o.mmproj_path.clear();
  auto text = kotaro::Model::load(o);
  CHECK(text->info().architecture == "qwen2" && text->info().image_pad_token == -1 && !text->info().has_vision, "qwen2 info");
  CHECK(code_of([&] { text->encode_image(kotaro::PixelValues()); }) == ErrorCode::ModelMismatch, "encode without mmproj");
  std::vector<uint8_t> rgb(56 * 56 * 3, 7);
  CHECK(code_of([&] { text->encode_image_rgb(rgb.data(), 56, 56); }) == ErrorCode::ModelMismatch,
        "encode_image_rgb without mmproj");
  o.context_length = 0;
  CHECK(code_of([&] { kotaro::Model::load(o); }) == ErrorCode::InvalidArgument, "context_length 0");
#if !KOTARO_HAS_CUDA
  o = vl_options();
  o.backend = kotaro::BackendKind::Cuda;
  CHECK(code_of([&] { kotaro::Model::load(o); }) == ErrorCode::Cuda, "cuda backend in a CPU-only build");
  o.backend = kotaro::BackendKind::Auto;
  CHECK(kotaro::Model::load(o)->info().backend == "cpu", "auto falls back to cpu");
  CHECK(!kotaro::build_info().cuda_compiled && kotaro::build_info().gpus.empty(), "build info");
#endif
}

int main() {
  try {
    auto m = kotaro::Model::load(vl_options());
    const std::string refs = root() + "/refs";
    const Json manifest = load_manifest(refs);
    const FixtureCase two = load_case(refs, manifest, "two_images");
    const FixtureCase text = load_case(refs, manifest, "text_only");
    incremental_and_rewind(*m, two);
    branch_positions(*m, two);
    stopping_and_cancel(*m, text);
    input_errors(*m, two);
    context_limit();
    info_memory_and_load_errors();
    memory_budget(two);
    load_errors();
  } catch (const std::exception& e) {
    ++failures;
    std::printf("FAIL exception: %s\n", e.what());
  }
  std::printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
