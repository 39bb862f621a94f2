// Token layout of the Qwen2.5-VL vision tower for one image/frame stack, as transformers'
// Qwen2_5_VisionTransformerPretrainedModel computes it (rot_pos_emb, get_window_index).
// Pure functions of the grid; shared by every backend.
#pragma once
#include <cstdint>
#include <vector>

namespace kotaro {

struct VisionLayout {
  int64_t n_patches = 0;   // grid_t * grid_h * grid_w
  int64_t n_merged = 0;    // n_patches / merge^2
  // window_index[j]: the merge group (in the processor's merge order) placed at position j
  // of the window-ordered sequence; reverse_index is its inverse.
  std::vector<int32_t> window_index, reverse_index;
  // Patch-row bounds of the attention windows (window layers) and of the frames (full
  // attention layers), in the window-ordered sequence; both start at 0 and end at n_patches.
  std::vector<int32_t> window_bounds, frame_bounds;
  // 2-D RoPE positions of the window-ordered patches: [2][n_patches] (row y, column x).
  std::vector<int32_t> positions;
};

// grid_h/grid_w in patches (multiples of merge); window_px: window size in pixels (112);
// throws InvalidArgument on a grid that does not fit.
VisionLayout make_vision_layout(int grid_t, int grid_h, int grid_w, int merge, int patch, int window_px);

}  // namespace kotaro
