// kotaro_eval: holds the engine to a reference fixture without Node (for GPU machines).
//   kotaro_eval --model m.gguf [--mmproj p.gguf] --refs <fixture>/refs (--case NAME | --all)
//               [--backend cpu|cuda|auto] [--tol REL] [--dump DIR] [--png DIR]
//               [--min-pixels N --max-pixels N] [--kv auto|f32|f16] [--memory-budget BYTES]
//               [--context N]
// For each case: vision tower from the reference pixel_values (--png DIR: from the case's
// PNG files through Model::encode_image_rgb, i.e. the backend's own preprocessing, with the
// fixture processor's pixel limits given by --min-pixels/--max-pixels), prefill with all
// logits, 20 greedy tokens; prints errors against the reference and exits 1 when a case
// fails (vision/logits max relative error above --tol, default 1e-4; positions differ; a
// greedy token differs before the first reference near-tie). --dump writes our arrays under
// the manifest's file names. A load refused by --memory-budget prints the engine's
// OUT_OF_MEMORY message and exits 1.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fixture_eval.h"

using namespace kotaro_tools;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: kotaro_eval --model m.gguf [--mmproj p.gguf] --refs DIR (--case NAME | --all)\n"
               "                   [--backend cpu|cuda|auto] [--tol REL] [--threads N] [--dump DIR] [--png DIR]\n"
               "                   [--min-pixels N] [--max-pixels N] [--kv auto|f32|f16] [--memory-budget BYTES]\n"
               "                   [--context N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, mmproj, refs, one_case, backend = "auto", dump, png, kv = "auto";
  bool all = false;
  double tol = 1e-4;
  int threads = 0;
  kotaro::ModelOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
      return argv[++i];
    };
    try {
      if (a == "--model") model_path = next();
      else if (a == "--mmproj") mmproj = next();
      else if (a == "--refs") refs = next();
      else if (a == "--case") one_case = next();
      else if (a == "--all") all = true;
      else if (a == "--backend") backend = next();
      else if (a == "--tol") tol = std::stod(next());
      else if (a == "--threads") threads = std::stoi(next());
      else if (a == "--dump") dump = next();
      else if (a == "--png") png = next();
      else if (a == "--min-pixels") o.min_pixels = std::stoll(next());
      else if (a == "--max-pixels") o.max_pixels = std::stoll(next());
      else if (a == "--kv") kv = next();
      else if (a == "--memory-budget") o.memory_budget_bytes = std::stoull(next());
      else if (a == "--context") o.context_length = std::stoll(next());
      else return usage();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return usage();
    }
  }
  if (model_path.empty() || refs.empty() || (one_case.empty() == !all)) return usage();
  if (kv != "auto" && kv != "f32" && kv != "f16") return usage();

  try {
    o.kv_cache_type = kv == "f32" ? kotaro::KvCacheType::F32 : kv == "f16" ? kotaro::KvCacheType::F16
                                                                          : kotaro::KvCacheType::Auto;
    o.model_path = model_path;
    o.mmproj_path = mmproj;
    o.threads = threads;
    o.backend = backend == "cpu" ? kotaro::BackendKind::Cpu
                : backend == "cuda" ? kotaro::BackendKind::Cuda
                                    : kotaro::BackendKind::Auto;
    auto model = kotaro::Model::load(o);
    const Json manifest = load_manifest(refs);
    std::vector<std::string> names = all ? case_names(manifest) : std::vector<std::string>{one_case};
    std::printf("model %s (%s, %s, backend %s, kv cache %s)\n", model_path.c_str(),
                model->info().architecture.c_str(), model->info().weight_type.c_str(), model->info().backend.c_str(),
                kv.c_str());
    std::printf("vision input: %s\n", png.empty() ? "reference pixel_values (encode_image)"
                                                   : ("PNG files through encode_image_rgb (" + png + ")").c_str());
    std::printf("%-20s %11s %11s %9s %11s %11s %11s %9s %8s\n", "case", "vision_rel", "vision_abs", "positions",
                "logits_rel", "logits_abs", "top1", "greedy", "gl_rel");
    int failures = 0, skipped = 0;
    for (const std::string& name : names) {
      const FixtureCase c = load_case(refs, manifest, name);
      if (!c.image_grid_thw.empty() && mmproj.empty()) {
        std::printf("%-20s skipped: the case has images and no --mmproj was given\n", name.c_str());
        ++skipped;
        continue;
      }
      const CaseResult r = run_case(*model, c, png);
      const bool ok = (!r.has_vision || r.vision.rel() < tol) && (!r.positions_checked || r.positions_equal) &&
                      r.logits.rel() < tol && r.greedy_ok;
      failures += !ok;
      char top1[32], greedy[32];
      std::snprintf(top1, sizeof top1, "%lld/%lld", (long long)r.top1_agree, (long long)r.top1_rows);
      std::snprintf(greedy, sizeof greedy, "%s%d/%zu", r.greedy_ok ? "" : "X", r.greedy_compared, c.greedy_tokens.size());
      std::printf("%-20s %11.3g %11.3g %9s %11.3g %11.3g %11s %9s %8.2g %s\n", name.c_str(),
                  r.has_vision ? r.vision.rel() : 0.0, r.has_vision ? r.vision.max_abs : 0.0,
                  !r.positions_checked ? "-" : r.positions_equal ? "equal" : "DIFFER", r.logits.rel(), r.logits.max_abs,
                  top1, greedy, r.greedy_logits.rel(), ok ? "ok" : "FAIL");
      if (!dump.empty()) {
        auto file = [&](const char* a) { return dump + "/" + c.arrays.at(name + "." + a).at("file").str; };
        if (r.has_vision) write_raw(file("vision_embeds"), r.our_vision);
        if (c.has((name + ".position_ids").c_str())) write_raw(file("position_ids"), r.our_positions);
        write_raw(file("logits"), r.our_logits);
        write_raw(file("greedy_tokens"), r.our_greedy);
        write_raw(file("greedy_logits"), r.our_greedy_logits);
      }
    }
    const int evaluated = static_cast<int>(names.size()) - skipped;
    const bool pass = failures == 0 && evaluated > 0;
    std::printf("%s: %d passed, %d failed, %d skipped (tolerance %.1g)\n", pass ? "PASS" : "FAIL", evaluated - failures,
                failures, skipped, tol);
    return pass ? 0 : 1;
  } catch (const kotaro::Error& e) {
    std::fprintf(stderr, "error %s: %s\n", e.code_name(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
