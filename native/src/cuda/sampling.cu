// GPU sampler kernel (see sampling.h). Phases run in one block, separated by barriers;
// the working logits live in global memory (L2-resident: 600 KB for a 152k vocabulary).
#include <cmath>
#include <string>
#include <unordered_set>

#include "cuda/common.cuh"
#include "cuda/sampling.h"
#include "kotaro/error.h"
#include "runtime/sampler.h"

namespace kotaro::cuda {

namespace {

constexpr int kThreads = 1024, kWarps = kThreads / kWarpSize;
constexpr double kFixedOne = 72057594037927936.0;  // 2^56: probability fixed point

// Unsigned key whose order is the float order (-inf smallest).
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_float(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

struct Shared {
  float red_f[kWarps];
  double red_d[kWarps];
  int red_i[kWarps];
  unsigned long long red_u[kWarps];
  unsigned int hist_count[256];
  unsigned long long hist_mass[256];
  uint32_t prefix;
  unsigned long long below;  // fixed-point mass under the selected prefix
  int token;
};

__device__ float block_max(Shared& sh, float v) {
  v = warp_max(v);
  __syncthreads();
  if (threadIdx.x % kWarpSize == 0) sh.red_f[threadIdx.x / kWarpSize] = v;
  __syncthreads();
  float r = sh.red_f[0];
  for (int i = 1; i < kWarps; ++i) r = fmaxf(r, sh.red_f[i]);
  return r;
}

__device__ double block_sum(Shared& sh, double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (threadIdx.x % kWarpSize == 0) sh.red_d[threadIdx.x / kWarpSize] = v;
  __syncthreads();
  double r = 0;
  for (int i = 0; i < kWarps; ++i) r += sh.red_d[i];
  return r;
}

// First index of the maximum (std::max_element semantics).
__device__ int block_argmax(Shared& sh, const float* w, int n) {
  float best = -INFINITY;
  int idx = INT_MAX;
  for (int i = threadIdx.x; i < n; i += kThreads)
    if (w[i] > best || (w[i] == best && i < idx)) { best = w[i]; idx = i; }
  const float m = block_max(sh, best);
  int cand = (best == m) ? idx : INT_MAX;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) cand = min(cand, __shfl_xor_sync(0xffffffffu, cand, o));
  __syncthreads();
  if (threadIdx.x % kWarpSize == 0) sh.red_i[threadIdx.x / kWarpSize] = cand;
  __syncthreads();
  int r = INT_MAX;
  for (int i = 0; i < kWarps; ++i) r = min(r, sh.red_i[i]);
  return r == INT_MAX ? 0 : r;
}

// Exclusive scan of one value per thread, in thread order; returns this thread's prefix.
__device__ unsigned long long block_exclusive_scan(Shared& sh, unsigned long long v) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  unsigned long long incl = v;
#pragma unroll
  for (int o = 1; o < kWarpSize; o <<= 1) {
    const unsigned long long t = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += t;
  }
  __syncthreads();
  if (lane == kWarpSize - 1) sh.red_u[warp] = incl;
  __syncthreads();
  unsigned long long base = 0;
  for (int i = 0; i < warp; ++i) base += sh.red_u[i];
  return base + incl - v;
}

__device__ double block_exclusive_scan_d(Shared& sh, double v) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  double incl = v;
#pragma unroll
  for (int o = 1; o < kWarpSize; o <<= 1) {
    const double t = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += t;
  }
  __syncthreads();
  if (lane == kWarpSize - 1) sh.red_d[warp] = incl;
  __syncthreads();
  double base = 0;
  for (int i = 0; i < warp; ++i) base += sh.red_d[i];
  return base + incl - v;
}

// Adds `mass` to hist[bin] with one atomic per distinct bin per warp (the radix passes put
// most of a warp's elements in the same bin). bin < 0: nothing to add. All lanes call.
__device__ void add_mass_aggregated(unsigned long long* hist, int bin, unsigned long long mass) {
  const unsigned peers = __match_any_sync(0xffffffffu, bin);
  unsigned long long sum = 0;
  for (int l = 0; l < kWarpSize; ++l) {
    const unsigned long long v = __shfl_sync(0xffffffffu, mass, l);
    if ((peers >> l) & 1u) sum += v;
  }
  if (bin >= 0 && (__ffs(peers) - 1) == static_cast<int>(threadIdx.x % kWarpSize)) atomicAdd(&hist[bin], sum);
}

__device__ void add_count_aggregated(unsigned int* hist, int bin) {
  const unsigned peers = __match_any_sync(0xffffffffu, bin);
  if (bin >= 0 && (__ffs(peers) - 1) == static_cast<int>(threadIdx.x % kWarpSize)) atomicAdd(&hist[bin], __popc(peers));
}

// Key of the k-th largest value (1-based k), by four 8-bit radix passes from the top byte.
__device__ uint32_t select_kth_largest(Shared& sh, const float* w, int n, int k) {
  uint32_t prefix = 0, mask = 0;
  int remaining = k;
  const int n_round = (n + kThreads - 1) / kThreads * kThreads;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += kThreads) sh.hist_count[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n_round; i += kThreads) {
      int bin = -1;
      if (i < n) {
        const uint32_t key = order_key(w[i]);
        if ((key & mask) == prefix) bin = (key >> shift) & 255;
      }
      add_count_aggregated(sh.hist_count, bin);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int d = 255;
      for (; d > 0; --d) {
        if (static_cast<int>(sh.hist_count[d]) >= remaining) break;
        remaining -= sh.hist_count[d];
      }
      sh.prefix = prefix | (static_cast<uint32_t>(d) << shift);
      sh.red_i[0] = remaining;
    }
    __syncthreads();
    prefix = sh.prefix;
    remaining = sh.red_i[0];
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}

__device__ __forceinline__ unsigned long long fixed_mass(float s, float mx, double inv_sum) {
  if (s == -INFINITY) return 0;
  return static_cast<unsigned long long>(exp(static_cast<double>(s) - mx) * inv_sum * kFixedOne + 0.5);
}

// top-p as transformers: ascending (stable) order, drop the prefix whose cumulative
// probability is <= 1 - top_p, never the last (most likely) token.
__device__ void apply_top_p(Shared& sh, float* w, int n, float top_p) {
  const float mx = block_max(sh, [&] {
    float m = -INFINITY;
    for (int i = threadIdx.x; i < n; i += kThreads) m = fmaxf(m, w[i]);
    return m;
  }());
  double part = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) part += exp(static_cast<double>(w[i]) - mx);
  const double inv_sum = 1.0 / block_sum(sh, part);
  const unsigned long long cut =
      static_cast<unsigned long long>((1.0 - static_cast<double>(top_p)) * kFixedOne + 0.5);

  // Smallest key K with mass(key <= K) > cut.
  uint32_t prefix = 0, mask = 0;
  unsigned long long below = 0;
  const int n_round = (n + kThreads - 1) / kThreads * kThreads;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += kThreads) sh.hist_mass[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n_round; i += kThreads) {
      int bin = -1;
      unsigned long long m = 0;
      if (i < n) {
        const uint32_t key = order_key(w[i]);
        if ((key & mask) == prefix) {
          bin = (key >> shift) & 255;
          m = fixed_mass(w[i], mx, inv_sum);
        }
      }
      add_mass_aggregated(sh.hist_mass, bin, m);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned long long acc = below;
      int d = 0, last_nonempty = 0;
      for (; d < 256; ++d) {
        if (sh.hist_mass[d] > 0) last_nonempty = d;
        if (acc + sh.hist_mass[d] > cut) break;
        acc += sh.hist_mass[d];
      }
      if (d == 256) {  // rounding kept the total at or under the cut: settle on the top bin
        d = last_nonempty;
        acc -= sh.hist_mass[d];
      }
      sh.prefix = prefix | (static_cast<uint32_t>(d) << shift);
      sh.below = acc;
    }
    __syncthreads();
    prefix = sh.prefix;
    below = sh.below;
    mask |= 255u << shift;
    __syncthreads();
  }
  const uint32_t K = prefix;

  // The last element of the ascending order: the maximum with the highest index.
  int last = -1;
  for (int i = threadIdx.x; i < n; i += kThreads)
    if (w[i] == mx) last = max(last, i);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) last = max(last, __shfl_xor_sync(0xffffffffu, last, o));
  __syncthreads();
  if (threadIdx.x % kWarpSize == 0) sh.red_i[threadIdx.x / kWarpSize] = last;
  __syncthreads();
  last = -1;
  for (int i = 0; i < kWarps; ++i) last = max(last, sh.red_i[i]);

  // Keys below K go, keys above stay; ties at K go in index order while the running
  // cumulative stays <= cut. Each thread walks a contiguous segment in index order.
  const int seg = (n + kThreads - 1) / kThreads;
  const int s0 = min(n, static_cast<int>(threadIdx.x) * seg), s1 = min(n, s0 + seg);
  unsigned long long tie_mass = 0;
  for (int i = s0; i < s1; ++i)
    if (order_key(w[i]) == K) tie_mass += fixed_mass(w[i], mx, inv_sum);
  unsigned long long cum = below + block_exclusive_scan(sh, tie_mass);
  __syncthreads();
  for (int i = s0; i < s1; ++i) {
    const uint32_t key = order_key(w[i]);
    if (i == last) continue;
    if (key < K) {
      w[i] = -INFINITY;
    } else if (key == K) {
      cum += fixed_mass(w[i], mx, inv_sum);
      if (cum <= cut) w[i] = -INFINITY;
    }
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads) sample_kernel(SampleArgs a, float* w, int32_t* token) {
  __shared__ Shared sh;
  const int n = a.n_vocab;
  for (int i = threadIdx.x; i < n; i += kThreads) w[i] = a.logits[i];
  __syncthreads();
  if (a.repetition_penalty != 1.0f) {
    for (int j = threadIdx.x; j < a.n_penalty; j += kThreads) {  // ids are distinct
      const int id = a.penalty_ids[j];
      const float s = w[id];
      w[id] = s < 0 ? s * a.repetition_penalty : s / a.repetition_penalty;
    }
    __syncthreads();
  }
  if (a.temperature <= 0.0f) {
    const int best = block_argmax(sh, w, n);
    if (threadIdx.x == 0) *token = best;
    return;
  }
  if (a.temperature != 1.0f) {
    for (int i = threadIdx.x; i < n; i += kThreads) w[i] = w[i] / a.temperature;
    __syncthreads();
  }
  if (a.top_k > 0 && a.top_k < n) {
    const float kth = key_float(select_kth_largest(sh, w, n, a.top_k));
    for (int i = threadIdx.x; i < n; i += kThreads)
      if (w[i] < kth) w[i] = -INFINITY;
    __syncthreads();
  }
  if (a.top_p < 1.0f) apply_top_p(sh, w, n, a.top_p);
  if (a.min_p > 0.0f) {
    const int best = block_argmax(sh, w, n);
    const float mx = w[best];
    double part = 0;
    for (int i = threadIdx.x; i < n; i += kThreads) part += exp(static_cast<double>(w[i]) - mx);
    const double sum = block_sum(sh, part);
    // As the CPU: p_i = e_i / sum against min_p * max p, max p = 1 / sum.
    const double threshold = static_cast<double>(a.min_p) * (1.0 / sum);
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += kThreads)
      if (i != best && exp(static_cast<double>(w[i]) - mx) / sum < threshold) w[i] = -INFINITY;
    __syncthreads();
  }

  // Draw: the first index whose running probability sum (index order) passes u.
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < n; i += kThreads) mx = fmaxf(mx, w[i]);
  mx = block_max(sh, mx);
  double part = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) part += exp(static_cast<double>(w[i]) - mx);
  const double sum = block_sum(sh, part);
  const int seg = (n + kThreads - 1) / kThreads;
  const int s0 = min(n, static_cast<int>(threadIdx.x) * seg), s1 = min(n, s0 + seg);
  double seg_sum = 0;
  int seg_last = -1;
  for (int i = s0; i < s1; ++i) {
    const double p = exp(static_cast<double>(w[i]) - mx) / sum;
    if (p > 0) {
      seg_sum += p;
      seg_last = i;
    }
  }
  const double before = block_exclusive_scan_d(sh, seg_sum);
  if (threadIdx.x == 0) sh.token = -1;
  __syncthreads();
  if (a.u >= before && a.u < before + seg_sum) {
    double cum = before;
    for (int i = s0; i < s1; ++i) {
      const double p = exp(static_cast<double>(w[i]) - mx) / sum;
      if (p <= 0) continue;
      cum += p;
      if (a.u < cum) {
        sh.token = i;
        break;
      }
    }
  }
  // Fallback as the CPU: rounding left u at or above the total → the last possible token.
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) seg_last = max(seg_last, __shfl_xor_sync(0xffffffffu, seg_last, o));
  if (threadIdx.x % kWarpSize == 0) sh.red_i[threadIdx.x / kWarpSize] = seg_last;
  __syncthreads();
  if (threadIdx.x == 0) {
    int last = 0;
    for (int i = 0; i < kWarps; ++i) last = max(last, sh.red_i[i]);
    *token = sh.token >= 0 ? sh.token : last;
  }
}

}  // namespace

size_t sample_workspace_bytes(int n_vocab) { return static_cast<size_t>(n_vocab) * sizeof(float); }

void sample_token(const SampleArgs& args, void* workspace, int32_t* token, cudaStream_t stream) {
  if (args.n_vocab <= 0 || !args.logits || !workspace) fail(ErrorCode::Internal, "cuda sample: no logits");
  sample_kernel<<<1, kThreads, 0, stream>>>(args, static_cast<float*>(workspace), token);
  KOTARO_CUDA_CHECK_LAUNCH("sample_kernel");
}

SampleArgs make_sample_args(Sampler& sampler, const float* d_logits, int n_vocab, const std::vector<int32_t>& history,
                            std::vector<int32_t>& ids) {
  const SamplingParams& p = sampler.params();
  SampleArgs a;
  a.logits = d_logits;
  a.n_vocab = n_vocab;
  a.repetition_penalty = p.repetition_penalty;
  a.temperature = p.temperature;
  a.top_k = p.top_k;
  a.top_p = p.top_p;
  a.min_p = p.min_p;
  ids.clear();
  if (p.repetition_penalty != 1.0f) {
    std::unordered_set<int32_t> seen;
    for (int32_t t : history)
      if (t >= 0 && t < n_vocab && seen.insert(t).second) ids.push_back(t);
  }
  a.n_penalty = static_cast<int>(ids.size());
  // The CPU sampler draws only when it samples (temperature > 0): so does this.
  if (p.temperature > 0.0f) a.u = sampler.draw_uniform();
  return a;
}

}  // namespace kotaro::cuda
