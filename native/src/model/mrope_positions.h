// M-RoPE positions of a token sequence as transformers' Qwen2.5-VL get_rope_index assigns
// them, built incrementally (one prefill at a time):
//  - a text token takes t = h = w = next, then next += 1;
//  - an image of merged grid lh x lw starting at `next` = P gives its token (y, x)
//    t = P, h = P + y, w = P + x (time index 0: still images), then next = P + max(lh, lw)
//    (the maximum position used + 1).
// Plain Qwen2 uses the same with only text tokens (t = h = w = index).
#pragma once
#include <cstdint>
#include <vector>

namespace kotaro {

class MropePositions {
 public:
  void append_text(int64_t n);
  // grid in merged tokens; n_tokens = frames * lh * lw (every frame at time index 0).
  void append_image(int64_t frames, int64_t lh, int64_t lw);
  // Keeps the first n positions; `next` becomes their maximum + 1 (0 when empty).
  void truncate(int64_t n);

  int64_t size() const { return static_cast<int64_t>(t_.size()); }
  int64_t next() const { return next_; }
  // [3][count] positions of tokens [first, first+count) (t row, then h, then w).
  std::vector<int32_t> rows(int64_t first, int64_t count) const;

 private:
  std::vector<int32_t> t_, h_, w_;
  int64_t next_ = 0;
};

}  // namespace kotaro
