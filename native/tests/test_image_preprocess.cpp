// Image preprocessing against transformers' Qwen2VLImageProcessor: the fixtures' PNGs,
// decoded, must give the reference pixel_values and image_grid_thw; plus smart_resize
// cases worked out by hand from the Python reference.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "../tools/fixture_eval.h"
#include "../tools/png_decode.h"
#include "image/bicubic_resize.h"
#include "image/qwen_image_processor.h"
#include "image/smart_resize.h"
#include "test_check.h"

using namespace kotaro_tools;


static void test_smart_resize() {
  using kotaro::smart_resize;
  // Within limits: round to multiples of 28 (half to even: 42/28 = 1.5 -> 2, 70/28 = 2.5 -> 2).
  auto r = smart_resize(84, 56, 28, 3136, 200704);
  CHECK(r.height == 84 && r.width == 56, "84x56 -> %dx%d", r.height, r.width);
  r = smart_resize(42, 70, 28, 0, 1 << 30);
  CHECK(r.height == 56 && r.width == 56, "42x70 (ties to even) -> %dx%d", r.height, r.width);
  // Above max_pixels: floor(h / beta / 28) * 28 with beta = sqrt(h*w / max).
  r = smart_resize(360, 640, 28, 3136, 200704);
  CHECK(r.height == 336 && r.width == 588, "360x640 -> %dx%d", r.height, r.width);
  // The reference doc's worked example (1024x768, llama.cpp limits but same arithmetic).
  r = smart_resize(768, 1024, 28, 6272, 3211264);
  CHECK(r.height == 756 && r.width == 1036, "768x1024 -> %dx%d", r.height, r.width);
  // Below min_pixels: ceil(h * beta / 28) * 28.
  r = smart_resize(20, 30, 28, 3136, 200704);
  CHECK(r.height == 56 && r.width == 84, "20x30 -> %dx%d", r.height, r.width);
  bool threw = false;
  try {
    smart_resize(1, 300, 28, 3136, 200704);
  } catch (const kotaro::Error& e) {
    threw = e.code() == kotaro::ErrorCode::InvalidArgument;
  }
  CHECK(threw, "aspect ratio 300 must be rejected");
}

static void test_resize_identity_and_constant() {
  using kotaro::BicubicPrecision;
  for (BicubicPrecision prec : {BicubicPrecision::Pillow, BicubicPrecision::Torch}) {
    // Same size: no pass runs, the image is unchanged.
    std::vector<uint8_t> img(5 * 4 * 3);
    for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 37);
    CHECK(kotaro::bicubic_resize_rgb8(img.data(), 5, 4, 5, 4, prec) == img, "identity resize changed pixels");
    // A constant image stays constant at any scale (normalised taps).
    std::vector<uint8_t> flat(17 * 9 * 3, 200);
    for (auto [w, h] : {std::pair{5, 3}, std::pair{40, 31}, std::pair{17, 2}}) {
      const auto out = kotaro::bicubic_resize_rgb8(flat.data(), 17, 9, w, h, prec);
      bool same = true;
      for (uint8_t v : out) same &= v == 200;
      CHECK(same, "constant image resized to %dx%d is not constant", w, h);
    }
  }
}

// The reference pixel_values of one image, back to uint8 levels [3][h][w] (they are exact
// levels: (v*std + mean)*255 lands within 1e-4 of an integer).
static std::vector<int> reference_levels(const std::vector<float>& pv, size_t offset, int gh, int gw,
                                         const kotaro::ImageProcessorConfig& cfg) {
  const int H = gh * 14, W = gw * 14;
  std::vector<int> lv(static_cast<size_t>(3) * H * W);
  size_t row = offset;
  for (int by = 0; by < gh / 2; ++by)
    for (int bx = 0; bx < gw / 2; ++bx)
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx, ++row)
          for (int c = 0; c < 3; ++c)
            for (int py = 0; py < 14; ++py)
              for (int px = 0; px < 14; ++px) {
                const float v = pv[row * 1176 + c * 392 + py * 14 + px];  // temporal slice 0
                const int y = (by * 2 + dy) * 14 + py, x = (bx * 2 + dx) * 14 + px;
                lv[(static_cast<size_t>(c) * H + y) * W + x] =
                    static_cast<int>(std::lround((static_cast<double>(v) * cfg.std[c] + cfg.mean[c]) * 255.0));
              }
  return lv;
}

// Pillow's precision against the same reference: close (one level on a few values).
static void pillow_vs_reference(const RgbImage& img, const std::vector<float>& pv, size_t offset, int gh, int gw,
                                const kotaro::ImageProcessorConfig& cfg, const std::string& what) {
  const int H = gh * 14, W = gw * 14;
  const std::vector<int> ref = reference_levels(pv, offset, gh, gw, cfg);
  const auto pil = kotaro::bicubic_resize_rgb8(img.rgb.data(), img.width, img.height, W, H, kotaro::BicubicPrecision::Pillow);
  size_t off = 0;
  int worst = 0;
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < static_cast<size_t>(H) * W; ++i) {
      const int d = std::abs(pil[i * 3 + c] - ref[c * H * W + i]);
      off += d != 0;
      worst = std::max(worst, d);
    }
  std::printf("%-32s Pillow precision: %zu of %zu levels differ (max %d)\n", what.c_str(), off,
              static_cast<size_t>(3) * H * W, worst);
  CHECK(off * 100 < static_cast<size_t>(3) * H * W && worst <= 2, "%s: Pillow precision too far from the reference",
        what.c_str());
}

static void test_fixture_images() {
  const std::string root = fixtures_root() + "/tiny-qwen25vl-a";
  const Json pre = JsonParser(read_text(root + "/hf/preprocessor_config.json")).parse();
  kotaro::ImageProcessorConfig cfg;
  cfg.min_pixels = static_cast<int64_t>(pre.at("size").at("shortest_edge").num);
  cfg.max_pixels = static_cast<int64_t>(pre.at("size").at("longest_edge").num);
  for (int c = 0; c < 3; ++c) {
    cfg.mean[c] = static_cast<float>(pre.at("image_mean").arr[c].num);
    cfg.std[c] = static_cast<float>(pre.at("image_std").arr[c].num);
  }
  const Json manifest = load_manifest(root + "/refs");
  double worst = 0;
  for (const std::string& name : case_names(manifest)) {
    const FixtureCase c = load_case(root + "/refs", manifest, name);
    if (c.images.empty()) continue;
    std::vector<float> ours;
    std::vector<int32_t> grids;
    for (const std::string& file : c.images) {
      const RgbImage img = read_png(root + "/images/" + file);
      const kotaro::PixelValues pv = kotaro::preprocess_qwen_image(img.rgb.data(), img.width, img.height, cfg);
      if (c.pixel_values.size() >= (ours.size() + pv.data.size()))
        pillow_vs_reference(img, c.pixel_values, ours.size() / 1176, pv.grid_h, pv.grid_w, cfg, name + "/" + file);
      ours.insert(ours.end(), pv.data.begin(), pv.data.end());
      grids.insert(grids.end(), {pv.grid_t, pv.grid_h, pv.grid_w});
    }
    CHECK(grids == c.image_grid_thw, "%s: image_grid_thw differs", name.c_str());
    const Diff d = diff(ours, c.pixel_values);
    size_t off = 0;  // elements off by more than float rounding
    for (size_t i = 0; i < ours.size() && ours.size() == c.pixel_values.size(); ++i)
      off += std::fabs(ours[i] - c.pixel_values[i]) > 1e-5;
    std::printf("%-20s pixel_values max abs err %.3g (%zu of %zu values above 1e-5)\n", name.c_str(), d.max_abs, off,
                c.pixel_values.size());
    worst = std::max(worst, d.max_abs);
    CHECK(d.max_abs < 1e-5, "%s: pixel_values max abs err %.3g", name.c_str(), d.max_abs);
  }
  std::printf("worst pixel_values max abs err: %.3g\n", worst);
}

int main() {
  try {
    test_smart_resize();
    test_resize_identity_and_constant();
    test_fixture_images();
  } catch (const std::exception& e) {
    std::printf("FAIL: exception %s\n", e.what());
    return 1;
  }
  std::printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
