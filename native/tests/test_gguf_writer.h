// Builds GGUF files byte by byte for the GGUF tests, valid or deliberately broken.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kotaro/quant.h"

namespace gguf_test {

struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
};

struct KV {
  std::string key;
  uint32_t type;
  std::vector<uint8_t> value;  // bytes after the type field
};
struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;
  uint32_t type;
  uint64_t offset;
};
struct Spec {
  std::string magic = "GGUF";
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors, n_kv;  // override the real counts
  std::vector<KV> kvs;
  std::vector<TensorInfo> tensors;
  uint64_t alignment = 32;                  // used for padding only
  std::optional<uint64_t> data_size;        // default: enough for every tensor
  std::vector<uint8_t> data;                // the data section; empty: a byte pattern
};

// Value encoders (the bytes after the type id).
inline std::vector<uint8_t> v_u32(uint32_t v) { return Bytes().put(v).b; }
inline std::vector<uint8_t> v_i32(int32_t v) { return Bytes().put(v).b; }
inline std::vector<uint8_t> v_f32(float v) { return Bytes().put(v).b; }
inline std::vector<uint8_t> v_u64(uint64_t v) { return Bytes().put(v).b; }
inline std::vector<uint8_t> v_bool(uint8_t v) { return Bytes().put(v).b; }
inline std::vector<uint8_t> v_str(const std::string& s) { return Bytes().str(s).b; }
template <class T>
std::vector<uint8_t> v_arr(uint32_t elem_type, const std::vector<T>& xs) {
  Bytes b;
  b.put(elem_type).put<uint64_t>(xs.size());
  for (const T& x : xs) b.put(x);
  return b.b;
}
inline std::vector<uint8_t> v_arr_str(const std::vector<std::string>& xs) {
  Bytes b;
  b.put<uint32_t>(8).put<uint64_t>(xs.size());
  for (const auto& x : xs) b.str(x);
  return b.b;
}

inline uint64_t tensor_bytes(const TensorInfo& t) {
  const kotaro::TypeTraits tr = kotaro::type_traits(t.type);
  if (tr.block_size == 0 || t.ne.empty() || t.ne[0] < 0) return 0;
  uint64_t n = static_cast<uint64_t>(t.ne[0]) / tr.block_size * tr.type_size;
  for (size_t d = 1; d < t.ne.size(); ++d) {
    if (t.ne[d] < 0 || t.ne[d] > (1 << 20)) return 0;
    n *= static_cast<uint64_t>(t.ne[d]);
  }
  return n;
}

inline std::vector<uint8_t> build(const Spec& s) {
  Bytes b;
  b.b.insert(b.b.end(), s.magic.begin(), s.magic.end());
  b.put(s.version);
  b.put<uint64_t>(s.n_tensors ? *s.n_tensors : s.tensors.size());
  b.put<uint64_t>(s.n_kv ? *s.n_kv : s.kvs.size());
  for (const KV& kv : s.kvs) {
    b.str(kv.key).put(kv.type);
    b.b.insert(b.b.end(), kv.value.begin(), kv.value.end());
  }
  uint64_t data = 0;
  for (const TensorInfo& t : s.tensors) {
    b.str(t.name).put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) b.put(d);
    b.put(t.type).put(t.offset);
    const uint64_t end = t.offset + tensor_bytes(t);
    if (t.offset < (1u << 24) && end > data) data = end;
  }
  if (s.data_size) data = *s.data_size;
  while (b.b.size() % s.alignment) b.b.push_back(0);
  if (!s.data.empty()) {
    b.b.insert(b.b.end(), s.data.begin(), s.data.end());
    return b.b;
  }
  for (uint64_t i = 0; i < data; ++i) b.b.push_back(static_cast<uint8_t>(i * 7 + 1));
  return b.b;
}

// A small valid file: scalar, string and array metadata, an F32, an F16 and a Q8_0 tensor.
inline Spec valid_spec() {
  Spec s;
  s.kvs = {
      {"general.architecture", 8, v_str("qwen2")},
      {"general.alignment", 4, v_u32(32)},
      {"qwen2.block_count", 4, v_u32(3)},
      {"qwen2.rope.freq_base", 6, v_f32(1e6f)},
      {"test.i32", 5, v_i32(-7)},
      {"test.u64", 10, v_u64(1ull << 40)},
      {"test.bool", 7, v_bool(1)},
      {"test.ints", 9, v_arr<int32_t>(5, {4, 6, 6, 0})},
      {"test.floats", 9, v_arr<float>(6, {0.5f, 0.25f})},
      {"test.strings", 9, v_arr_str({"a", "", "<|image_pad|>"})},
  };
  s.tensors = {
      {"a.weight", {8, 2}, 0, 0},    // F32: 64 bytes
      {"b.weight", {4}, 1, 64},      // F16: 8 bytes (padded to 32)
      {"c.weight", {32, 2}, 8, 96},  // Q8_0: 68 bytes
  };
  return s;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace gguf_test
