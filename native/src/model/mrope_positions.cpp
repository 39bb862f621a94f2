#include "model/mrope_positions.h"

#include <algorithm>
#include <string>

#include "kotaro/error.h"

namespace kotaro {

namespace {
void check_range(int64_t v) {
  if (v > INT32_MAX) fail(ErrorCode::InvalidArgument, "position " + std::to_string(v) + " overflows int32");
}
}  // namespace

void MropePositions::append_text(int64_t n) {
  check_range(next_ + n);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t p = static_cast<int32_t>(next_ + i);
    t_.push_back(p);
    h_.push_back(p);
    w_.push_back(p);
  }
  next_ += n;
}

void MropePositions::append_image(int64_t frames, int64_t lh, int64_t lw) {
  if (frames <= 0 || lh <= 0 || lw <= 0) fail(ErrorCode::InvalidArgument, "append_image: empty grid");
  const int64_t base = next_;
  check_range(base + std::max(lh, lw));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t y = 0; y < lh; ++y)
      for (int64_t x = 0; x < lw; ++x) {
        t_.push_back(static_cast<int32_t>(base));
        h_.push_back(static_cast<int32_t>(base + y));
        w_.push_back(static_cast<int32_t>(base + x));
      }
  next_ = base + std::max(lh, lw);
}

void MropePositions::truncate(int64_t n) {
  if (n < 0 || n > size()) fail(ErrorCode::InvalidArgument, "truncate: " + std::to_string(n) + " positions of " + std::to_string(size()));
  t_.resize(n);
  h_.resize(n);
  w_.resize(n);
  int64_t mx = -1;
  for (int64_t i = 0; i < n; ++i) mx = std::max<int64_t>({mx, t_[i], h_[i], w_[i]});
  next_ = mx + 1;
}

std::vector<int32_t> MropePositions::rows(int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first + count > size()) fail(ErrorCode::Internal, "MropePositions::rows out of range");
  std::vector<int32_t> out(static_cast<size_t>(3 * count));
  std::copy(t_.begin() + first, t_.begin() + first + count, out.begin());
  std::copy(h_.begin() + first, h_.begin() + first + count, out.begin() + count);
  std::copy(w_.begin() + first, w_.begin() + first + count, out.begin() + 2 * count);
  return out;
}

}  // namespace kotaro
