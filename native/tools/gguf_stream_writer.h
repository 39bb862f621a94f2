// Writes a GGUF v3 file as a stream: the header (metadata and tensor infos, small) is built
// in memory, then each tensor's data is produced chunk by chunk by a caller's function and
// written at once, so a multi-gigabyte file never sits in memory. Layout as llama.cpp's
// gguf-py writes it: little-endian, KVs and tensor infos in insertion order, data offsets
// relative to the data section, every tensor padded with zeros to the alignment (32).
// The file is written to `<path>.partial` and renamed when complete.
// Used by bench_model (synthetic models); the GGUF tests build small files in memory with
// tests/test_gguf_writer.h instead.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "kotaro/error.h"
#include "kotaro/ggml_types.h"
#include "kotaro/quant.h"

namespace kotaro_tools {

class GgufStreamWriter {
 public:
  static constexpr uint64_t kAlignment = 32;

  struct TensorSpec {
    std::string name;
    std::vector<int64_t> ne;  // ggml order: ne[0] is the row length
    kotaro::GgmlType type;
    uint64_t bytes = 0;   // data bytes (before padding)
    uint64_t offset = 0;  // from the start of the data section
  };

  // --- metadata (key types as gguf-py writes them)
  void kv_u32(const std::string& k, uint32_t v) { scalar(k, 4, &v, 4); }
  void kv_i32(const std::string& k, int32_t v) { scalar(k, 5, &v, 4); }
  void kv_f32(const std::string& k, float v) { scalar(k, 6, &v, 4); }
  void kv_bool(const std::string& k, bool v) {
    const uint8_t b = v ? 1 : 0;
    scalar(k, 7, &b, 1);
  }
  void kv_str(const std::string& k, const std::string& v) {
    key(k, 8);
    str(v);
  }
  void kv_i32_array(const std::string& k, const std::vector<int32_t>& v) { array(k, 5, v.data(), v.size(), 4); }
  void kv_f32_array(const std::string& k, const std::vector<float>& v) { array(k, 6, v.data(), v.size(), 4); }
  void kv_str_array(const std::string& k, const std::vector<std::string>& v) {
    key(k, 9);
    put<uint32_t>(8);
    put<uint64_t>(v.size());
    for (const std::string& s : v) str(s);
  }

  // Declares a tensor (data comes later, in declaration order). Its rows must fill whole
  // blocks of its type.
  size_t tensor(const std::string& name, std::vector<int64_t> ne, kotaro::GgmlType type) {
    TensorSpec t;
    t.name = name;
    t.ne = std::move(ne);
    t.type = type;
    uint64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= static_cast<uint64_t>(t.ne[d]);
    t.bytes = kotaro::row_size(type, t.ne[0]) * rows;  // throws for a partial block
    t.offset = data_bytes_;
    data_bytes_ = padded(t.offset + t.bytes);
    tensors_.push_back(std::move(t));
    return tensors_.size() - 1;
  }
  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  uint64_t data_bytes() const { return data_bytes_; }

  // fill(tensor index, byte offset in the tensor, dst, bytes): writes `bytes` bytes of the
  // tensor's data starting at that offset. Chunks hold whole blocks of the tensor's type
  // (offset and length multiples of its block bytes, except a tensor's short last chunk).
  using Filler = std::function<void(size_t, uint64_t, uint8_t*, size_t)>;

  // Writes the file; returns its size. The next chunk is filled while the last is written.
  uint64_t write(const std::string& path, const Filler& fill, size_t chunk_bytes = 64u << 20) const {
    std::vector<uint8_t> header;
    header.insert(header.end(), {'G', 'G', 'U', 'F'});
    append<uint32_t>(header, 3);
    append<uint64_t>(header, tensors_.size());
    append<uint64_t>(header, n_kv_);
    header.insert(header.end(), kv_bytes_.begin(), kv_bytes_.end());
    for (const TensorSpec& t : tensors_) {
      append<uint64_t>(header, t.name.size());
      header.insert(header.end(), t.name.begin(), t.name.end());
      append<uint32_t>(header, static_cast<uint32_t>(t.ne.size()));
      for (int64_t d : t.ne) append<int64_t>(header, d);
      append<uint32_t>(header, static_cast<uint32_t>(t.type));
      append<uint64_t>(header, t.offset);
    }
    header.resize(padded(header.size()), 0);

    const std::string partial = path + ".partial";
    FILE* f = std::fopen(partial.c_str(), "wb");
    if (!f) kotaro::fail(kotaro::ErrorCode::FileIo, "cannot create '" + partial + "'");
    try {
      write_all(f, header.data(), header.size(), partial);
      std::vector<uint8_t> bufs[2];
      std::future<void> pending;
      int cur = 0;
      uint64_t pos = 0;  // bytes of the data section written (or queued)
      for (size_t i = 0; i < tensors_.size(); ++i) {
        const TensorSpec& t = tensors_[i];
        const size_t block = kotaro::row_size(t.type, static_cast<int64_t>(
                                                          kotaro::type_traits(static_cast<uint32_t>(t.type)).block_size));
        const size_t step = std::max<size_t>(block, chunk_bytes / block * block);
        for (uint64_t off = 0; off < t.bytes; off += step) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(step, t.bytes - off));
          const bool last = off + n == t.bytes;
          const size_t pad = last ? static_cast<size_t>(padded(t.offset + t.bytes) - (t.offset + t.bytes)) : 0;
          std::vector<uint8_t>& buf = bufs[cur];
          buf.resize(n + pad);
          fill(i, off, buf.data(), n);
          std::memset(buf.data() + n, 0, pad);
          if (pending.valid()) pending.get();  // the other buffer is free again
          pending = std::async(std::launch::async, [f, &buf, &partial] { write_all(f, buf.data(), buf.size(), partial); });
          pos += buf.size();
          cur ^= 1;
        }
      }
      if (pending.valid()) pending.get();
      if (pos != data_bytes_) kotaro::fail(kotaro::ErrorCode::Internal, "gguf writer: data section size mismatch");
      if (std::fclose(f) != 0) {
        f = nullptr;
        kotaro::fail(kotaro::ErrorCode::FileIo, "cannot finish writing '" + partial + "'");
      }
      f = nullptr;
    } catch (...) {
      if (f) std::fclose(f);
      std::remove(partial.c_str());
      throw;
    }
    if (std::rename(partial.c_str(), path.c_str()) != 0)
      kotaro::fail(kotaro::ErrorCode::FileIo, "cannot rename '" + partial + "' to '" + path + "'");
    return header.size() + data_bytes_;
  }

 private:
  static uint64_t padded(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }
  template <class T>
  static void append(std::vector<uint8_t>& b, T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  template <class T>
  void put(T v) {
    append(kv_bytes_, v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    kv_bytes_.insert(kv_bytes_.end(), s.begin(), s.end());
  }
  void key(const std::string& k, uint32_t type) {
    str(k);
    put<uint32_t>(type);
    ++n_kv_;
  }
  void scalar(const std::string& k, uint32_t type, const void* v, size_t size) {
    key(k, type);
    const auto* p = static_cast<const uint8_t*>(v);
    kv_bytes_.insert(kv_bytes_.end(), p, p + size);
  }
  void array(const std::string& k, uint32_t elem, const void* v, size_t n, size_t size) {
    key(k, 9);
    put<uint32_t>(elem);
    put<uint64_t>(n);
    const auto* p = static_cast<const uint8_t*>(v);
    kv_bytes_.insert(kv_bytes_.end(), p, p + n * size);
  }
  static void write_all(FILE* f, const uint8_t* p, size_t n, const std::string& path) {
    if (n && std::fwrite(p, 1, n, f) != n)
      kotaro::fail(kotaro::ErrorCode::FileIo, "short write to '" + path + "' (disk full?)");
  }

  std::vector<uint8_t> kv_bytes_;
  uint64_t n_kv_ = 0;
  std::vector<TensorSpec> tensors_;
  uint64_t data_bytes_ = 0;
};

}  // namespace kotaro_tools
