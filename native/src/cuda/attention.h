// Attention with an online softmax (FlashAttention-style): keys and values stream through
// shared memory 32 rows at a time, each query row keeps a running maximum, sum and output,
// and the score matrix is never materialised.
//
// One kernel serves the three uses:
//  - text, causal, grouped-query, over a KV cache that is either dense rows or paged
//    (fixed-size blocks of rows found through a block table), float32 or float16;
//  - vision window attention: non-causal within variable-length segments (cu_seqlens);
//  - vision full attention: one segment.
// Decoding (few query rows, long cache) splits the keys over several blocks and merges the
// partial results (flash-decoding), so a single token still fills the GPU; one query row
// takes a decode kernel that reads each K/V row once for its whole GQA group.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kotaro::cuda {

enum class KvType { F32, F16 };

struct AttentionArgs {
  // Queries and output: row t (token) holds n_head heads of head_dim floats.
  const float* q = nullptr;
  float* out = nullptr;
  int64_t q_stride = 0, out_stride = 0;  // floats between token rows
  int n_q = 0;                           // query rows (tokens)
  int n_head = 0, n_kv_head = 0, head_dim = 0;
  float scale = 1.0f;
  // Keys and values: logical row j holds n_kv_head heads of head_dim elements. Physical
  // row = block_table ? block_table[j / block_tokens] * block_tokens + j % block_tokens : j.
  const void* k = nullptr;
  const void* v = nullptr;
  KvType kv_type = KvType::F32;
  int64_t kv_stride = 0;  // elements between physical rows
  const int32_t* block_table = nullptr;  // device
  int block_tokens = 0;
  // Masking: causal (query t attends to keys [0, n_past + t]) or segments (device array
  // bounds[0..n_seg], query t attends to the keys of its segment).
  bool causal = true;
  int64_t n_past = 0;
  const int32_t* seg_bounds = nullptr;  // device
  int n_seg = 0;
};

// Scratch the launch needs for split-key partial results (0 when it will not split).
// `sm_count`: the device's multiprocessor count.
size_t attention_workspace_bytes(const AttentionArgs& a, int sm_count);

// Whether attention() takes the one-query decode kernel for these arguments (a causal
// launch of one row, head_dim % 8 == 0, <= 8 query heads per KV head, 16-byte aligned
// q/k/v; KOTARO_CUDA_DECODE_ATTN=0 turns it off). Reported by the op tests.
bool attention_uses_decode_kernel(const AttentionArgs& a);

// Runs attention; `workspace` must hold attention_workspace_bytes(a, sm_count) bytes.
// Throws Internal for arguments the kernel does not support (head_dim % 4 != 0 or > 128,
// misaligned pointers).
void attention(const AttentionArgs& a, int sm_count, void* workspace, cudaStream_t stream);

// Writes n rows of keys and values (float32, n_kv_head*head_dim per row, src_stride floats
// apart) into a KV cache at logical rows [first_row, first_row + n) (paged or dense as in
// AttentionArgs), converting to the cache type.
void kv_store(const float* k_src, const float* v_src, int64_t src_stride, int n, int row_width,
              void* k_cache, void* v_cache, KvType kv_type, int64_t kv_stride,
              const int32_t* block_table, int block_tokens, int64_t first_row, cudaStream_t stream);

}  // namespace kotaro::cuda
