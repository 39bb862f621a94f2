#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "kotaro/error.h"

namespace kotaro {

namespace {
const float kNegInf = -INFINITY;
}

void apply_repetition_penalty(std::vector<float>& logits, const std::vector<int32_t>& history, float penalty) {
  if (penalty == 1.0f) return;
  std::vector<bool> seen(logits.size(), false);
  for (int32_t t : history) {
    if (t < 0 || static_cast<size_t>(t) >= logits.size() || seen[t]) continue;
    seen[t] = true;
    float& s = logits[t];
    s = s < 0 ? s * penalty : s / penalty;
  }
}

void apply_temperature(std::vector<float>& logits, float temperature) {
  if (temperature == 1.0f) return;
  for (float& s : logits) s = s / temperature;
}

void apply_top_k(std::vector<float>& logits, int top_k) {
  if (top_k <= 0 || static_cast<size_t>(top_k) >= logits.size()) return;
  std::vector<float> sorted(logits);
  std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<float>());
  const float kth = sorted[top_k - 1];
  for (float& s : logits)
    if (s < kth) s = kNegInf;
}

std::vector<double> softmax(const std::vector<float>& logits) {
  std::vector<double> p(logits.size(), 0.0);
  if (logits.empty()) return p;
  const float mx = *std::max_element(logits.begin(), logits.end());
  if (mx == kNegInf) fail(ErrorCode::Internal, "softmax: every logit is -infinity");
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += (p[i] = std::exp(static_cast<double>(logits[i]) - mx));
  for (double& v : p) v /= sum;
  return p;
}

void apply_top_p(std::vector<float>& logits, float top_p) {
  if (top_p >= 1.0f) return;
  const std::vector<double> p = softmax(logits);
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  // Ascending by logit, as transformers sorts; the most likely token comes last.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] < logits[b]; });
  double cum = 0;
  for (size_t r = 0; r + 1 < order.size(); ++r) {  // the last (most likely) token is always kept
    cum += p[order[r]];
    if (cum <= 1.0 - static_cast<double>(top_p)) logits[order[r]] = kNegInf;
  }
}

void apply_min_p(std::vector<float>& logits, float min_p) {
  if (min_p <= 0.0f) return;
  const std::vector<double> p = softmax(logits);
  const double threshold = static_cast<double>(min_p) * *std::max_element(p.begin(), p.end());
  const int32_t best = argmax(logits);  // always kept
  for (size_t i = 0; i < logits.size(); ++i)
    if (p[i] < threshold && static_cast<int32_t>(i) != best) logits[i] = kNegInf;
}

int32_t argmax(const std::vector<float>& logits) {
  if (logits.empty()) fail(ErrorCode::Internal, "argmax of no logits");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingParams& p) : params_(p), rng_(p.seed) {
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    fail(ErrorCode::InvalidArgument, "repetition_penalty must be a positive number");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail(ErrorCode::InvalidArgument, "top_p must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) fail(ErrorCode::InvalidArgument, "min_p must be in [0, 1]");
  if (p.top_k < 0) fail(ErrorCode::InvalidArgument, "top_k must be >= 0");
  if (std::isnan(p.temperature)) fail(ErrorCode::InvalidArgument, "temperature is NaN");
}

double Sampler::draw_uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

int32_t Sampler::sample(std::vector<float> logits, const std::vector<int32_t>& history) {
  if (logits.empty()) fail(ErrorCode::Internal, "sample: no logits");
  apply_repetition_penalty(logits, history, params_.repetition_penalty);
  if (params_.temperature <= 0.0f) return argmax(logits);
  apply_temperature(logits, params_.temperature);
  apply_top_k(logits, params_.top_k);
  apply_top_p(logits, params_.top_p);
  apply_min_p(logits, params_.min_p);
  const std::vector<double> p = softmax(logits);
  const double u = draw_uniform();
  double cum = 0;
  int32_t last_possible = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    last_possible = static_cast<int32_t>(i);
    cum += p[i];
    if (u < cum) return static_cast<int32_t>(i);
  }
  return last_possible;  // rounding left u just above the total
}

}  // namespace kotaro
