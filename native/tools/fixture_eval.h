// Shared by tools/kotaro_eval.cpp and tests/test_model_*.cpp: reads a fixture case
// (/work/shared/fixtures/README.md) and runs it through the engine, measuring how far the
// engine's vision embeddings, positions, logits and greedy tokens are from the reference.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <type_traits>
#include <vector>

#include "kotaro/engine.h"
#include "mini_json.h"
#include "png_decode.h"

namespace kotaro_tools {

constexpr double kNearTieGap = 5e-4;  // reference top-2 gap below which greedy may part ways

inline bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// KOTARO_FIXTURES, else ../shared/fixtures from the repo root (or from native/, where ctest runs).
inline std::string fixtures_root() {
  if (const char* env = std::getenv("KOTARO_FIXTURES")) return env;
  for (const char* c : {"../shared/fixtures", "../../shared/fixtures"})
    if (path_exists(c)) return c;
  return "../shared/fixtures";
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class T>
std::vector<T> read_raw(const std::string& path) {
  const std::string bytes = read_text(path);
  if (bytes.size() % sizeof(T)) throw std::runtime_error(path + ": size is not a multiple of the element size");
  std::vector<T> v(bytes.size() / sizeof(T));
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(v.data()));
  return v;
}

template <class T>
void write_raw(const std::string& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

struct FixtureCase {
  std::string name;
  std::vector<std::string> images;
  int64_t vocab = 0;
  std::vector<int32_t> input_ids, image_grid_thw, position_ids, greedy_tokens;
  std::vector<float> pixel_values, vision_embeds, logits, greedy_logits;
  bool has(const char* array) const { return arrays.find(array) != nullptr; }
  Json arrays;  // the case's manifest entry
};

inline Json load_manifest(const std::string& refs_dir) {
  return JsonParser(read_text(refs_dir + "/manifest.json")).parse();
}

inline std::vector<std::string> case_names(const Json& manifest) {
  std::vector<std::string> names;
  for (const auto& kv : manifest.at("cases").obj) names.push_back(kv.first);
  return names;
}

inline FixtureCase load_case(const std::string& refs_dir, const Json& manifest, const std::string& name) {
  FixtureCase c;
  c.name = name;
  c.arrays = manifest.at("cases").at(name);
  c.vocab = static_cast<int64_t>(manifest.at("vocab_size").num);
  if (const Json* imgs = c.arrays.find("images"))
    for (const Json& s : imgs->arr) c.images.push_back(s.str);
  // Reads array `a` of the case when the manifest lists it, checking its element count.
  auto load = [&](const char* a, auto& out) {
    const Json* e = c.arrays.find(name + "." + a);
    if (!e) return;
    size_t n = 1;
    for (const Json& d : e->at("shape").arr) n *= static_cast<size_t>(d.num);
    out = read_raw<typename std::decay_t<decltype(out)>::value_type>(refs_dir + "/" + e->at("file").str);
    if (out.size() != n) throw std::runtime_error(name + "." + a + ": wrong element count");
  };
  load("input_ids", c.input_ids);
  load("image_grid_thw", c.image_grid_thw);
  load("position_ids", c.position_ids);
  load("greedy_tokens", c.greedy_tokens);
  load("pixel_values", c.pixel_values);
  load("vision_embeds", c.vision_embeds);
  load("logits", c.logits);
  load("greedy_logits", c.greedy_logits);
  return c;
}

struct Diff {
  double max_abs = 0, max_ref = 0;
  double rel() const { return max_ref > 0 ? max_abs / max_ref : max_abs; }
};

inline Diff diff(const std::vector<float>& ours, const std::vector<float>& ref) {
  Diff d;
  if (ours.size() != ref.size()) {
    d.max_abs = INFINITY;
    return d;
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::fabs(static_cast<double>(ours[i]) - ref[i]);
    d.max_abs = std::max(d.max_abs, std::isnan(e) ? INFINITY : e);
    d.max_ref = std::max(d.max_ref, std::fabs(static_cast<double>(ref[i])));
  }
  return d;
}

inline int64_t row_argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

inline double top2_gap(const float* row, int64_t n) {
  double a = -INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (row[i] > a) { b = a; a = row[i]; }
    else if (row[i] > b) b = row[i];
  }
  return a - b;
}

// The case's pixel_values cut into one PixelValues per image, by image_grid_thw
// (1176 = 3 channels x 2 frames x 14 x 14 values per patch).
inline std::vector<kotaro::PixelValues> split_pixel_values(const FixtureCase& c) {
  std::vector<kotaro::PixelValues> out;
  size_t offset = 0;
  for (size_t i = 0; i + 3 <= c.image_grid_thw.size(); i += 3) {
    kotaro::PixelValues pv;
    pv.grid_t = c.image_grid_thw[i];
    pv.grid_h = c.image_grid_thw[i + 1];
    pv.grid_w = c.image_grid_thw[i + 2];
    const size_t n = static_cast<size_t>(pv.grid_t) * pv.grid_h * pv.grid_w * 1176;
    if (offset + n > c.pixel_values.size()) throw std::runtime_error(c.name + ": pixel_values shorter than the grids");
    pv.data.assign(c.pixel_values.begin() + offset, c.pixel_values.begin() + offset + n);
    offset += n;
    out.push_back(std::move(pv));
  }
  return out;
}

struct CaseResult {
  std::string name;
  bool has_vision = false;
  Diff vision;
  bool positions_checked = false, positions_equal = false;
  Diff logits;
  int64_t top1_rows = 0, top1_agree = 0;          // every row
  int64_t top1_clear_rows = 0, top1_clear_agree = 0;  // rows whose reference top-2 gap >= kNearTieGap
  int greedy_compared = 0;   // steps compared (up to the first reference near-tie)
  bool greedy_ok = true;     // tokens equal over the compared steps
  int greedy_first_mismatch = -1;
  Diff greedy_logits;        // over the compared steps
  std::vector<float> our_vision, our_logits, our_greedy_logits;
  std::vector<int32_t> our_positions, our_greedy;
};

// Runs one case: vision tower from the reference pixel_values (or, with png_dir, from the
// case's PNG files through Model::encode_image_rgb: the backend's own preprocessing),
// prefill with all logits, 20 greedy tokens.
inline CaseResult run_case(kotaro::Model& model, const FixtureCase& c, const std::string& png_dir = "") {
  CaseResult r;
  r.name = c.name;
  const int64_t vocab = model.info().n_vocab;
  std::vector<kotaro::ImageEmbeds> embeds;
  if (!c.image_grid_thw.empty() && !png_dir.empty()) {
    r.has_vision = true;
    for (const std::string& file : c.images) {
      const RgbImage img = read_png(png_dir + "/" + file);
      embeds.push_back(model.encode_image_rgb(img.rgb.data(), img.width, img.height));
      r.our_vision.insert(r.our_vision.end(), embeds.back().data.begin(), embeds.back().data.end());
    }
    r.vision = diff(r.our_vision, c.vision_embeds);
  } else if (!c.image_grid_thw.empty()) {
    r.has_vision = true;
    for (const kotaro::PixelValues& pv : split_pixel_values(c)) {
      embeds.push_back(model.encode_image(pv));
      r.our_vision.insert(r.our_vision.end(), embeds.back().data.begin(), embeds.back().data.end());
    }
    r.vision = diff(r.our_vision, c.vision_embeds);
  }
  std::vector<const kotaro::ImageEmbeds*> ptrs;
  for (const auto& e : embeds) ptrs.push_back(&e);
  auto session = model.new_session();
  session->prefill(c.input_ids, ptrs, &r.our_logits);
  r.our_positions = session->position_ids();
  if (!c.position_ids.empty()) {
    r.positions_checked = true;
    r.positions_equal = r.our_positions == c.position_ids;
  }
  r.logits = diff(r.our_logits, c.logits);
  const int64_t rows = static_cast<int64_t>(c.input_ids.size());
  if (static_cast<int64_t>(c.logits.size()) == rows * vocab) {
    for (int64_t i = 0; i < rows; ++i) {
      const bool agree = row_argmax(&r.our_logits[i * vocab], vocab) == row_argmax(&c.logits[i * vocab], vocab);
      ++r.top1_rows;
      r.top1_agree += agree;
      if (top2_gap(&c.logits[i * vocab], vocab) >= kNearTieGap) {
        ++r.top1_clear_rows;
        r.top1_clear_agree += agree;
      }
    }
  }
  kotaro::GenerateOptions g;
  g.max_new_tokens = static_cast<int>(c.greedy_tokens.size());
  g.sampling.temperature = 0;
  r.our_greedy = session->generate(g, [&](int32_t) {
    const auto& l = session->last_logits();  // the logits that chose this token
    r.our_greedy_logits.insert(r.our_greedy_logits.end(), l.begin(), l.end());
    return true;
  });
  std::vector<float> ours_cmp, ref_cmp;
  for (size_t i = 0; i < c.greedy_tokens.size(); ++i) {
    if (top2_gap(&c.greedy_logits[i * vocab], vocab) < kNearTieGap) break;
    if (i >= r.our_greedy.size() || r.our_greedy[i] != c.greedy_tokens[i]) {
      r.greedy_ok = false;
      r.greedy_first_mismatch = static_cast<int>(i);
      break;
    }
    ++r.greedy_compared;
    ours_cmp.insert(ours_cmp.end(), r.our_greedy_logits.begin() + i * vocab, r.our_greedy_logits.begin() + (i + 1) * vocab);
    ref_cmp.insert(ref_cmp.end(), c.greedy_logits.begin() + i * vocab, c.greedy_logits.begin() + (i + 1) * vocab);
  }
  r.greedy_logits = diff(ours_cmp, ref_cmp);
  return r;
}

}  // namespace kotaro_tools
