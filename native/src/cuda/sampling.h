// Token sampling on the GPU, so that only the token id crosses back to the host.
// Same semantics as the CPU sampler (runtime/sampler.h, transformers' order): repetition
// penalty → greedy argmax, or temperature → top-k → top-p → min-p → draw. The uniform draw u
// comes from the same seeded mt19937_64 as the CPU Sampler, so both pick the same token
// for the same logits, except where float rounding of a cumulative sum lands exactly on a
// boundary. The seam's Backend::sample (cuda_backend.cpp) is the entry point.
//
// Greedy and top-k (k <= 1024; the app's setting) take the candidate path: one parallel
// pass over the vocabulary keeps each 1024-logit block's top-k (a superset of the global
// top-k, ties included), then one block selects the survivors and replays the CPU
// Sampler's top-p / min-p / draw arithmetic on them in the CPU's order. Otherwise (top-k
// off or larger, or more than 1024 tied survivors) one block of 1024 threads passes over
// the whole vocabulary; top-k and top-p find their cut with a radix select over
// order-preserving float keys (top-p weights the radix histogram by probability, in 2^-56
// fixed point so sums do not depend on thread order), so nothing is sorted.
// KOTARO_CUDA_SAMPLER=full forces the whole-vocabulary kernel.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kotaro/engine.h"
#include "runtime/sampler.h"

namespace kotaro::cuda {

struct SampleArgs {
  const float* logits = nullptr;  // device, n_vocab floats (not modified)
  int n_vocab = 0;
  const int32_t* penalty_ids = nullptr;  // device: distinct ids in [0, n_vocab)
  int n_penalty = 0;
  float repetition_penalty = 1.0f, temperature = 0.0f, top_p = 1.0f, min_p = 0.0f;
  int top_k = 0;
  double u = 0.0;  // uniform draw in [0, 1)
};

// Device scratch the launch needs (a counter, the working copy of the logits and room for
// as many candidates).
size_t sample_workspace_bytes(int n_vocab);

// Whether sample_token takes the candidate path for these arguments (and the environment).
bool sample_uses_candidates(const SampleArgs& args);

// Writes the chosen token to *token (device). No host synchronisation.
void sample_token(const SampleArgs& args, void* workspace, int32_t* token, cudaStream_t stream);

// The host side of one draw: the sampler's parameters, the distinct history ids (written to
// `ids`, to be uploaded by the caller) and the uniform draw u taken from the runtime
// Sampler's own seeded generator, exactly as Sampler::sample would take it (none when
// greedy), so the GPU and the CPU consume one sequence of draws.
SampleArgs make_sample_args(Sampler& sampler, const float* d_logits, int n_vocab, const std::vector<int32_t>& history,
                            std::vector<int32_t>& ids);

}  // namespace kotaro::cuda
