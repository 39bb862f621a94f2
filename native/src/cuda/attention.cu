// Tiled attention with an online softmax (see attention.h for what it serves).
//
// Block = 4 warps = 16 query rows of one KV head (row r = token r / group, query head
// kv_head*group + r % group, so the query heads that share a KV head share its tiles).
// Per 32-key tile:
//  - K and V rows are loaded once into shared memory (float32, row pitch chosen so that
//    both the per-lane K row reads and the per-dim V reads are bank-conflict-free);
//  - scores: lane j takes key j and computes the dot products for the warp's 4 rows;
//    queries were pre-scaled by scale*log2(e) so exp2 gives the softmax weights;
//  - running max / sum / output update (FlashAttention-2 online softmax), then the output
//    accumulates p_j * v_j with lane owning dims lane, lane+32, ...
// Long caches with few query rows are split over blockIdx.z; partial (m, l, o) are merged
// by attention_combine_kernel.
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cstdlib>
#include <string>

#include "cuda/attention.h"
#include "cuda/common.cuh"
#include "kotaro/error.h"

namespace kotaro::cuda {

namespace {

constexpr int kWarps = 4, kRowsPerWarp = 4, kRows = kWarps * kRowsPerWarp, kTileKeys = 32;
constexpr int kThreads = kWarps * kWarpSize;
constexpr float kLog2e = 1.4426950408889634f;

// Shared-memory pitch of a K/V row: head_dim + 4 or + 8 floats, whichever makes the pitch
// an odd number of float4s (conflict-free float4 reads by consecutive key rows).
int kv_pitch(int head_dim) { return (head_dim / 4) % 2 == 0 ? head_dim + 4 : head_dim + 8; }

template <typename KV>
__device__ __forceinline__ float4 load_kv4(const KV* p);
template <>
__device__ __forceinline__ float4 load_kv4<float>(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}
template <>
__device__ __forceinline__ float4 load_kv4<__half>(const __half* p) {
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

__device__ __forceinline__ int64_t physical_row(const int32_t* table, int block_tokens, int64_t j) {
  return table ? static_cast<int64_t>(table[j / block_tokens]) * block_tokens + j % block_tokens : j;
}

template <int DPL, typename KV>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(AttentionArgs a, int pitch, int n_splits, float* __restrict__ part_o,
                     float* __restrict__ part_ml) {
  extern __shared__ float4 smem4[];
  const int D = a.head_dim, D4 = D / 4;
  float* qs = reinterpret_cast<float*>(smem4);  // [kRows][D], scaled queries
  float* ks = qs + kRows * D;                   // [kTileKeys][pitch]
  float* vs = ks + kTileKeys * pitch;           // [kTileKeys][pitch]
  __shared__ int row_lo[kRows], row_hi[kRows];

  const int tid = threadIdx.x, warp = tid / kWarpSize, lane = tid % kWarpSize;
  const int group = a.n_head / a.n_kv_head, kvh = blockIdx.y, split = blockIdx.z;
  const int row_base = blockIdx.x * kRows, total_rows = a.n_q * group;
  const KV* kbase = static_cast<const KV*>(a.k) + static_cast<int64_t>(kvh) * D;
  const KV* vbase = static_cast<const KV*>(a.v) + static_cast<int64_t>(kvh) * D;

  // Key range of each row.
  if (tid < kRows) {
    const int r = row_base + tid;
    int lo = 0, hi = 0;
    if (r < total_rows) {
      const int t = r / group;
      if (a.causal) {
        hi = static_cast<int>(a.n_past) + t + 1;
      } else {  // last segment s with bounds[s] <= t
        int s_lo = 0, s_hi = a.n_seg - 1;
        while (s_lo < s_hi) {
          const int mid = (s_lo + s_hi + 1) / 2;
          if (a.seg_bounds[mid] <= t) s_lo = mid; else s_hi = mid - 1;
        }
        lo = a.seg_bounds[s_lo];
        hi = a.seg_bounds[s_lo + 1];
      }
    }
    row_lo[tid] = lo;
    row_hi[tid] = hi;
  }
  const float q_scale = a.scale * kLog2e;
  for (int i = tid; i < kRows * D4; i += kThreads) {
    const int rr = i / D4, d4 = i % D4, r = row_base + rr;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (r < total_rows) {
      const int t = r / group, h = kvh * group + r % group;
      v = __ldg(reinterpret_cast<const float4*>(a.q + t * a.q_stride + static_cast<int64_t>(h) * D) + d4);
      v.x *= q_scale; v.y *= q_scale; v.z *= q_scale; v.w *= q_scale;
    }
    reinterpret_cast<float4*>(qs)[i] = v;
  }
  __syncthreads();

  int block_lo = INT_MAX, block_hi = 0;
  for (int rr = 0; rr < kRows; ++rr)
    if (row_hi[rr] > row_lo[rr]) {
      block_lo = min(block_lo, row_lo[rr]);
      block_hi = max(block_hi, row_hi[rr]);
    }
  int key_begin = 0, key_end = 0;
  if (block_lo < block_hi) {
    const int n_tiles = (block_hi - block_lo + kTileKeys - 1) / kTileKeys;
    const int tiles_per_split = (n_tiles + n_splits - 1) / n_splits;
    key_begin = block_lo + split * tiles_per_split * kTileKeys;
    key_end = min(block_hi, key_begin + tiles_per_split * kTileKeys);
  }

  int my_lo[kRowsPerWarp], my_hi[kRowsPerWarp];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    my_lo[i] = row_lo[warp * kRowsPerWarp + i];
    my_hi[i] = row_hi[warp * kRowsPerWarp + i];
  }
  float m[kRowsPerWarp], l[kRowsPerWarp], o[kRowsPerWarp][DPL];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int e = 0; e < DPL; ++e) o[i][e] = 0.0f;
  }

  for (int kt = key_begin; kt < key_end; kt += kTileKeys) {
    const int tile_len = min(kTileKeys, key_end - kt);
    __syncthreads();  // the previous tile is no longer read
    for (int i = tid; i < kTileKeys * D4; i += kThreads) {
      const int key = i / D4, d4 = i % D4;
      float4 kv = make_float4(0.f, 0.f, 0.f, 0.f), vv = kv;
      if (key < tile_len) {
        const int64_t off = physical_row(a.block_table, a.block_tokens, kt + key) * a.kv_stride + 4 * d4;
        kv = load_kv4<KV>(kbase + off);
        vv = load_kv4<KV>(vbase + off);
      }
      *reinterpret_cast<float4*>(ks + key * pitch + 4 * d4) = kv;
      *reinterpret_cast<float4*>(vs + key * pitch + 4 * d4) = vv;
    }
    __syncthreads();

    // Scores of key `lane` against the warp's rows (log2 domain).
    float s[kRowsPerWarp] = {};
    const float4* krow = reinterpret_cast<const float4*>(ks + lane * pitch);
    const float4* qrow = reinterpret_cast<const float4*>(qs + warp * kRowsPerWarp * D);
#pragma unroll 4
    for (int d4 = 0; d4 < D4; ++d4) {
      const float4 kk = krow[d4];
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; ++i) {
        const float4 qq = qrow[i * D4 + d4];
        s[i] += qq.x * kk.x + qq.y * kk.y + qq.z * kk.z + qq.w * kk.w;
      }
    }
    const int key = kt + lane;
    float p[kRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      const bool valid = lane < tile_len && key >= my_lo[i] && key < my_hi[i];
      const float si = valid ? s[i] : -INFINITY;
      const float m_new = fmaxf(m[i], warp_max(si));
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // no valid key yet: keep zeros
      const float alpha = exp2f(m[i] - m_use);
      p[i] = exp2f(si - m_use);
      l[i] = l[i] * alpha + p[i];
#pragma unroll
      for (int e = 0; e < DPL; ++e) o[i][e] *= alpha;
      m[i] = m_new;
    }
    for (int j = 0; j < tile_len; ++j) {
      float vv[DPL];
#pragma unroll
      for (int e = 0; e < DPL; ++e) {
        const int d = lane + kWarpSize * e;
        vv[e] = d < D ? vs[j * pitch + d] : 0.0f;
      }
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; ++i) {
        const float pj = __shfl_sync(0xffffffffu, p[i], j);
#pragma unroll
        for (int e = 0; e < DPL; ++e) o[i][e] = fmaf(pj, vv[e], o[i][e]);
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const float l_total = warp_sum(l[i]);
    const int r = row_base + warp * kRowsPerWarp + i;
    if (r >= total_rows) continue;
    const int t = r / group, h = kvh * group + r % group;
    if (n_splits == 1) {
      const float inv = l_total > 0.0f ? 1.0f / l_total : 0.0f;
      float* dst = a.out + t * a.out_stride + static_cast<int64_t>(h) * D;
#pragma unroll
      for (int e = 0; e < DPL; ++e) {
        const int d = lane + kWarpSize * e;
        if (d < D) dst[d] = o[i][e] * inv;
      }
    } else {
      const size_t pr = (static_cast<size_t>(split) * a.n_q + t) * a.n_head + h;
#pragma unroll
      for (int e = 0; e < DPL; ++e) {
        const int d = lane + kWarpSize * e;
        if (d < D) part_o[pr * D + d] = o[i][e];
      }
      if (lane == 0) {
        part_ml[2 * pr] = m[i];
        part_ml[2 * pr + 1] = l_total;
      }
    }
  }
}

// out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s over the splits of one (token, head).
__global__ void attention_combine_kernel(const float* __restrict__ part_o, const float* __restrict__ part_ml,
                                         int n_splits, int n_q, int n_head, int D, float* __restrict__ out,
                                         int64_t out_stride) {
  const int th = blockIdx.x, t = th / n_head, h = th % n_head;
  const size_t split_stride = static_cast<size_t>(n_q) * n_head;
  float M = -INFINITY;
  for (int s = 0; s < n_splits; ++s) M = fmaxf(M, part_ml[2 * (s * split_stride + th)]);
  float den = 0.0f;
  for (int s = 0; s < n_splits; ++s) {
    const float ms = part_ml[2 * (s * split_stride + th)];
    if (ms != -INFINITY) den += exp2f(ms - M) * part_ml[2 * (s * split_stride + th) + 1];
  }
  const float inv = den > 0.0f ? 1.0f / den : 0.0f;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float num = 0.0f;
    for (int s = 0; s < n_splits; ++s) {
      const float ms = part_ml[2 * (s * split_stride + th)];
      if (ms != -INFINITY) num += exp2f(ms - M) * part_o[(s * split_stride + th) * D + d];
    }
    out[t * out_stride + static_cast<int64_t>(h) * D + d] = num * inv;
  }
}

// Key splits for a causal launch: when the query rows fill fewer blocks than the GPU has
// multiprocessors (decoding), split the keys so that up to four blocks per multiprocessor
// stream the cache, each taking at least kSplitKeys keys (one 32-key tile: a decode block
// is latency-bound, ~17 us for 2-3 tiles, so more, shorter splits finish sooner; 64 keys
// and no split under 256 keys before). KOTARO_CUDA_ATTN_SPLIT_KEYS overrides (comparisons).
int split_keys() {
  static const int keys = [] {
    const char* env = std::getenv("KOTARO_CUDA_ATTN_SPLIT_KEYS");
    const int v = env ? std::atoi(env) : 0;
    return v >= kTileKeys ? v : kTileKeys;
  }();
  return keys;
}

int split_count(const AttentionArgs& a, int sm_count) {
  if (!a.causal) return 1;
  const int group = a.n_head / a.n_kv_head;
  const int64_t base_blocks = ceil_div<int64_t>(int64_t(a.n_q) * group, kRows) * a.n_kv_head;
  const int64_t kv_len = a.n_past + a.n_q, keys = split_keys();
  if (base_blocks >= sm_count || kv_len < 2 * keys) return 1;
  int64_t splits = ceil_div<int64_t>(4 * int64_t(sm_count), base_blocks);
  splits = std::min<int64_t>(splits, ceil_div<int64_t>(kv_len, keys));
  splits = std::min<int64_t>(splits, 128);
  return static_cast<int>(std::max<int64_t>(splits, 1));
}

void validate(const AttentionArgs& a) {
  auto bad = [](const std::string& why) { fail(ErrorCode::Internal, "cuda attention: " + why); };
  if (a.n_head <= 0 || a.n_kv_head <= 0 || a.n_head % a.n_kv_head != 0) bad("bad head counts");
  if (a.head_dim <= 0 || a.head_dim % 4 != 0 || a.head_dim > 128) bad("head_dim must be a multiple of 4 up to 128");
  if (a.q_stride % 4 || a.out_stride % 4 || a.kv_stride % 4) bad("row strides must be multiples of 4 elements");
  const uintptr_t mask = a.kv_type == KvType::F32 ? 15 : 7;
  if ((reinterpret_cast<uintptr_t>(a.q) & 15) || (reinterpret_cast<uintptr_t>(a.k) & mask) ||
      (reinterpret_cast<uintptr_t>(a.v) & mask))
    bad("misaligned q/k/v");
  if (!a.causal && (a.seg_bounds == nullptr || a.n_seg <= 0)) bad("segments without bounds");
  if (a.block_table && a.block_tokens <= 0) bad("block table without block size");
  if (a.n_past < 0 || a.n_past + a.n_q > INT32_MAX) bad("sequence too long");
}

template <int DPL, typename KV>
void launch_typed(const AttentionArgs& a, int n_splits, float* part_o, float* part_ml, cudaStream_t stream) {
  const int pitch = kv_pitch(a.head_dim);
  const size_t smem = (static_cast<size_t>(kRows) * a.head_dim + 2 * kTileKeys * pitch) * sizeof(float);
  const int group = a.n_head / a.n_kv_head;
  const dim3 grid(static_cast<unsigned>(ceil_div<int64_t>(int64_t(a.n_q) * group, kRows)),
                  static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(n_splits));
  attention_kernel<DPL, KV><<<grid, kThreads, smem, stream>>>(a, pitch, n_splits, part_o, part_ml);
  KOTARO_CUDA_CHECK_LAUNCH("attention_kernel");
}

template <typename KV>
void launch_kv(const AttentionArgs& a, int n_splits, float* part_o, float* part_ml, cudaStream_t stream) {
  switch ((a.head_dim + 31) / 32) {
    case 1: return launch_typed<1, KV>(a, n_splits, part_o, part_ml, stream);
    case 2: return launch_typed<2, KV>(a, n_splits, part_o, part_ml, stream);
    case 3: return launch_typed<3, KV>(a, n_splits, part_o, part_ml, stream);
    default: return launch_typed<4, KV>(a, n_splits, part_o, part_ml, stream);
  }
}

// --- decode: one query row -----------------------------------------------------------------
//
// Block = 4 warps over one KV head and one key split; all G query heads of the GQA group
// ride along, so each K/V row is read once for the group. A key group of L lanes (L = the
// power of two >= head_dim / 8) owns one key at a time: each lane holds 8 dims of the row
// (one 16-byte load of f16, two of f32), the G partial dot products are summed by xor
// shuffles inside the key group, and the lane keeps the online-softmax state (m, l, and
// its 8 dims of o) of each head for the keys its group has seen. Key groups stride through
// the split kDecodeUnroll keys at a time, all loads of a batch issued before any math.
// The block then folds its key groups' states through shared memory and writes either the
// output (one split) or a partial (m, l, o) that attention_decode_merge_kernel combines.
constexpr int kDecodeWarps = 4, kDecodeThreads = kDecodeWarps * kWarpSize, kDecodeUnroll = 4;

int decode_lanes(int head_dim) {  // lanes per key: 8 dims each, a power of two
  int l = 1;
  while (l * 8 < head_dim) l *= 2;
  return l;
}
int decode_key_groups(int head_dim) { return kDecodeThreads / decode_lanes(head_dim); }

template <typename KV>
struct DecodeRow;
template <>
struct DecodeRow<float> {
  float4 a, b;
  __device__ __forceinline__ void load(const float* p) {
    a = __ldg(reinterpret_cast<const float4*>(p));
    b = __ldg(reinterpret_cast<const float4*>(p) + 1);
  }
  __device__ __forceinline__ void zero() { a = b = make_float4(0.f, 0.f, 0.f, 0.f); }
  __device__ __forceinline__ void get(float (&x)[8]) const {
    x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w; x[4] = b.x; x[5] = b.y; x[6] = b.z; x[7] = b.w;
  }
};
template <>
struct DecodeRow<__half> {
  uint4 u;
  __device__ __forceinline__ void load(const __half* p) { u = __ldg(reinterpret_cast<const uint4*>(p)); }
  __device__ __forceinline__ void zero() { u = make_uint4(0u, 0u, 0u, 0u); }
  __device__ __forceinline__ void get(float (&x)[8]) const {
    const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
      x[2 * i] = f.x;
      x[2 * i + 1] = f.y;
    }
  }
};

template <int MAXG, typename KV>
__global__ void __launch_bounds__(kDecodeThreads)
    attention_decode_kernel(AttentionArgs a, int lanes, int keys_per_split, int n_splits,
                            float* __restrict__ part_o, float* __restrict__ part_ml) {
  extern __shared__ float4 smem4[];
  const int D = a.head_dim, G = a.n_head / a.n_kv_head, NG = kDecodeThreads / lanes;
  const int tid = threadIdx.x, gid = tid / lanes, li = tid % lanes, d0 = 8 * li;
  const bool active = d0 < D;
  const int kvh = blockIdx.x, split = blockIdx.y;
  const int kv_len = static_cast<int>(a.n_past) + 1;
  const int key_begin = split * keys_per_split, key_end = min(kv_len, key_begin + keys_per_split);
  const KV* kbase = static_cast<const KV*>(a.k) + static_cast<int64_t>(kvh) * D + d0;
  const KV* vbase = static_cast<const KV*>(a.v) + static_cast<int64_t>(kvh) * D + d0;

  // Queries of the group, pre-scaled so that exp2 gives the softmax weights.
  const float q_scale = a.scale * kLog2e;
  float q[MAXG][8], o[MAXG][8], m[MAXG], l[MAXG];
#pragma unroll
  for (int h = 0; h < MAXG; ++h) {
    float4 x0 = make_float4(0.f, 0.f, 0.f, 0.f), x1 = x0;
    if (h < G && active) {
      const float4* qp = reinterpret_cast<const float4*>(a.q + static_cast<int64_t>(kvh * G + h) * D + d0);
      x0 = __ldg(qp);
      x1 = __ldg(qp + 1);
    }
    q[h][0] = x0.x * q_scale; q[h][1] = x0.y * q_scale; q[h][2] = x0.z * q_scale; q[h][3] = x0.w * q_scale;
    q[h][4] = x1.x * q_scale; q[h][5] = x1.y * q_scale; q[h][6] = x1.z * q_scale; q[h][7] = x1.w * q_scale;
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) o[h][e] = 0.0f;
  }

  for (int j0 = key_begin + gid; j0 - gid < key_end; j0 += kDecodeUnroll * NG) {
    DecodeRow<KV> kr[kDecodeUnroll], vr[kDecodeUnroll];
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; ++u) {
      const int j = j0 + u * NG;
      if (j < key_end && active) {
        const int64_t off = physical_row(a.block_table, a.block_tokens, j) * a.kv_stride;
        kr[u].load(kbase + off);
        vr[u].load(vbase + off);
      } else {
        kr[u].zero();
        vr[u].zero();
      }
    }
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; ++u) {
      const bool valid = j0 + u * NG < key_end;  // the same for the whole key group
      float kx[8], vx[8], s[MAXG];
      kr[u].get(kx);
      vr[u].get(vx);
#pragma unroll
      for (int h = 0; h < MAXG; ++h) {
        float acc = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc = fmaf(q[h][e], kx[e], acc);
        s[h] = acc;
      }
      for (int off = lanes / 2; off > 0; off /= 2) {
#pragma unroll
        for (int h = 0; h < MAXG; ++h) s[h] += __shfl_xor_sync(0xffffffffu, s[h], off);
      }
      if (valid) {
#pragma unroll
        for (int h = 0; h < MAXG; ++h) {
          if (h >= G) break;
          const float m_new = fmaxf(m[h], s[h]);
          const float alpha = exp2f(m[h] - m_new), p = exp2f(s[h] - m_new);
          l[h] = l[h] * alpha + p;
#pragma unroll
          for (int e = 0; e < 8; ++e) o[h][e] = fmaf(p, vx[e], o[h][e] * alpha);
          m[h] = m_new;
        }
      }
    }
  }

  // Fold the key groups: [NG][G] (m, l) then [NG][G][D] o.
  float* sml = reinterpret_cast<float*>(smem4);
  float* so = sml + 2 * NG * G;
#pragma unroll
  for (int h = 0; h < MAXG; ++h) {
    if (h >= G) break;
    if (li == 0) {
      sml[2 * (gid * G + h)] = m[h];
      sml[2 * (gid * G + h) + 1] = l[h];
    }
    if (active) {
      float4* dst = reinterpret_cast<float4*>(so + (static_cast<size_t>(gid) * G + h) * D + d0);
      dst[0] = make_float4(o[h][0], o[h][1], o[h][2], o[h][3]);
      dst[1] = make_float4(o[h][4], o[h][5], o[h][6], o[h][7]);
    }
  }
  __syncthreads();
  for (int i = tid; i < G * D; i += kDecodeThreads) {
    const int h = i / D, d = i % D;
    float M = -INFINITY;
    for (int g = 0; g < NG; ++g) M = fmaxf(M, sml[2 * (g * G + h)]);
    float num = 0.0f, den = 0.0f;
    if (M != -INFINITY)
      for (int g = 0; g < NG; ++g) {
        const float mg = sml[2 * (g * G + h)];
        if (mg == -INFINITY) continue;  // a key group that saw no key
        const float w = exp2f(mg - M);
        den = fmaf(w, sml[2 * (g * G + h) + 1], den);
        num = fmaf(w, so[(static_cast<size_t>(g) * G + h) * D + d], num);
      }
    const int head = kvh * G + h;
    if (n_splits == 1) {
      a.out[static_cast<int64_t>(head) * D + d] = den > 0.0f ? num / den : 0.0f;
    } else {
      const size_t pr = static_cast<size_t>(split) * a.n_head + head;
      part_o[pr * D + d] = num;
      if (d == 0) {
        part_ml[2 * pr] = M;
        part_ml[2 * pr + 1] = den;
      }
    }
  }
}

// out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s; one block per query head, one
// thread per dim, the split loop unrolled so its independent loads overlap.
__global__ void attention_decode_merge_kernel(const float* __restrict__ part_o, const float* __restrict__ part_ml,
                                              int n_splits, int n_head, int D, float* __restrict__ out) {
  const int h = blockIdx.x;
  float M = -INFINITY;
#pragma unroll 8
  for (int s = 0; s < n_splits; ++s) M = fmaxf(M, part_ml[2 * (static_cast<size_t>(s) * n_head + h)]);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float num = 0.0f, den = 0.0f;
#pragma unroll 8
    for (int s = 0; s < n_splits; ++s) {
      const size_t pr = static_cast<size_t>(s) * n_head + h;
      const float ms = part_ml[2 * pr];
      const float w = ms == -INFINITY ? 0.0f : exp2f(ms - M);
      den = fmaf(w, part_ml[2 * pr + 1], den);
      num = fmaf(w, part_o[pr * D + d], num);
    }
    out[static_cast<int64_t>(h) * D + d] = den > 0.0f ? num / den : 0.0f;
  }
}

// KOTARO_CUDA_DECODE_ATTN=0 sends one-token decoding back to the tiled kernel (A/B runs).
bool decode_kernel_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("KOTARO_CUDA_DECODE_ATTN");
    return !(env && env[0] == '0');
  }();
  return on;
}

// The decode kernel takes one causal query row whose head_dim is a multiple of 8 (16-byte
// f16 loads) and whose GQA group fits its registers (<= 8 query heads per KV head).
bool decode_shape(const AttentionArgs& a) {
  return decode_kernel_enabled() && a.causal && a.n_q == 1 && a.head_dim % 8 == 0 && a.n_kv_head > 0 &&
         a.n_head % a.n_kv_head == 0 && a.n_head / a.n_kv_head <= 8;
}
bool decode_aligned(const AttentionArgs& a) {
  const int64_t stride_mult = a.kv_type == KvType::F16 ? 8 : 4;
  return (reinterpret_cast<uintptr_t>(a.k) & 15) == 0 && (reinterpret_cast<uintptr_t>(a.v) & 15) == 0 &&
         (reinterpret_cast<uintptr_t>(a.q) & 15) == 0 && a.kv_stride % stride_mult == 0;
}

// Keys per split: at least kDecodeUnroll keys for each key group (one batch of loads), and
// at most two blocks per multiprocessor over all KV heads, so a short context runs in one
// block per KV head and a long one spreads over the GPU with short serial chains.
struct DecodeSplit {
  int splits, keys_per_split;
};
DecodeSplit decode_split(const AttentionArgs& a, int sm_count) {
  const int64_t kv_len = a.n_past + 1, min_keys = int64_t(kDecodeUnroll) * decode_key_groups(a.head_dim);
  const int64_t max_splits = std::min<int64_t>(128, std::max<int64_t>(1, 2 * int64_t(sm_count) / a.n_kv_head));
  int64_t splits = std::min(max_splits, ceil_div<int64_t>(kv_len, min_keys));
  const int64_t per = ceil_div<int64_t>(kv_len, std::max<int64_t>(splits, 1));
  splits = ceil_div<int64_t>(kv_len, per);  // no empty split
  return {static_cast<int>(splits), static_cast<int>(per)};
}

template <int MAXG, typename KV>
void launch_decode_typed(const AttentionArgs& a, const DecodeSplit& sp, float* part_o, float* part_ml,
                         cudaStream_t stream) {
  const int lanes = decode_lanes(a.head_dim), NG = kDecodeThreads / lanes, G = a.n_head / a.n_kv_head;
  const size_t smem = static_cast<size_t>(NG) * G * (a.head_dim + 2) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(sp.splits));
  attention_decode_kernel<MAXG, KV><<<grid, kDecodeThreads, smem, stream>>>(a, lanes, sp.keys_per_split, sp.splits,
                                                                            part_o, part_ml);
  KOTARO_CUDA_CHECK_LAUNCH("attention_decode_kernel");
}

template <typename KV>
void launch_decode(const AttentionArgs& a, const DecodeSplit& sp, float* part_o, float* part_ml,
                   cudaStream_t stream) {
  const int G = a.n_head / a.n_kv_head;
  if (G <= 1) return launch_decode_typed<1, KV>(a, sp, part_o, part_ml, stream);
  if (G <= 2) return launch_decode_typed<2, KV>(a, sp, part_o, part_ml, stream);
  if (G <= 4) return launch_decode_typed<4, KV>(a, sp, part_o, part_ml, stream);
  return launch_decode_typed<8, KV>(a, sp, part_o, part_ml, stream);
}

__global__ void kv_store_kernel(const float* __restrict__ k_src, const float* __restrict__ v_src,
                                int64_t src_stride, int n, int row_width, void* k_cache, void* v_cache,
                                bool f16, int64_t kv_stride, const int32_t* __restrict__ table,
                                int block_tokens, int64_t first_row) {
  const int w4 = row_width / 4;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(n) * w4) return;
  const int r = static_cast<int>(i / w4), c4 = static_cast<int>(i % w4);
  const int64_t dst = physical_row(table, block_tokens, first_row + r) * kv_stride + 4 * c4;
  const float4 kv = *reinterpret_cast<const float4*>(k_src + r * src_stride + 4 * c4);
  const float4 vv = *reinterpret_cast<const float4*>(v_src + r * src_stride + 4 * c4);
  if (f16) {
    __half2* kd = reinterpret_cast<__half2*>(static_cast<__half*>(k_cache) + dst);
    __half2* vd = reinterpret_cast<__half2*>(static_cast<__half*>(v_cache) + dst);
    kd[0] = __floats2half2_rn(kv.x, kv.y); kd[1] = __floats2half2_rn(kv.z, kv.w);
    vd[0] = __floats2half2_rn(vv.x, vv.y); vd[1] = __floats2half2_rn(vv.z, vv.w);
  } else {
    *reinterpret_cast<float4*>(static_cast<float*>(k_cache) + dst) = kv;
    *reinterpret_cast<float4*>(static_cast<float*>(v_cache) + dst) = vv;
  }
}

}  // namespace

size_t attention_workspace_bytes(const AttentionArgs& a, int sm_count) {
  // The tiled kernel's need, and for a decode-shaped launch also the decode kernel's: the
  // pointers' alignment (which picks between them) is not known when the memory is planned.
  const int splits = split_count(a, sm_count);
  size_t bytes = splits <= 1 ? 0 : static_cast<size_t>(splits) * a.n_q * a.n_head * (a.head_dim + 2) * sizeof(float);
  if (decode_shape(a)) {
    const DecodeSplit sp = decode_split(a, sm_count);
    if (sp.splits > 1)
      bytes = std::max(bytes, static_cast<size_t>(sp.splits) * a.n_head * (a.head_dim + 2) * sizeof(float));
  }
  return bytes;
}

bool attention_uses_decode_kernel(const AttentionArgs& a) { return decode_shape(a) && decode_aligned(a); }

void attention(const AttentionArgs& a, int sm_count, void* workspace, cudaStream_t stream) {
  validate(a);
  if (a.n_q <= 0) return;
  if (attention_uses_decode_kernel(a)) {
    const DecodeSplit sp = decode_split(a, sm_count);
    float* part_o = nullptr;
    float* part_ml = nullptr;
    if (sp.splits > 1) {
      if (!workspace) fail(ErrorCode::Internal, "cuda attention: split-key launch without workspace");
      part_o = static_cast<float*>(workspace);
      part_ml = part_o + static_cast<size_t>(sp.splits) * a.n_head * a.head_dim;
    }
    if (a.kv_type == KvType::F32) launch_decode<float>(a, sp, part_o, part_ml, stream);
    else launch_decode<__half>(a, sp, part_o, part_ml, stream);
    if (sp.splits > 1) {
      const int threads = std::min(128, ceil_div(a.head_dim, kWarpSize) * kWarpSize);
      attention_decode_merge_kernel<<<static_cast<unsigned>(a.n_head), threads, 0, stream>>>(
          part_o, part_ml, sp.splits, a.n_head, a.head_dim, a.out);
      KOTARO_CUDA_CHECK_LAUNCH("attention_decode_merge_kernel");
    }
    return;
  }
  const int n_splits = split_count(a, sm_count);
  float* part_o = nullptr;
  float* part_ml = nullptr;
  if (n_splits > 1) {
    if (!workspace) fail(ErrorCode::Internal, "cuda attention: split-key launch without workspace");
    part_o = static_cast<float*>(workspace);
    part_ml = part_o + static_cast<size_t>(n_splits) * a.n_q * a.n_head * a.head_dim;
  }
  if (a.kv_type == KvType::F32) launch_kv<float>(a, n_splits, part_o, part_ml, stream);
  else launch_kv<__half>(a, n_splits, part_o, part_ml, stream);
  if (n_splits > 1) {
    attention_combine_kernel<<<static_cast<unsigned>(a.n_q * a.n_head), 64, 0, stream>>>(
        part_o, part_ml, n_splits, a.n_q, a.n_head, a.head_dim, a.out, a.out_stride);
    KOTARO_CUDA_CHECK_LAUNCH("attention_combine_kernel");
  }
}

void kv_store(const float* k_src, const float* v_src, int64_t src_stride, int n, int row_width,
              void* k_cache, void* v_cache, KvType kv_type, int64_t kv_stride,
              const int32_t* block_table, int block_tokens, int64_t first_row, cudaStream_t stream) {
  if (n <= 0) return;
  if (row_width % 4 || src_stride % 4 || kv_stride % 4)
    fail(ErrorCode::Internal, "cuda kv_store: widths and strides must be multiples of 4");
  const int64_t total = int64_t(n) * (row_width / 4);
  const int threads = 256;
  kv_store_kernel<<<static_cast<unsigned>(ceil_div<int64_t>(total, threads)), threads, 0, stream>>>(
      k_src, v_src, src_stride, n, row_width, k_cache, v_cache, kv_type == KvType::F16, kv_stride,
      block_table, block_tokens, first_row);
  KOTARO_CUDA_CHECK_LAUNCH("kv_store_kernel");
}

}  // namespace kotaro::cuda
