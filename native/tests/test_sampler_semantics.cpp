// Sampler semantics (transformers' logits processors): repetition penalty, greedy,
// temperature, top-k, top-p, min-p, seeded sampling frequencies, parameter errors.
#include <cmath>
#include <cstdio>
#include <vector>

#include "runtime/sampler.h"
#include "test_check.h"

using namespace kotaro;


static std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double v : p) l.push_back(static_cast<float>(std::log(v)));
  return l;
}

static std::vector<bool> kept(const std::vector<float>& l) {
  std::vector<bool> k;
  for (float v : l) k.push_back(!std::isinf(v));
  return k;
}

static std::vector<double> frequencies(SamplingParams p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) f[s.sample(logits, {})] += 1.0 / n;
  return f;
}

int main() {
  // Repetition penalty: positive logits divided, negative multiplied, zero unchanged, each
  // distinct token once however often it occurs; ids outside the vocabulary ignored.
  std::vector<float> l = {2.0f, -2.0f, 1.0f, 0.0f, 0.5f};
  apply_repetition_penalty(l, {0, 1, 1, 1, 3, 999, -5}, 2.0f);
  CHECK((l == std::vector<float>{1.0f, -4.0f, 1.0f, 0.0f, 0.5f}), "repetition penalty: %g %g %g %g %g", l[0], l[1], l[2], l[3], l[4]);

  // Greedy: argmax, first index on ties; the penalty can change the winner.
  CHECK(argmax({1, 5, 5, 2}) == 1, "argmax tie -> first index");
  SamplingParams g;
  g.temperature = 0.0f;
  CHECK(Sampler(g).sample({3.0f, 2.9f, 1.0f}, {}) == 0, "greedy");
  g.repetition_penalty = 1.5f;
  CHECK(Sampler(g).sample({3.0f, 2.9f, 1.0f}, {0}) == 1, "greedy with penalty on token 0 (3/1.5 < 2.9)");
  g.temperature = -1.0f;
  CHECK(Sampler(g).sample({3.0f, 2.9f, 1.0f}, {}) == 0, "negative temperature is greedy");

  // Top-k keeps every logit >= the k-th largest (ties included).
  l = {1, 3, 3, 2};
  apply_top_k(l, 2);
  CHECK((kept(l) == std::vector<bool>{false, true, true, false}), "top-k 2 with a tie");
  l = {1, 3, 3, 2};
  apply_top_k(l, 3);
  CHECK((kept(l) == std::vector<bool>{false, true, true, true}), "top-k 3");
  l = {1, 3, 3, 2};
  apply_top_k(l, 0);
  CHECK((kept(l) == std::vector<bool>{true, true, true, true}), "top-k 0 is off");

  // Top-p drops the ascending tail whose cumulative probability is <= 1 - p.
  const std::vector<double> p4 = {0.5, 0.3, 0.15, 0.05};
  l = log_probs(p4);
  apply_top_p(l, 0.75f);  // tail 0.05 + 0.15 = 0.2 <= 0.25 dropped; 0.3 kept
  CHECK((kept(l) == std::vector<bool>{true, true, false, false}), "top-p 0.75");
  l = log_probs(p4);
  apply_top_p(l, 0.01f);
  CHECK((kept(l) == std::vector<bool>{true, false, false, false}), "tiny top-p keeps the best token");
  l = log_probs(p4);
  apply_top_p(l, 0.96f);  // tail 0.05 > 0.04: nothing dropped
  CHECK((kept(l) == std::vector<bool>{true, true, true, true}), "top-p 0.96");

  // Min-p drops probabilities below min_p * max probability.
  l = log_probs(p4);
  apply_min_p(l, 0.25f);  // threshold 0.125
  CHECK((kept(l) == std::vector<bool>{true, true, true, false}), "min-p 0.25");
  l = log_probs(p4);
  apply_min_p(l, 0.7f);  // threshold 0.35
  CHECK((kept(l) == std::vector<bool>{true, false, false, false}), "min-p 0.7");

  // Sampling follows softmax(logits / T); seeded and reproducible.
  const std::vector<float> l3 = log_probs({0.5, 0.3, 0.2});
  SamplingParams s;
  s.temperature = 1.0f;
  s.seed = 7;
  const int n = 40000;
  std::vector<double> f = frequencies(s, l3, n);
  CHECK(std::fabs(f[0] - 0.5) < 0.015 && std::fabs(f[1] - 0.3) < 0.015 && std::fabs(f[2] - 0.2) < 0.015,
        "T=1 frequencies %.3f %.3f %.3f", f[0], f[1], f[2]);
  s.temperature = 0.5f;  // p^2 renormalised: 0.658, 0.237, 0.105
  f = frequencies(s, l3, n);
  CHECK(std::fabs(f[0] - 0.658) < 0.015 && std::fabs(f[1] - 0.237) < 0.015 && std::fabs(f[2] - 0.105) < 0.015,
        "T=0.5 frequencies %.3f %.3f %.3f", f[0], f[1], f[2]);
  s.temperature = 1.0f;
  s.top_k = 2;  // renormalised over the top two: 0.625, 0.375
  f = frequencies(s, l3, n);
  CHECK(std::fabs(f[0] - 0.625) < 0.015 && std::fabs(f[1] - 0.375) < 0.015 && f[2] == 0.0,
        "top-k 2 frequencies %.3f %.3f %.3f", f[0], f[1], f[2]);
  s.top_k = 0;
  s.repetition_penalty = 2.0f;  // log-probs are negative: token 0's logit doubles -> p ∝ 0.25, 0.3, 0.2
  {
    Sampler sp(s);
    std::vector<double> fr(3, 0.0);
    for (int i = 0; i < n; ++i) fr[sp.sample(l3, {0})] += 1.0 / n;
    CHECK(std::fabs(fr[0] - 0.25 / 0.75) < 0.015 && std::fabs(fr[1] - 0.4) < 0.015,
          "penalised frequencies %.3f %.3f %.3f", fr[0], fr[1], fr[2]);
  }
  s.repetition_penalty = 1.0f;
  std::vector<int32_t> a, b, c;
  {
    Sampler s1(s), s2(s);
    SamplingParams other = s;
    other.seed = 8;
    Sampler s3(other);
    for (int i = 0; i < 64; ++i) {
      a.push_back(s1.sample(l3, {}));
      b.push_back(s2.sample(l3, {}));
      c.push_back(s3.sample(l3, {}));
    }
  }
  CHECK(a == b, "same seed, same tokens");
  CHECK(a != c, "another seed, other tokens");

  // Out-of-range parameters are InvalidArgument.
  auto invalid = [](SamplingParams p) {
    try {
      Sampler x(p);
    } catch (const Error& e) {
      return e.code() == ErrorCode::InvalidArgument;
    }
    return false;
  };
  SamplingParams bad;
  bad.repetition_penalty = 0.0f;
  CHECK(invalid(bad), "penalty 0");
  bad = SamplingParams();
  bad.top_p = 0.0f;
  CHECK(invalid(bad), "top_p 0");
  bad = SamplingParams();
  bad.min_p = 1.5f;
  CHECK(invalid(bad), "min_p 1.5");
  bad = SamplingParams();
  bad.top_k = -1;
  CHECK(invalid(bad), "top_k -1");
  bad = SamplingParams();
  bad.temperature = NAN;
  CHECK(invalid(bad), "temperature NaN");

  std::printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
