// Both fixtures' llama.cpp files through every case on the CPU backend:
//  - f32: vision embeddings and logits within 1e-4 relative (max|a-b| / max|b|), M-RoPE
//    positions equal, 20 greedy tokens equal up to the first reference near-tie;
//  - f16 / q8_0: quantisation error, so only bounded error and high top-1 agreement;
//  - the whole image path from the PNG (engine preprocessing + vision tower).
#include <cstdio>
#include <string>

#include "../tools/fixture_eval.h"
#include "../tools/png_decode.h"
#include "test_check.h"

using namespace kotaro_tools;


struct Bounds {
  double rel;            // vision and logits max relative error
  double min_top1;       // top-1 agreement over rows without a reference near-tie
  bool greedy_exact;     // greedy tokens must match
};

static std::shared_ptr<kotaro::Model> load(const std::string& model, const std::string& mmproj) {
  kotaro::ModelOptions o;
  o.model_path = model;
  o.mmproj_path = mmproj;
  o.backend = kotaro::BackendKind::Cpu;
  return kotaro::Model::load(o);
}

static void run_fixture(const std::string& fixture, const std::string& quant, bool vision, const Bounds& b) {
  const std::string root = fixtures_root() + "/" + fixture;
  auto model = load(root + "/llamacpp/model-" + quant + ".gguf", vision ? root + "/llamacpp/mmproj-" + quant + ".gguf" : "");
  const Json manifest = load_manifest(root + "/refs");
  int64_t agree = 0, rows = 0;
  double worst_logits = 0, worst_vision = 0;
  for (const std::string& name : case_names(manifest)) {
    const FixtureCase c = load_case(root + "/refs", manifest, name);
    const CaseResult r = run_case(*model, c);
    std::printf("%-16s %-5s %-20s vision %9.3g  logits %9.3g  top1 %4lld/%-4lld greedy %s%2d/%zu  greedy-logits %9.3g\n",
                fixture.c_str(), quant.c_str(), name.c_str(), r.has_vision ? r.vision.rel() : 0.0, r.logits.rel(),
                (long long)r.top1_agree, (long long)r.top1_rows, r.greedy_ok ? "" : "X", r.greedy_compared,
                c.greedy_tokens.size(), r.greedy_logits.rel());
    agree += r.top1_clear_agree;
    rows += r.top1_clear_rows;
    worst_logits = std::max(worst_logits, r.logits.rel());
    if (r.has_vision) worst_vision = std::max(worst_vision, r.vision.rel());
    CHECK(!r.positions_checked || r.positions_equal, "%s %s %s: position ids differ", fixture.c_str(), quant.c_str(), name.c_str());
    CHECK(r.top1_rows == static_cast<int64_t>(c.input_ids.size()), "%s: logits shape", name.c_str());
    if (b.greedy_exact)
      CHECK(r.greedy_ok && r.greedy_compared > 0, "%s %s %s: greedy tokens differ at step %d", fixture.c_str(),
            quant.c_str(), name.c_str(), r.greedy_first_mismatch);
  }
  const double top1 = rows ? static_cast<double>(agree) / rows : 0.0;
  std::printf("%-16s %-5s worst vision rel %.3g, worst logits rel %.3g, top-1 agreement %.4f (%lld/%lld rows)\n",
              fixture.c_str(), quant.c_str(), worst_vision, worst_logits, top1, (long long)agree, (long long)rows);
  CHECK(worst_vision < b.rel && worst_logits < b.rel, "%s %s: error above %.3g", fixture.c_str(), quant.c_str(), b.rel);
  CHECK(top1 >= b.min_top1, "%s %s: top-1 agreement %.4f below %.4f", fixture.c_str(), quant.c_str(), top1, b.min_top1);
}

// PNG -> engine preprocessing -> vision tower, against the reference vision embeddings.
static void image_path_from_png() {
  const std::string root = fixtures_root() + "/tiny-qwen25vl-a";
  const Json pre = JsonParser(read_text(root + "/hf/preprocessor_config.json")).parse();
  kotaro::ModelOptions o;
  o.model_path = root + "/llamacpp/model-f32.gguf";
  o.mmproj_path = root + "/llamacpp/mmproj-f32.gguf";
  o.backend = kotaro::BackendKind::Cpu;
  o.min_pixels = static_cast<int64_t>(pre.at("size").at("shortest_edge").num);
  o.max_pixels = static_cast<int64_t>(pre.at("size").at("longest_edge").num);
  auto model = kotaro::Model::load(o);
  const Json manifest = load_manifest(root + "/refs");
  for (const std::string& name : case_names(manifest)) {
    const FixtureCase c = load_case(root + "/refs", manifest, name);
    if (c.images.empty()) continue;
    std::vector<float> embeds, embeds_rgb;
    for (const std::string& file : c.images) {
      const RgbImage img = read_png(root + "/images/" + file);
      const kotaro::ImageEmbeds e = model->encode_image(model->preprocess_image(img.rgb.data(), img.width, img.height));
      embeds.insert(embeds.end(), e.data.begin(), e.data.end());
      // The one-call path (preprocessing on the backend) gives the very same values.
      const kotaro::ImageEmbeds r = model->encode_image_rgb(img.rgb.data(), img.width, img.height);
      CHECK(r.grid_h == e.grid_h && r.grid_w == e.grid_w && r.n_tokens == e.n_tokens, "%s: rgb path grid", file.c_str());
      embeds_rgb.insert(embeds_rgb.end(), r.data.begin(), r.data.end());
    }
    const Diff d = diff(embeds, c.vision_embeds);
    std::printf("from PNG %-20s vision embeds rel err %.3g\n", name.c_str(), d.rel());
    CHECK(d.rel() < 1e-4, "%s: vision from PNG rel err %.3g", name.c_str(), d.rel());
    CHECK(embeds_rgb == embeds, "%s: encode_image_rgb differs from preprocess_image + encode_image", name.c_str());
  }
}

int main() {
  try {
    const Bounds f32{1e-4, 1.0, true};
    run_fixture("tiny-qwen2-a", "f32", false, f32);
    run_fixture("tiny-qwen25vl-a", "f32", true, f32);
    image_path_from_png();
    // Quantised files: the error is the weights' rounding, not ours; bounds are loose but
    // would catch a wrong dequantisation (which gives errors of order 1 and random top-1).
    run_fixture("tiny-qwen2-a", "f16", false, {2e-3, 0.98, false});
    run_fixture("tiny-qwen25vl-a", "f16", true, {2e-3, 0.98, false});
    run_fixture("tiny-qwen2-a", "q8_0", false, {5e-2, 0.90, false});
    run_fixture("tiny-qwen25vl-a", "q8_0", true, {5e-2, 0.90, false});
  } catch (const std::exception& e) {
    ++failures;
    std::printf("FAIL exception: %s\n", e.what());
  }
  std::printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
