// bench_kernels: the CUDA kernels on synthetic weights of Qwen2.5-VL-7B's shapes (hidden
// 3584, intermediate 18944, 28 layers, 28 heads / 4 KV heads of 128, vocabulary 152064;
// vision 1280 wide, 16 heads of 80), with their rooflines.
//  - ceilings: peak DRAM bandwidth from the device attributes (2 x memory clock x bus
//    width) and a measured device-to-device copy;
//  - matvec (decode) per weight type: GB/s of weight bytes and the fraction of peak;
//    weights rotate over copies larger than L2 so DRAM, not cache, is measured; the
//    quantised types also through the float32-activation kernel (before/after);
//  - matmul on tensor cores (prefill): TFLOP/s;
//  - attention: prefill, decode over a long cache (dense f32 and paged f16), vision;
//  - seam stages (host wall time): sampling one token through Backend::sample against
//    downloading the logits row for the CPU sampler, and image preprocessing on the GPU
//    against the CPU processor + upload.
// Timing: CUDA events around batches of launches after a warm-up, median of 7 batches.
// Inputs are random, never zeros.
//
// usage: bench_kernels [--quick] [--profile]
//   --profile: one launch of each Q4_K matvec (int8 x, then float x) on ffn_up's shape,
//   for a profiler (ncu -k regex:matvec).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kotaro/error.h"
#include "kotaro/quant.h"

#if KOTARO_HAS_CUDA
#include <cuda_runtime_api.h>

#include <chrono>

#include "cuda/attention.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_memory.h"
#include "cuda/kv_cache.h"
#include "cuda/matmul.h"
#endif

#if !KOTARO_HAS_CUDA
int main() {
  std::printf("bench_kernels: this build has no CUDA backend\n");
  return 0;
}
#else

namespace {

using namespace kotaro;
using namespace kotaro::cuda;

struct Bench {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  std::mt19937 rng{1234};
  bool quick = false;

  // Median milliseconds per call of fn over 7 batches of `iters` calls.
  double time_ms(const std::function<void(int)>& fn, int iters) {
    for (int i = 0; i < 3; ++i) fn(i);  // warm-up
    KOTARO_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<double> t;
    for (int b = 0; b < (quick ? 3 : 7); ++b) {
      KOTARO_CUDA_CHECK(cudaEventRecord(start, stream));
      for (int i = 0; i < iters; ++i) fn(i);
      KOTARO_CUDA_CHECK(cudaEventRecord(stop, stream));
      KOTARO_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      KOTARO_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      t.push_back(ms / iters);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }

  void* device_random_floats(size_t n, float scale) {
    std::vector<float> h(n);
    std::uniform_real_distribution<float> d(-scale, scale);
    for (auto& x : h) x = d(rng) + (d(rng) > 0 ? 1e-3f : -1e-3f);
    void* p = nullptr;
    KOTARO_CUDA_CHECK(cudaMalloc(&p, n * 4));
    KOTARO_CUDA_CHECK(cudaMemcpy(p, h.data(), n * 4, cudaMemcpyHostToDevice));
    return p;
  }

  // n_copies weight matrices of random quantised rows (one quantised template row set
  // varied per copy by re-quantising a few rows is unnecessary: bytes are what matter, and
  // each copy is quantised from its own random floats for the first 64 rows, then tiled).
  std::vector<void*> device_weights(GgmlType type, int64_t n_in, int64_t n_out, int n_copies) {
    const size_t rb = row_size(type, n_in);
    const int64_t tile_rows = std::min<int64_t>(n_out, 64);
    std::vector<uint8_t> tile(rb * tile_rows);
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t r = 0; r < tile_rows; ++r) {
      for (auto& x : row) x = d(rng) + 1e-4f;
      quantize_row(type, row.data(), tile.data() + rb * r, n_in);
    }
    std::vector<uint8_t> full(rb * static_cast<size_t>(n_out));
    for (int64_t r = 0; r < n_out; ++r) std::memcpy(full.data() + rb * r, tile.data() + rb * (r % tile_rows), rb);
    std::vector<void*> copies;
    for (int c = 0; c < n_copies; ++c) {
      void* p = nullptr;
      KOTARO_CUDA_CHECK(cudaMalloc(&p, full.size()));
      KOTARO_CUDA_CHECK(cudaMemcpy(p, full.data(), full.size(), cudaMemcpyHostToDevice));
      copies.push_back(p);
    }
    return copies;
  }
};

const char* tname(GgmlType t) { return type_traits(static_cast<uint32_t>(t)).name; }

// Median wall-clock milliseconds of fn over `reps` calls after two warm-up calls.
double wall_ms(const std::function<void()>& fn, int reps) {
  fn();
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Sampling and image preprocessing through the seam, against the host paths they replace.
void bench_seam_stages(Bench& b) {
  std::printf("\n=== seam stages (host wall time, median of 21)\n");
  CudaBackend be(0, 0);
  const int vocab = 152064;
  std::vector<float> logits(vocab);
  std::uniform_real_distribution<float> d(-3.0f, 3.0f);
  for (auto& x : logits) x = d(b.rng);
  for (int i = 0; i < 30; ++i) logits[b.rng() % vocab] += 12.0f;
  Tensor row = be.alloc(DType::F32, 1, vocab, MemoryCategory::Activations);
  be.upload(logits.data(), row);
  std::vector<int32_t> history(1000);
  for (auto& t : history) t = static_cast<int32_t>(b.rng() % vocab);
  std::vector<float> host(vocab);
  struct P {
    const char* name;
    SamplingParams p;
  };
  SamplingParams greedy, nucleus;
  nucleus.temperature = 0.7f;
  nucleus.top_p = 0.9f;
  nucleus.repetition_penalty = 1.1f;
  for (const P& c : {P{"greedy", greedy}, P{"T0.7 top-p0.9 pen1.1", nucleus}}) {
    Sampler gs(c.p), cs(c.p);
    const double gpu = wall_ms([&] { be.sample(row, gs, history); }, 21);
    const double cpu = wall_ms([&] {
      be.download(row, host.data());
      cs.sample(host, history);
    }, 21);
    std::printf("sample %-22s vocab %d, 1000 history: seam (GPU, id only) %.3f ms | download %.0f KB + CPU sampler %.3f ms\n",
                c.name, vocab, gpu, vocab * 4 / 1024.0, cpu);
  }
  ImageProcessorConfig cfg;  // default pixel budget: up to 1,003,520 px
  for (auto wh : {std::pair<int, int>{1920, 1080}, std::pair<int, int>{4032, 3024}}) {
    const int w = wh.first, h = wh.second;
    std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
    for (auto& x : rgb) x = static_cast<uint8_t>(b.rng());
    const double gpu = wall_ms([&] {
      be.preprocess_image(rgb.data(), w, h, cfg);
      be.synchronize();
    }, 21);
    const double cpu = wall_ms([&] {
      const PixelValues px = preprocess_qwen_image(rgb.data(), w, h, cfg);
      Tensor t = be.alloc(DType::F32, int64_t(px.grid_h) * px.grid_w, 1176, MemoryCategory::Activations);
      be.upload(px.data.data(), t);
      be.synchronize();
    }, 5);
    const GpuPixelGrid g = gpu_pixel_grid(w, h, cfg);
    std::printf("preprocess %dx%d -> %dx%d: seam (RGB8 upload + GPU) %.2f ms | CPU processor + upload of %.1f MB floats %.2f ms\n",
                w, h, g.grid_w * 14, g.grid_h * 14, gpu, g.rows * g.row_len * 4 / 1e6, cpu);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Bench b;
  bool profile = false;
  for (int i = 1; i < argc; ++i) {
    b.quick |= std::strcmp(argv[i], "--quick") == 0;
    profile |= std::strcmp(argv[i], "--profile") == 0;
  }
  try {
    int dev = 0;
    cudaDeviceProp prop{};
    KOTARO_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    int mem_clock_khz = 0, bus_bits = 0, sm_clock_khz = 0;
    KOTARO_CUDA_CHECK(cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, dev));
    KOTARO_CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
    KOTARO_CUDA_CHECK(cudaDeviceGetAttribute(&sm_clock_khz, cudaDevAttrClockRate, dev));
    const double peak_bw = 2.0 * mem_clock_khz * 1e3 * bus_bits / 8.0;  // bytes/s (double data rate)
    KOTARO_CUDA_CHECK(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking));
    KOTARO_CUDA_CHECK(cudaEventCreate(&b.start));
    KOTARO_CUDA_CHECK(cudaEventCreate(&b.stop));
    std::printf("bench_kernels: %s, sm_%d%d, %d SMs, SM clock %.0f MHz, L2 %.0f MB\n", prop.name, prop.major,
                prop.minor, prop.multiProcessorCount, sm_clock_khz / 1e3, prop.l2CacheSize / 1e6);
    std::printf("peak DRAM bandwidth (2 x %d MHz x %d bit): %.0f GB/s\n", mem_clock_khz / 1000, bus_bits, peak_bw / 1e9);

    if (profile) {
      void* xp = b.device_random_floats(3584, 1.0f);
      void* yp = b.device_random_floats(18944, 1.0f);
      auto w = b.device_weights(GgmlType::Q4_K, 3584, 18944, 1);
      DeviceWeight dw;
      dw.type = GgmlType::Q4_K;
      dw.data = w[0];
      dw.row_bytes = row_size(GgmlType::Q4_K, 3584);
      dw.n_in = 3584;
      dw.n_out = 18944;
      launch_matvec(dw, static_cast<float*>(xp), nullptr, static_cast<float*>(yp), b.stream);        // int8 x
      launch_matvec_float(dw, static_cast<float*>(xp), nullptr, static_cast<float*>(yp), b.stream);  // float x
      KOTARO_CUDA_CHECK(cudaStreamSynchronize(b.stream));
      std::printf("profile launches done\n");
      return 0;
    }
    // Measured copy ceiling: bytes read + written.
    {
      const size_t bytes = size_t(1) << 30;
      void *src = nullptr, *dst = nullptr;
      KOTARO_CUDA_CHECK(cudaMalloc(&src, bytes));
      KOTARO_CUDA_CHECK(cudaMalloc(&dst, bytes));
      KOTARO_CUDA_CHECK(cudaMemset(src, 1, bytes));
      const double ms = b.time_ms([&](int) { KOTARO_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, b.stream)); }, 5);
      std::printf("measured device-to-device copy: %.0f GB/s (read + write)\n\n", 2.0 * bytes / (ms * 1e-3) / 1e9);
      cudaFree(src);
      cudaFree(dst);
    }

    // --- matvec -----------------------------------------------------------------------
    // Quantised types run twice: the decode path (x rounded to int8 per block of 32,
    // __dp4a; "i8x") and the float32-activation kernel it replaced ("f32x", still the
    // fallback), on the same weights in the same run.
    struct Shape {
      const char* name;
      int64_t n_in, n_out;
    };
    const Shape shapes[] = {{"attn_q 3584->3584", 3584, 3584},
                            {"attn_kv 3584->512", 3584, 512},
                            {"ffn_up 3584->18944", 3584, 18944},
                            {"ffn_down 18944->3584", 18944, 3584},
                            {"lm_head 3584->152064", 3584, 152064}};
    const GgmlType mv_types[] = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16, GgmlType::BF16};
    std::printf("%-8s %-22s %-5s %10s %10s %9s %9s\n", "matvec", "shape", "x", "MB", "us", "GB/s", "of peak");
    void* x = b.device_random_floats(152064, 1.0f);
    void* y = b.device_random_floats(152064, 1.0f);
    double decode_us[5][2] = {};  // [type][0: decode path, 1: f32x kernel]
    for (int ti = 0; ti < 5; ++ti) {
      const GgmlType t = mv_types[ti];
      for (const Shape& s : shapes) {
        const size_t bytes = row_size(t, s.n_in) * static_cast<size_t>(s.n_out);
        const int copies = static_cast<int>(std::max<size_t>(2, (4 * static_cast<size_t>(prop.l2CacheSize)) / bytes + 1));
        auto w = b.device_weights(t, s.n_in, s.n_out, std::min(copies, 256));
        DeviceWeight dw;
        dw.type = t;
        dw.row_bytes = row_size(t, s.n_in);
        dw.n_in = s.n_in;
        dw.n_out = s.n_out;
        const bool int8_x = matvec_int8_activations(dw);
        // variants: 0 the decode path, 1 the f32x kernel, 2..4 the int8 kernel with 1, 2, 4
        // rows per warp forced (which R suits which shape; not in the decode estimate)
        for (int variant = 0; variant < (int8_x ? 5 : 1); ++variant) {
          const int forced_rows = variant >= 2 ? 1 << (variant - 2) : 0;
          if (t == GgmlType::Q8_0 && forced_rows == 4) continue;  // runs as 2
          const double ms = b.time_ms(
              [&](int i) {
                dw.data = w[i % w.size()];
                if (variant == 0)
                  launch_matvec(dw, static_cast<float*>(x), nullptr, static_cast<float*>(y), b.stream);
                else if (variant == 1)
                  launch_matvec_float(dw, static_cast<float*>(x), nullptr, static_cast<float*>(y), b.stream);
                else
                  launch_matvec_int8(dw, static_cast<float*>(x), nullptr, static_cast<float*>(y), forced_rows, b.stream);
              },
              50);
          const std::string xname = variant >= 2 ? "r" + std::to_string(forced_rows)
                                     : variant == 1 || !int8_x ? "f32x" : "i8x";
          if (variant >= 2) {
            std::printf("%-8s %-22s %-5s %10s %10.1f %9.0f %8.0f%%\n", tname(t), s.name, xname.c_str(), "", ms * 1e3,
                        bytes / (ms * 1e-3) / 1e9, 100.0 * bytes / (ms * 1e-3) / peak_bw);
            continue;
          }
          std::printf("%-8s %-22s %-5s %10.1f %10.1f %9.0f %8.0f%%\n", tname(t), s.name, xname.c_str(), bytes / 1e6, ms * 1e3,
                      bytes / (ms * 1e-3) / 1e9, 100.0 * bytes / (ms * 1e-3) / peak_bw);
          // Decode estimate per layer: q and o (attn_q), k and v (attn_kv), gate and up
          // (ffn_up), down (ffn_down); 28 layers, then lm_head.
          const double us = ms * 1e3;
          for (int slot = variant; slot < (int8_x ? variant + 1 : 2); ++slot) {
            if (std::strcmp(s.name, "attn_q 3584->3584") == 0) decode_us[ti][slot] += 28 * 2 * us;
            if (std::strcmp(s.name, "attn_kv 3584->512") == 0) decode_us[ti][slot] += 28 * 2 * us;
            if (std::strcmp(s.name, "ffn_up 3584->18944") == 0) decode_us[ti][slot] += 28 * 2 * us;
            if (std::strcmp(s.name, "ffn_down 18944->3584") == 0) decode_us[ti][slot] += 28 * us;
            if (std::strcmp(s.name, "lm_head 3584->152064") == 0) decode_us[ti][slot] += us;
          }
        }
        for (void* p : w) cudaFree(p);
      }
    }
    std::printf("\ndecode matvec time per token, 7B (28 layers + lm_head, all one type; from the rates above):\n");
    for (int ti = 0; ti < 5; ++ti)
      std::printf("  %-6s %8.2f ms  (%.1f tokens/s upper bound from weights alone)   f32x kernel: %8.2f ms\n",
                  tname(mv_types[ti]), decode_us[ti][0] / 1e3, 1e6 / decode_us[ti][0], decode_us[ti][1] / 1e3);

    // --- matmul (prefill) ---------------------------------------------------------------
    std::printf("\n%-8s %-30s %10s %10s\n", "matmul", "shape (tokens x in -> out)", "ms", "TFLOP/s");
    const GgmlType mm_types[] = {GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::F16, GgmlType::BF16, GgmlType::Q6_K};
    struct MmShape {
      int64_t tokens, n_in, n_out;
    };
    // 7B ffn gate/up at two prompt lengths for every type; for Q4_K and F16 also the 7B
    // attention projection and ffn_down at 512 tokens and the vision tower's MLP and
    // projection at a 512x512 image (1296 patches).
    const MmShape all_shapes[] = {{512, 3584, 18944}, {2048, 3584, 18944}};
    const MmShape extra_shapes[] = {{512, 3584, 3584}, {512, 18944, 3584}, {1296, 1280, 3420}, {1296, 1280, 1280}};
    for (GgmlType t : mm_types) {
      std::vector<MmShape> shapes(std::begin(all_shapes), std::end(all_shapes));
      if (t == GgmlType::Q4_K || t == GgmlType::F16) shapes.insert(shapes.end(), std::begin(extra_shapes), std::end(extra_shapes));
      for (const MmShape& sh : shapes) {
        const int64_t tokens = sh.tokens, n_in = sh.n_in, n_out = sh.n_out;
        auto w = b.device_weights(t, n_in, n_out, 1);
        void* xm = b.device_random_floats(static_cast<size_t>(tokens * n_in), 1.0f);
        void* ym = nullptr;
        KOTARO_CUDA_CHECK(cudaMalloc(&ym, static_cast<size_t>(tokens * n_out) * 4));
        DeviceWeight dw;
        dw.type = t;
        dw.data = w[0];
        dw.row_bytes = row_size(t, n_in);
        dw.n_in = n_in;
        dw.n_out = n_out;
        const double ms = b.time_ms(
            [&](int) { launch_matmul_mma(dw, static_cast<float*>(xm), tokens, nullptr, static_cast<float*>(ym), b.stream); },
            5);
        const double flops = 2.0 * tokens * n_in * n_out;
        std::printf("%-8s %-30s %10.3f %10.1f\n", tname(t),
                    (std::to_string(tokens) + " x " + std::to_string(n_in) + " -> " + std::to_string(n_out) + " (mma)").c_str(), ms, flops / (ms * 1e-3) / 1e12);
        if (t == GgmlType::F16 && tokens == 512 && n_out == 18944) {
          const double ms2 = b.time_ms(
              [&](int) { launch_matmul_simt(dw, static_cast<float*>(xm), tokens, nullptr, static_cast<float*>(ym), b.stream); },
              3);
          std::printf("%-8s %-30s %10.3f %10.1f\n", tname(t), "512 x 3584 -> 18944 (simt f32)", ms2,
                      flops / (ms2 * 1e-3) / 1e12);
        }
        cudaFree(w[0]);
        cudaFree(xm);
        cudaFree(ym);
      }
    }

    // --- attention --------------------------------------------------------------------
    std::printf("\n%-44s %10s %12s\n", "attention", "ms", "GFLOP/s");
    DeviceMemory mem(dev, 0);
    auto run_attention = [&](const char* name, AttentionArgs a, double flops) {
      const size_t ws_bytes = attention_workspace_bytes(a, prop.multiProcessorCount);
      void* ws = nullptr;
      if (ws_bytes) KOTARO_CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
      const double ms = b.time_ms([&](int) { attention(a, prop.multiProcessorCount, ws, b.stream); }, 10);
      std::printf("%-44s %10.3f %12.0f\n", name, ms, flops / (ms * 1e-3) / 1e9);
      if (ws) cudaFree(ws);
      return ms;
    };
    {
      // Text prefill: 1024 tokens, causal, dense f32 cache.
      const int n = 1024, H = 28, KV = 4, D = 128;
      void* q = b.device_random_floats(size_t(n) * H * D, 1.0f);
      void* o = b.device_random_floats(size_t(n) * H * D, 1.0f);
      void* k = b.device_random_floats(size_t(n) * KV * D, 1.0f);
      void* v = b.device_random_floats(size_t(n) * KV * D, 1.0f);
      AttentionArgs a;
      a.q = static_cast<float*>(q);
      a.out = static_cast<float*>(o);
      a.q_stride = a.out_stride = H * D;
      a.n_q = n;
      a.n_head = H;
      a.n_kv_head = KV;
      a.head_dim = D;
      a.scale = 1.0f / std::sqrt(float(D));
      a.k = k;
      a.v = v;
      a.kv_stride = KV * D;
      run_attention("text prefill 1024 tok, 28/4 heads, d128", a, 2.0 * 2.0 * H * D * n * (n + 1) / 2.0);
      // Decode: 1 token over 4096 cached rows, f32 dense and f16 paged.
      void* kl = b.device_random_floats(size_t(4096) * KV * D, 1.0f);
      void* vl = b.device_random_floats(size_t(4096) * KV * D, 1.0f);
      a.n_q = 1;
      a.n_past = 4095;
      a.k = kl;
      a.v = vl;
      const double ms32 = run_attention("decode 1 tok over 4096, f32 dense", a, 2.0 * 2.0 * H * D * 4096);
      std::printf("   (KV bytes %.1f MB -> %.0f GB/s)\n", 2.0 * 4096 * KV * D * 4 / 1e6,
                  2.0 * 4096 * KV * D * 4 / (ms32 * 1e-3) / 1e9);
      KvCacheConfig cfg;
      cfg.n_layer = 1;
      cfg.n_kv_head = KV;
      cfg.head_dim = D;
      PagedKvCache cache(cfg, PagedKvCache::block_bytes(cfg) * 260, mem, b.stream);
      const int seq = cache.new_sequence();
      cache.reserve(seq, 4096);
      for (int r0 = 0; r0 < 4096; r0 += 1024)
        cache.store(seq, 0, static_cast<float*>(kl) + size_t(r0) * KV * D, static_cast<float*>(vl) + size_t(r0) * KV * D,
                    KV * D, 1024, r0);
      cache.bind(seq, 0, a);
      const double ms16 = run_attention("decode 1 tok over 4096, f16 paged (16/blk)", a, 2.0 * 2.0 * H * D * 4096);
      std::printf("   (KV bytes %.1f MB -> %.0f GB/s)\n", 2.0 * 4096 * KV * D * 2 / 1e6,
                  2.0 * 4096 * KV * D * 2 / (ms16 * 1e-3) / 1e9);
      for (void* p : {q, o, k, v, kl, vl}) cudaFree(p);
    }
    {
      // Vision: 4096 patches (a ~900x900 image), 16 heads of 80; full and 64-patch windows.
      const int n = 4096, H = 16, D = 80;
      void* q = b.device_random_floats(size_t(n) * H * D, 1.0f);
      void* k = b.device_random_floats(size_t(n) * H * D, 1.0f);
      void* v = b.device_random_floats(size_t(n) * H * D, 1.0f);
      void* o = b.device_random_floats(size_t(n) * H * D, 1.0f);
      std::vector<int32_t> full = {0, n}, win;
      for (int s = 0; s <= n; s += 64) win.push_back(s);
      int32_t *d_full = nullptr, *d_win = nullptr;
      KOTARO_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d_full), full.size() * 4));
      KOTARO_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d_win), win.size() * 4));
      KOTARO_CUDA_CHECK(cudaMemcpy(d_full, full.data(), full.size() * 4, cudaMemcpyHostToDevice));
      KOTARO_CUDA_CHECK(cudaMemcpy(d_win, win.data(), win.size() * 4, cudaMemcpyHostToDevice));
      AttentionArgs a;
      a.q = static_cast<float*>(q);
      a.out = static_cast<float*>(o);
      a.q_stride = a.out_stride = H * D;
      a.n_q = n;
      a.n_head = a.n_kv_head = H;
      a.head_dim = D;
      a.scale = 1.0f / std::sqrt(float(D));
      a.k = k;
      a.v = v;
      a.kv_stride = H * D;
      a.causal = false;
      a.seg_bounds = d_full;
      a.n_seg = 1;
      run_attention("vision full 4096 patches, 16 heads, d80", a, 2.0 * 2.0 * H * D * double(n) * n);
      a.seg_bounds = d_win;
      a.n_seg = static_cast<int>(win.size()) - 1;
      run_attention("vision windows of 64, 4096 patches", a, 2.0 * 2.0 * H * D * double(n) * 64);
      for (void* p : {q, k, v, o}) cudaFree(p);
      cudaFree(d_full);
      cudaFree(d_win);
    }
    cudaFree(x);
    cudaFree(y);
    bench_seam_stages(b);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_kernels: %s: %s\n", e.code_name(), e.what());
    return 1;
  }
  return 0;
}

#endif
