// Token sampling with transformers' generate() semantics. Processors run in this order:
//  1. repetition penalty over every distinct token of prompt + generated text: a logit
//     s > 0 becomes s / penalty, s <= 0 becomes s * penalty (RepetitionPenaltyLogitsProcessor);
//  greedy (temperature <= 0): argmax (first index of the maximum); otherwise
//  2. temperature: s / T;  3. top-k: keep logits >= the k-th largest;
//  4. top-p: drop the low tail whose cumulative probability (ascending) is <= 1 - p,
//     always keeping the most likely token;  5. min-p: drop tokens whose probability is
//     below min_p * max probability;  then draw from softmax with a seeded mt19937_64.
// Dropped logits become -infinity.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "kotaro/engine.h"

namespace kotaro {

void apply_repetition_penalty(std::vector<float>& logits, const std::vector<int32_t>& history, float penalty);
void apply_temperature(std::vector<float>& logits, float temperature);
void apply_top_k(std::vector<float>& logits, int top_k);
void apply_top_p(std::vector<float>& logits, float top_p);
void apply_min_p(std::vector<float>& logits, float min_p);
std::vector<double> softmax(const std::vector<float>& logits);
int32_t argmax(const std::vector<float>& logits);

class Sampler {
 public:
  // Throws InvalidArgument for out-of-range parameters (penalty <= 0, top_p outside (0, 1],
  // min_p outside [0, 1], top_k < 0).
  explicit Sampler(const SamplingParams& params);
  // logits: one row of n_vocab; history: prompt + generated tokens (ids outside the
  // vocabulary are ignored).
  int32_t sample(std::vector<float> logits, const std::vector<int32_t>& history);

  // For samplers that run elsewhere (the GPU's): the parameters, and the next uniform draw
  // in [0, 1) exactly as sample() draws it (one per non-greedy token), so both paths
  // consume the seeded sequence identically.
  const SamplingParams& params() const { return params_; }
  double draw_uniform();

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace kotaro
