// GPU sampler kernels (see sampling.h). The whole-vocabulary kernel runs its phases in one
// block, separated by barriers, over working logits in global memory (L2-resident: 600 KB
// for a 152k vocabulary); the candidate path (greedy, top-k) is described further down.
#include <climits>
#include <cmath>
#include <cstdlib>
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
// -0.0 maps to +0.0's key: they compare equal, as the CPU's float comparisons see them.
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f == 0.0f ? 0.0f : f);
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

// The whole-vocabulary path: every phase passes over all n_vocab working logits. Used when
// the candidate path below does not apply (top-k off or above kCandCap) or overflows.
__device__ void sample_full(Shared& sh, const SampleArgs& a, float* w, int32_t* token) {
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

__global__ void __launch_bounds__(kThreads) sample_kernel(SampleArgs a, float* w, int32_t* token) {
  __shared__ Shared sh;
  sample_full(sh, a, w, token);
}

// --- the candidate path -------------------------------------------------------------------
// With top-k on (the app's setting) or greedy, only the top-k survivors can be drawn, so
// the vocabulary is passed over once, in parallel, and the later phases run on a few
// candidates:
//  1. candidates_kernel, one block per 1024 logits: penalty and temperature exactly as the
//     CPU applies them (s -> s/penalty or s*penalty, then / T), then the block's own k-th
//     largest by a radix select in shared memory; every value >= it is appended to a global
//     list. Any value >= the global k-th largest is >= its block's k-th largest (else k
//     values of its block, hence of the vocabulary, would exceed it), so the list holds
//     every top-k survivor, ties included.
//  2. select_kernel, one block: the global k-th largest among the candidates, the survivors
//     (>= it) into shared memory, sorted by index and by (value, index); then top-p, min-p
//     and the draw replay the CPU Sampler's arithmetic step by step (the same double
//     probabilities, summed in the same order), on one thread. More than kCandCap
//     survivors (massive ties) falls back to the whole-vocabulary path.
constexpr int kCandCap = 1024;

// Warp 0 finds the radix digit: the largest d with sum(hist[d..255]) >= *remaining; then
// *remaining -= sum(hist[d+1..255]) (the elements above the digit). Digit 0 when the
// counts fall short (cannot happen when remaining <= the matching count).
__device__ void find_digit_desc(const unsigned int* hist, uint32_t* digit, int* remaining) {
  if (threadIdx.x >= kWarpSize) return;
  const int lane = threadIdx.x;
  unsigned int local = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) local += hist[255 - 8 * lane - j];
  unsigned int incl = local;
#pragma unroll
  for (int o = 1; o < kWarpSize; o <<= 1) {
    const unsigned int t = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += t;
  }
  const int rem = *remaining;
  __syncwarp();
  const unsigned hit = __ballot_sync(0xffffffffu, static_cast<int>(incl) >= rem);
  const int first = hit ? __ffs(hit) - 1 : 31;
  if (lane == first) {
    unsigned int acc = incl - local;
    int d = 255 - 8 * lane - 7;
    for (int j = 0; j < 8; ++j) {
      const int b = 255 - 8 * lane - j;
      if (static_cast<int>(acc + hist[b]) >= rem) {
        d = b;
        break;
      }
      acc += hist[b];
    }
    if (!hit) d = 0;
    *digit = static_cast<uint32_t>(d);
    *remaining = rem - static_cast<int>(acc);
  }
}

// Key of the k-th largest of the `n` keys this block holds (keys[i] for i < n, strided over
// the threads; `valid` false entries excluded). k <= n.
template <typename KeyAt>
__device__ uint32_t block_kth_key(unsigned int* hist, uint32_t* s_digit, int* s_rem, int n, int k, KeyAt key_at) {
  uint32_t prefix = 0, mask = 0;
  if (threadIdx.x == 0) *s_rem = k;
  const int n_round = (n + blockDim.x - 1) / blockDim.x * blockDim.x;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n_round; i += blockDim.x) {
      int bin = -1;
      if (i < n) {
        const uint32_t key = key_at(i);
        if ((key & mask) == prefix) bin = (key >> shift) & 255;
      }
      add_count_aggregated(hist, bin);
    }
    __syncthreads();
    find_digit_desc(hist, s_digit, s_rem);
    __syncthreads();
    prefix |= *s_digit << shift;
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}

__global__ void __launch_bounds__(kThreads) candidates_kernel(SampleArgs a, int k, float* cand_val, int32_t* cand_idx,
                                                              unsigned int* count) {
  __shared__ float v[kThreads];
  __shared__ unsigned int hist[256];
  __shared__ uint32_t s_digit;
  __shared__ int s_rem;
  __shared__ unsigned int s_base[kWarps];
  const int base = blockIdx.x * kThreads, i = base + threadIdx.x;
  const int here = min(kThreads, a.n_vocab - base);
  if (threadIdx.x < here) v[threadIdx.x] = a.logits[i];
  __syncthreads();
  if (a.repetition_penalty != 1.0f) {  // ids are distinct: no two threads touch one value
    for (int j = threadIdx.x; j < a.n_penalty; j += kThreads) {
      const int id = a.penalty_ids[j] - base;
      if (id >= 0 && id < here) {
        const float s = v[id];
        v[id] = s < 0 ? s * a.repetition_penalty : s / a.repetition_penalty;
      }
    }
    __syncthreads();
  }
  float x = threadIdx.x < here ? v[threadIdx.x] : 0.0f;
  if (a.temperature > 0.0f && a.temperature != 1.0f) x = x / a.temperature;
  __syncthreads();
  v[threadIdx.x] = x;
  __syncthreads();
  uint32_t kth = 0;  // every value's key is >= 0
  if (k < here) kth = block_kth_key(hist, &s_digit, &s_rem, here, k, [&](int j) { return order_key(v[j]); });
  const bool keep = threadIdx.x < here && order_key(x) >= kth;
  // Append: one atomic per warp.
  const unsigned ballot = __ballot_sync(0xffffffffu, keep);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  if (lane == 0 && ballot) s_base[warp] = atomicAdd(count, static_cast<unsigned int>(__popc(ballot)));
  __syncwarp();
  if (keep) {
    const unsigned int at = s_base[warp] + __popc(ballot & ((1u << lane) - 1u));
    cand_val[at] = x;
    cand_idx[at] = i;
  }
}

struct CandShared {
  Shared sh;
  unsigned int hist[256];
  uint32_t digit;
  int rem;
  int n_surv;
  int32_t idx[kCandCap];      // survivors by index (ascending)
  float val[kCandCap];        // their values
  uint64_t order[kCandCap];   // (value key, position in idx[]) ascending: the CPU's stable order
  double e[kCandCap];         // exp(value - max), as the CPU's softmax computes it
  unsigned char alive[kCandCap];
};

// Bitonic sort of p (a power of two) entries in shared memory, ascending by key.
template <typename Key, typename Swap>
__device__ void bitonic_sort(int p, Key key, Swap swap) {
  for (int size = 2; size <= p; size <<= 1)
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < p; i += blockDim.x) {
        const int j = i ^ stride;
        if (j > i) {
          const bool up = (i & size) == 0;
          if ((key(i) > key(j)) == up) swap(i, j);
        }
      }
      __syncthreads();
    }
}

__global__ void __launch_bounds__(kThreads) select_kernel(SampleArgs a, int k, float* w, const float* cand_val,
                                                          const int32_t* cand_idx, const unsigned int* count,
                                                          int32_t* token) {
  __shared__ CandShared cs;
  const int m = static_cast<int>(*count);
  const uint32_t kth =
      block_kth_key(cs.hist, &cs.digit, &cs.rem, m, min(k, m), [&](int j) { return order_key(cand_val[j]); });
  // Survivors, compacted in thread order (sorted below, so the order here does not matter).
  const int per = (m + kThreads - 1) / kThreads;
  const int s0 = min(m, static_cast<int>(threadIdx.x) * per), s1 = min(m, s0 + per);
  unsigned long long mine = 0;
  for (int j = s0; j < s1; ++j) mine += order_key(cand_val[j]) >= kth;
  unsigned long long at = block_exclusive_scan(cs.sh, mine);
  if (threadIdx.x == kThreads - 1) cs.n_surv = static_cast<int>(at + mine);
  __syncthreads();
  const int n_surv = cs.n_surv;
  if (n_surv > kCandCap) {  // massive ties: the whole-vocabulary path
    sample_full(cs.sh, a, w, token);
    return;
  }
  for (int j = s0; j < s1; ++j)
    if (order_key(cand_val[j]) >= kth) {
      cs.idx[at] = cand_idx[j];
      cs.val[at] = cand_val[j];
      ++at;
    }
  int p = 1;
  while (p < n_surv) p <<= 1;
  for (int j = n_surv + threadIdx.x; j < p; j += kThreads) {
    cs.idx[j] = INT_MAX;
    cs.val[j] = 0.0f;
  }
  __syncthreads();
  bitonic_sort(
      p, [&](int i) { return cs.idx[i]; },
      [&](int i, int j) {
        const int32_t t = cs.idx[i];
        cs.idx[i] = cs.idx[j];
        cs.idx[j] = t;
        const float f = cs.val[i];
        cs.val[i] = cs.val[j];
        cs.val[j] = f;
      });
  if (a.temperature <= 0.0f) {  // greedy: the first index of the maximum
    if (threadIdx.x == 0) *token = cs.idx[0];
    return;
  }
  for (int j = threadIdx.x; j < p; j += kThreads)
    cs.order[j] = j < n_surv ? (static_cast<uint64_t>(order_key(cs.val[j])) << 32) | static_cast<uint32_t>(j)
                             : ~0ull;
  __syncthreads();
  bitonic_sort(
      p, [&](int i) { return cs.order[i]; },
      [&](int i, int j) {
        const uint64_t t = cs.order[i];
        cs.order[i] = cs.order[j];
        cs.order[j] = t;
      });
  // The maximum is always kept (top-p keeps the last of the ascending order, min-p the
  // argmax), so every softmax below subtracts the same float max.
  const float mx = cs.val[static_cast<uint32_t>(cs.order[n_surv - 1])];
  for (int j = threadIdx.x; j < n_surv; j += kThreads) {
    cs.e[j] = exp(static_cast<double>(cs.val[j]) - mx);
    cs.alive[j] = 1;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  // From here one thread replays runtime/sampler.cpp on the survivors; the dropped logits
  // are -inf there and add exact zeros to every sum, so only the survivors count.
  if (a.top_p < 1.0f) {
    double sum = 0;
    for (int j = 0; j < n_surv; ++j) sum += cs.e[j];  // index order, as softmax()
    const double cut = 1.0 - static_cast<double>(a.top_p);
    double cum = 0;
    for (int r = 0; r + 1 < n_surv; ++r) {  // ascending; the last (most likely) is kept
      const int j = static_cast<int>(static_cast<uint32_t>(cs.order[r]));
      cum += cs.e[j] / sum;
      if (cum <= cut) cs.alive[j] = 0;
    }
  }
  if (a.min_p > 0.0f) {
    double sum = 0;
    int best = -1;
    for (int j = 0; j < n_surv; ++j)
      if (cs.alive[j]) {
        sum += cs.e[j];
        if (best < 0 && cs.val[j] == mx) best = j;
      }
    const double threshold = static_cast<double>(a.min_p) * (1.0 / sum);
    for (int j = 0; j < n_surv; ++j)
      if (cs.alive[j] && j != best && cs.e[j] / sum < threshold) cs.alive[j] = 0;
  }
  double sum = 0;
  for (int j = 0; j < n_surv; ++j)
    if (cs.alive[j]) sum += cs.e[j];
  double cum = 0;
  int32_t last_possible = 0;
  for (int j = 0; j < n_surv; ++j) {
    if (!cs.alive[j]) continue;
    const double pj = cs.e[j] / sum;
    if (pj <= 0) continue;
    last_possible = cs.idx[j];
    cum += pj;
    if (a.u < cum) {
      *token = cs.idx[j];
      return;
    }
  }
  *token = last_possible;
}

}  // namespace

// Workspace layout: [count (256 B)][working logits n][candidate values n][candidate ids n].
size_t sample_workspace_bytes(int n_vocab) { return 256 + 3 * static_cast<size_t>(n_vocab) * sizeof(float); }

bool sample_uses_candidates(const SampleArgs& a) {
  // KOTARO_CUDA_SAMPLER=full keeps every token on the whole-vocabulary kernel (the path
  // before the candidate kernels; for comparisons and measurements).
  const char* env = std::getenv("KOTARO_CUDA_SAMPLER");
  if (env && std::string(env) == "full") return false;
  if (a.temperature <= 0.0f) return true;  // greedy: top-1 candidates
  return a.top_k > 0 && a.top_k < a.n_vocab && a.top_k <= kCandCap;
}

void sample_token(const SampleArgs& args, void* workspace, int32_t* token, cudaStream_t stream) {
  if (args.n_vocab <= 0 || !args.logits || !workspace) fail(ErrorCode::Internal, "cuda sample: no logits");
  char* ws = static_cast<char*>(workspace);
  unsigned int* count = reinterpret_cast<unsigned int*>(ws);
  float* w = reinterpret_cast<float*>(ws + 256);
  float* cand_val = w + args.n_vocab;
  int32_t* cand_idx = reinterpret_cast<int32_t*>(cand_val + args.n_vocab);
  if (!sample_uses_candidates(args)) {
    sample_kernel<<<1, kThreads, 0, stream>>>(args, w, token);
    KOTARO_CUDA_CHECK_LAUNCH("sample_kernel");
    return;
  }
  const int k = args.temperature <= 0.0f ? 1 : args.top_k;
  KOTARO_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(unsigned int), stream));
  candidates_kernel<<<ceil_div(args.n_vocab, kThreads), kThreads, 0, stream>>>(args, k, cand_val, cand_idx, count);
  KOTARO_CUDA_CHECK_LAUNCH("sample candidates_kernel");
  select_kernel<<<1, kThreads, 0, stream>>>(args, k, w, cand_val, cand_idx, count, token);
  KOTARO_CUDA_CHECK_LAUNCH("sample select_kernel");
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
