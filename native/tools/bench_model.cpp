// bench_model: the engine end to end on synthetic Qwen2.5-VL files, through the public API
// (kotaro/engine.h) as the app drives it: load under a memory budget, encode an image,
// prefill text + image tokens, greedy decode. Reports load time, memory by category, time
// to first token, prefill and decode rates, vision encode time, and the decode roofline
// (weight bytes read per token against the GPU's peak DRAM bandwidth), with an RTX 4060
// estimate from bandwidth alone.
//
//   bench_model --make DIR [--type q4_k_m|q6_k|q8_0] [--tiny] [--threads N]
//       writes DIR/qwen25vl-7b-synthetic-<type>.gguf and DIR/mmproj-qwen25vl-7b-synthetic-f16.gguf
//       (--tiny: a 2-layer, 256-wide model and a 4-block, 128-wide tower for CPU smoke runs;
//       files named tiny-*). Random but valid weights: synthetic_qwen25vl.h.
//   bench_model --model M.gguf --mmproj P.gguf [--backend auto|cpu|cuda] [--budget-mib 7680]
//       [--check-budget-mib 4096] [--prompt 512] [--gen 128] [--image 512x512] [--runs 3]
//       [--context 4096] [--threads N] [--app-sampling]
//       --budget-mib: ModelOptions::memory_budget_bytes (7680 = an 8 GB card less the desktop);
//       --check-budget-mib: first tries a load at that budget and expects the engine's
//       OUT_OF_MEMORY refusal (printed; exit 3 when the load is not refused);
//       --prompt N: N random text tokens around the image (N/2 before <|vision_start|>,
//       the rest after <|vision_end|>); --gen M: M tokens evaluated after the first
//       (stop tokens ignored: the synthetic text is noise); --runs R: R measured runs after
//       one warm-up run, medians reported; --app-sampling: each run also decodes with the
//       app's default sampling (T 0.3, top-k 20, top-p 0.8, repetition penalty 1.2).
// Timing: host wall clock. Prefill ends when the first token is sampled (the sample brings
// its id to the host, so the GPU work before it is complete); decode ms/token is the time
// between the first and the last sampled token over the tokens evaluated in between.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kotaro/engine.h"
#include "kotaro/gguf.h"
#include "kotaro/quant.h"
#include "synthetic_qwen25vl.h"

#if KOTARO_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

using namespace kotaro;
using namespace kotaro_tools;

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }
double mib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

int usage() {
  std::fprintf(stderr,
               "usage: bench_model --make DIR [--type q4_k_m|q6_k|q8_0] [--tiny] [--threads N]\n"
               "       bench_model --model M.gguf [--mmproj P.gguf] [--backend auto|cpu|cuda] [--budget-mib MIB]\n"
               "                   [--check-budget-mib MIB] [--prompt N] [--gen M] [--image WxH] [--runs R]\n"
               "                   [--context N] [--threads N] [--app-sampling]\n");
  return 2;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// --- --make ------------------------------------------------------------------------------

void print_mix(const char* what, const SyntheticFile& f) {
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const auto& t : f.writer.tensors()) {
    auto& e = by_type[type_traits(static_cast<uint32_t>(t.type)).name];
    ++e.first;
    e.second += t.bytes;
  }
  std::printf("%s: %zu tensors, %.1f MiB of data:", what, f.writer.tensors().size(), mib(f.writer.data_bytes()));
  for (const auto& kv : by_type) std::printf("  %s x%d %.1f MiB", kv.first.c_str(), kv.second.first, mib(kv.second.second));
  std::printf("\n");
}

int make_files(const std::string& dir, const std::string& type, bool tiny, int threads) {
  const WeightMix mix = parse_weight_mix(type);
  const SyntheticText tc = tiny ? tiny_text() : qwen25vl_7b_text();
  const SyntheticVision vc = tiny ? tiny_vision() : qwen25vl_7b_vision();
  const std::string stem = tiny ? "tiny-qwen25vl-synthetic" : "qwen25vl-7b-synthetic";
  const std::string model = dir + "/" + stem + "-" + weight_mix_name(mix) + ".gguf";
  const std::string mmproj = dir + "/mmproj-" + stem + "-f16.gguf";
  const SyntheticFile text = synthetic_text_file(tc, mix, tiny ? "Synthetic tiny Qwen2.5 VL (random weights)"
                                                               : "Synthetic Qwen2.5 VL 7B (random weights)");
  const SyntheticFile vision = synthetic_mmproj_file(vc, tiny ? "Synthetic tiny Qwen2.5 VL vision (random weights)"
                                                              : "Synthetic Qwen2.5 VL 7B vision (random weights)");
  print_mix("text model", text);
  if (mix == WeightMix::Q4_K_M) {
    std::printf("  attn_v / ffn_down Q6_K on layers:");
    for (int64_t l = 0; l < tc.n_layer; ++l)
      if (more_bits_layer(l, tc.n_layer)) std::printf(" %lld", static_cast<long long>(l));
    std::printf("; token_embd Q4_K, output Q6_K\n");
  }
  print_mix("mmproj", vision);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(ErrorCode::FileIo, "cannot create '" + dir + "': " + ec.message());
  auto t0 = Clock::now();
  const uint64_t text_size = text.write(model, threads);
  auto t1 = Clock::now();
  const uint64_t vision_size = vision.write(mmproj, threads);
  auto t2 = Clock::now();
  std::printf("wrote %s (%.1f MiB) in %.1f s\n", model.c_str(), mib(text_size), ms_between(t0, t1) / 1e3);
  std::printf("wrote %s (%.1f MiB) in %.1f s\n", mmproj.c_str(), mib(vision_size), ms_between(t1, t2) / 1e3);
  return 0;
}

// --- the benchmark -----------------------------------------------------------------------

struct Options {
  std::string model, mmproj, backend = "auto";
  uint64_t budget_mib = 7680, check_budget_mib = 0;
  int prompt = 512, gen = 128, image_w = 512, image_h = 512, runs = 3, threads = 0;
  int64_t context = 4096;
  bool app_sampling = false;
};

ModelOptions model_options(const Options& o, uint64_t budget_mib) {
  ModelOptions m;
  m.model_path = o.model;
  m.mmproj_path = o.mmproj;
  m.backend = o.backend == "cpu" ? BackendKind::Cpu : o.backend == "cuda" ? BackendKind::Cuda : BackendKind::Auto;
  m.threads = o.threads;
  m.context_length = o.context;
  m.memory_budget_bytes = budget_mib << 20;
  return m;
}

// The bytes one decoded token reads: every tensor of the text file but the embedding table,
// of which one row (the whole table when the output is tied to it).
struct DecodeBytes {
  uint64_t weights = 0;
  std::map<std::string, uint64_t> by_type;
  double layer_params = 0, output_params = 0;  // matrix elements, for FLOP counts
};
DecodeBytes decode_bytes(const GgufFile& f) {
  DecodeBytes d;
  const bool tied = f.find_tensor("output.weight") == nullptr;
  for (const GgufTensor& t : f.tensors()) {
    uint64_t b = t.bytes;
    if (t.name == "token_embd.weight" && !tied) b = t.bytes / static_cast<uint64_t>(t.ne[1]);
    d.weights += b;
    d.by_type[type_traits(t.type_id).name] += b;
    if (t.n_dims >= 2 && t.name.rfind("blk.", 0) == 0) d.layer_params += static_cast<double>(t.n_elements());
    if (t.name == (tied ? "token_embd.weight" : "output.weight")) d.output_params = static_cast<double>(t.n_elements());
  }
  return d;
}

// Peak DRAM bandwidth from the device attributes (2 x memory clock x bus width), as
// bench_kernels computes it; 0 without CUDA.
double peak_bandwidth(std::string* gpu_name) {
#if KOTARO_HAS_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    return 0;
  }
  cudaDeviceProp prop{};
  int mem_khz = 0, bus = 0;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, 0) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs, %.1f GiB, memory 2 x %d MHz x %d bit)", prop.name, prop.major,
                prop.minor, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, mem_khz / 1000, bus);
  *gpu_name = buf;
  return 2.0 * mem_khz * 1e3 * bus / 8.0;
#else
  (void)gpu_name;
  return 0;
#endif
}

// A photo-like RGB8 image: smooth gradients plus noise (the content does not matter to the
// speed; it only must not be constant).
std::vector<uint8_t> synthetic_image(int w, int h) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  std::mt19937 rng(42);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const int v = (x * (c + 1) * 255 / std::max(1, w) + y * (3 - c) * 255 / std::max(1, h)) / 2 + int(rng() % 32) - 16;
        rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
  return rgb;
}

struct MemPeak {
  MemoryReport peak;  // the largest engine total seen, by category at that moment
  uint64_t peak_total = 0, device_used_max = 0;
  void sample(const MemoryReport& r) {
    const uint64_t total = r.weights + r.kv_cache + r.activations + r.workspace;
    if (total >= peak_total) {
      peak_total = total;
      peak = r;
    }
    device_used_max = std::max(device_used_max, r.device_used);
  }
};

void print_memory(const char* when, const MemoryReport& r) {
  std::printf("memory %-22s weights %8.1f MiB | KV %6.1f MiB | activations %6.1f MiB | workspace %6.1f MiB | total %8.1f MiB",
              when, mib(r.weights), mib(r.kv_cache), mib(r.activations), mib(r.workspace),
              mib(r.weights + r.kv_cache + r.activations + r.workspace));
  if (r.device_total) std::printf(" | device %.0f / %.0f MiB", mib(r.device_used), mib(r.device_total));
  std::printf("\n");
}

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

struct Run {
  double preprocess_ms = 0, vision_ms = 0, encode_ms = 0, prefill_ms = 0, ttft_ms = 0, decode_ms_per_token = 0,
         decode_median_interval = 0, app_ms_per_token = 0;
  int decoded = 0;
};

int bench(const Options& o) {
  std::string gpu;
  const double peak_bw = o.backend == "cpu" ? 0 : peak_bandwidth(&gpu);
  const BuildInfo bi = build_info();
  std::printf("bench_model: engine %s, CUDA %s, GPU: %s\n", bi.version.c_str(), bi.cuda_compiled ? "compiled" : "not compiled",
              gpu.empty() ? "none" : gpu.c_str());

  if (o.check_budget_mib) {
    std::printf("\n== load with a %llu MiB budget (expected: refused)\n", static_cast<unsigned long long>(o.check_budget_mib));
    try {
      auto m = Model::load(model_options(o, o.check_budget_mib));
      std::printf("NOT REFUSED: the model loaded within %llu MiB\n", static_cast<unsigned long long>(o.check_budget_mib));
      return 3;
    } catch (const Error& e) {
      std::printf("refused: %s: %s\n", e.code_name(), e.what());
      if (e.code() != ErrorCode::OutOfMemory) return 3;
    }
  }

  std::printf("\n== load with a %llu MiB budget\n", static_cast<unsigned long long>(o.budget_mib));
  auto t0 = Clock::now();
  std::shared_ptr<Model> model = Model::load(model_options(o, o.budget_mib));
  const double load_ms = ms_between(t0, Clock::now());
  const ModelInfo& info = model->info();
  std::printf("loaded in %.2f s: %s '%s', backend %s, weights %s, %lld layers, %lld/%lld heads, vocab %lld, context %lld%s\n",
              load_ms / 1e3, info.architecture.c_str(), info.name.c_str(), info.backend.c_str(), info.weight_type.c_str(),
              static_cast<long long>(info.n_layer), static_cast<long long>(info.n_head),
              static_cast<long long>(info.n_head_kv), static_cast<long long>(info.n_vocab),
              static_cast<long long>(info.context_length), info.has_vision ? ", vision" : "");
  MemPeak peak;
  const MemoryReport after_load = model->memory();
  peak.sample(after_load);
  print_memory("after load", after_load);

  const auto text_file = GgufFile::open(o.model);
  const DecodeBytes db = decode_bytes(*text_file);
  const int64_t head_dim = info.n_embd / info.n_head;

  const std::vector<uint8_t> rgb = synthetic_image(o.image_w, o.image_h);
  const int64_t base = special_base(info.n_vocab);
  std::mt19937 rng(7);
  std::vector<int32_t> text_tokens(static_cast<size_t>(o.prompt));
  for (auto& t : text_tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(base));

  std::unique_ptr<Session> session = model->new_session();
  std::vector<Run> runs;
  int64_t image_tokens = 0, prefill_tokens = 0, image_grid_h = 0, image_grid_w = 0;
  bool finite = true;
  for (int r = 0; r <= o.runs; ++r) {
    Run run;
    session->rewind(0);
    Model::EncodeTimings et;
    auto e0 = Clock::now();
    ImageEmbeds embeds;
    if (info.has_vision) embeds = model->encode_image_rgb(rgb.data(), o.image_w, o.image_h, nullptr, &et);
    auto e1 = Clock::now();
    run.preprocess_ms = et.preprocess_ms;
    run.vision_ms = et.vision_ms;
    run.encode_ms = ms_between(e0, e1);
    peak.sample(model->memory());
    finite = finite && all_finite(embeds.data);

    std::vector<int32_t> tokens(text_tokens.begin(), text_tokens.begin() + o.prompt / 2);
    std::vector<const ImageEmbeds*> images;
    if (info.has_vision) {
      tokens.push_back(info.vision_start_token);
      tokens.insert(tokens.end(), static_cast<size_t>(embeds.n_tokens), info.image_pad_token);
      tokens.push_back(info.vision_end_token);
      images.push_back(&embeds);
      image_tokens = embeds.n_tokens;
      image_grid_h = embeds.grid_h;
      image_grid_w = embeds.grid_w;
    }
    tokens.insert(tokens.end(), text_tokens.begin() + o.prompt / 2, text_tokens.end());
    prefill_tokens = static_cast<int64_t>(tokens.size());

    GenerateOptions g;  // greedy, no penalty, no stop tokens
    g.max_new_tokens = o.gen + 1;
    std::vector<Clock::time_point> stamps;
    auto p0 = Clock::now();
    session->prefill(tokens, images);
    session->generate(g, [&](int32_t) {
      stamps.push_back(Clock::now());
      return true;
    });
    peak.sample(model->memory());
    run.prefill_ms = ms_between(p0, stamps.front());
    run.ttft_ms = run.encode_ms + run.prefill_ms;
    run.decoded = static_cast<int>(stamps.size()) - 1;
    if (run.decoded > 0) {
      run.decode_ms_per_token = ms_between(stamps.front(), stamps.back()) / run.decoded;
      std::vector<double> iv;
      for (size_t i = 1; i < stamps.size(); ++i) iv.push_back(ms_between(stamps[i - 1], stamps[i]));
      run.decode_median_interval = median(iv);
    }
    finite = finite && all_finite(session->last_logits());

    if (o.app_sampling) {
      session->rewind(prefill_tokens);  // back to the prompt's end; its logits are restored
      GenerateOptions a;
      a.sampling.temperature = 0.3f;
      a.sampling.top_k = 20;
      a.sampling.top_p = 0.8f;
      a.sampling.repetition_penalty = 1.2f;
      a.sampling.seed = 1234 + r;
      a.max_new_tokens = o.gen + 1;
      std::vector<Clock::time_point> s2;
      session->generate(a, [&](int32_t) {
        s2.push_back(Clock::now());
        return true;
      });
      if (s2.size() > 1) run.app_ms_per_token = ms_between(s2.front(), s2.back()) / (s2.size() - 1);
      finite = finite && all_finite(session->last_logits());
    }
    char app[64] = "";
    if (o.app_sampling) std::snprintf(app, sizeof app, ", app sampling %.2f ms/token", run.app_ms_per_token);
    std::printf("run %d%s: encode %.1f ms (preprocess %.2f + tower %.1f), prefill %lld tokens %.1f ms, TTFT %.1f ms, "
                "decode %d tokens %.2f ms/token (median interval %.2f)%s\n",
                r, r == 0 ? " (warm-up)" : "", run.encode_ms, run.preprocess_ms, run.vision_ms,
                static_cast<long long>(prefill_tokens), run.prefill_ms, run.ttft_ms, run.decoded, run.decode_ms_per_token,
                run.decode_median_interval, app);
    if (r > 0) runs.push_back(run);
  }
  const MemoryReport after_runs = model->memory();
  peak.sample(after_runs);
  print_memory("after the runs", after_runs);
  print_memory("at the peak", peak.peak);

  auto med = [&](double Run::*f) {
    std::vector<double> v;
    for (const Run& r : runs) v.push_back(r.*f);
    return median(v);
  };
  const double enc = med(&Run::encode_ms), pre = med(&Run::prefill_ms), ttft = med(&Run::ttft_ms);
  const double dec = med(&Run::decode_ms_per_token), tower = med(&Run::vision_ms), prep = med(&Run::preprocess_ms);

  // FLOP counts for the achieved rates (matmuls + attention; norms and rope left out).
  const double n_pre = static_cast<double>(prefill_tokens);
  const double prefill_flop = 2.0 * n_pre * db.layer_params + 2.0 * db.output_params +
                              2.0 * 2.0 * info.n_layer * info.n_head * head_dim * n_pre * (n_pre + 1) / 2.0;
  const int64_t ctx_mid = prefill_tokens + o.gen / 2;
  // The engine's Auto KV type: float16 unless the model is float32; the CPU always float32.
  const double kv_elem = info.backend == "cpu" || info.weight_type == "F32" ? 4.0 : 2.0;
  const double kv_bytes_mid = 2.0 * info.n_layer * info.n_head_kv * head_dim * kv_elem * static_cast<double>(ctx_mid);
  const double bytes_token = static_cast<double>(db.weights) + kv_bytes_mid;

  std::printf("\n== summary (median of %d runs after a warm-up)\n", static_cast<int>(runs.size()));
  std::printf("GPU                 %s\n", gpu.empty() ? "none (CPU backend)" : gpu.c_str());
  std::printf("model               %s + %s\n", o.model.c_str(), o.mmproj.empty() ? "(no mmproj)" : o.mmproj.c_str());
  std::printf("backend             %s, budget %llu MiB, context %lld, KV %s\n", info.backend.c_str(),
              static_cast<unsigned long long>(o.budget_mib), static_cast<long long>(info.context_length),
              kv_elem == 2.0 ? "f16" : "f32");
  std::printf("load                %.2f s\n", load_ms / 1e3);
  if (info.has_vision)
    std::printf("vision encode       %.1f ms (preprocess %.2f ms + tower %.1f ms) for %dx%d -> %lldx%lld patches, %lld tokens\n",
                enc, prep, tower, o.image_w, o.image_h, static_cast<long long>(image_grid_w), static_cast<long long>(image_grid_h),
                static_cast<long long>(image_tokens));
  std::printf("prefill             %lld tokens (%d text + %lld image + 2) in %.1f ms = %.0f tokens/s (%.1f TFLOP/s)\n",
              static_cast<long long>(prefill_tokens), o.prompt, static_cast<long long>(image_tokens), pre,
              n_pre / (pre / 1e3), prefill_flop / (pre / 1e3) / 1e12);
  std::printf("time to first token %.1f ms (encode + prefill + first sample)\n", ttft);
  std::printf("decode              %.2f ms/token = %.1f tokens/s (greedy, %d tokens, context %lld..%lld)\n", dec, 1e3 / dec,
              runs.empty() ? 0 : runs[0].decoded, static_cast<long long>(prefill_tokens),
              static_cast<long long>(prefill_tokens + o.gen));
  if (o.app_sampling) {
    const double app = med(&Run::app_ms_per_token);
    std::printf("decode, app sampling %.2f ms/token = %.1f tokens/s (T 0.3, top-k 20, top-p 0.8, penalty 1.2)\n", app, 1e3 / app);
  }
  std::printf("outputs finite      %s\n", finite ? "yes (image embeddings and logits)" : "NO: NaN or Inf seen");
  std::printf("%s %.1f MiB of the %llu MiB budget (weights %.1f, KV %.1f, activations %.1f, workspace/cached %.1f)\n",
              info.backend == "cuda" ? "VRAM at the peak   " : "memory at the peak ", mib(peak.peak_total),
              static_cast<unsigned long long>(o.budget_mib), mib(peak.peak.weights),
              mib(peak.peak.kv_cache), mib(peak.peak.activations), mib(peak.peak.workspace));
  if (peak.device_used_max)
    std::printf("device memory used  %.1f MiB at most (whole device: the engine + CUDA context + anything else)\n",
                mib(peak.device_used_max));
  std::printf("decode bytes/token  %.3f GB of weights (", db.weights / 1e9);
  bool first = true;
  for (const auto& kv : db.by_type) {
    std::printf("%s%s %.3f", first ? "" : ", ", kv.first.c_str(), kv.second / 1e9);
    first = false;
  }
  std::printf(") + %.1f MB of KV at context %lld = %.3f GB\n", kv_bytes_mid / 1e6, static_cast<long long>(ctx_mid),
              bytes_token / 1e9);
  if (peak_bw > 0) {
    const double floor_ms = bytes_token / peak_bw * 1e3;
    std::printf("decode roofline     %.3f GB / %.0f GB/s peak = %.2f ms/token floor (%.0f tokens/s); measured %.2f ms: %.0f%% of peak "
                "bandwidth (%.0f GB/s)\n",
                bytes_token / 1e9, peak_bw / 1e9, floor_ms, 1e3 / floor_ms, dec, 100.0 * floor_ms / dec,
                bytes_token / (dec / 1e3) / 1e9);
  }
  const double bw4060 = 272e9;
  const double floor4060 = bytes_token / bw4060 * 1e3;
  std::printf("RTX 4060 ESTIMATE   (not measured) %.3f GB / 272 GB/s = %.1f ms/token floor (%.0f tokens/s at most); "
              "at 85%% of its bandwidth %.1f ms (%.0f tokens/s)\n",
              bytes_token / 1e9, floor4060, 1e3 / floor4060, floor4060 / 0.85, 0.85e3 / floor4060);
  return finite ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string make_dir, type = "q4_k_m";
  bool tiny = false;
  int make_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) fail(ErrorCode::InvalidArgument, "missing value after " + a);
        return argv[++i];
      };
      if (a == "--make") make_dir = next();
      else if (a == "--type") type = next();
      else if (a == "--tiny") tiny = true;
      else if (a == "--model") o.model = next();
      else if (a == "--mmproj") o.mmproj = next();
      else if (a == "--backend") o.backend = next();
      else if (a == "--budget-mib") o.budget_mib = std::stoull(next());
      else if (a == "--check-budget-mib") o.check_budget_mib = std::stoull(next());
      else if (a == "--prompt") o.prompt = std::stoi(next());
      else if (a == "--gen") o.gen = std::stoi(next());
      else if (a == "--runs") o.runs = std::stoi(next());
      else if (a == "--context") o.context = std::stoll(next());
      else if (a == "--threads") o.threads = make_threads = std::stoi(next());
      else if (a == "--app-sampling") o.app_sampling = true;
      else if (a == "--image") {
        const std::string v = next();
        if (std::sscanf(v.c_str(), "%dx%d", &o.image_w, &o.image_h) != 2 || o.image_w <= 0 || o.image_h <= 0)
          fail(ErrorCode::InvalidArgument, "--image takes WxH, e.g. 512x512");
      } else return usage();
    }
    if (!make_dir.empty()) return make_files(make_dir, type, tiny, make_threads);
    if (o.model.empty()) return usage();
    if (o.prompt < 0 || o.gen < 1 || o.runs < 1 || (o.backend != "auto" && o.backend != "cpu" && o.backend != "cuda"))
      fail(ErrorCode::InvalidArgument, "--prompt >= 0, --gen >= 1, --runs >= 1, --backend auto|cpu|cuda");
    return bench(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_model: %s: %s\n", e.code_name(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model: %s\n", e.what());
    return 1;
  }
}
