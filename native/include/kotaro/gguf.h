// GGUF reader: maps a file read-only and validates every count, length, shape, type and
// offset before anything is used (GGUF v2/v3, little-endian). A file that breaks the format
// gives kotaro::Error GgufMalformed; one that is well-formed but uses something we do not
// read (version, big-endian, nested arrays, unknown tensor type ids) GgufUnsupported. Each
// message names the key or tensor and the byte offset.
//
// Metadata getters are typed: asking for a key that is missing, or whose stored type does
// not fit the request, throws ModelMismatch (the file is valid, it just is not the model
// we expected). Integer getters accept any stored integer type whose value fits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kotaro/error.h"
#include "kotaro/ggml_types.h"

namespace kotaro {

enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8,
  Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_value_type_name(GgufValueType type);

struct GgufTensor {
  std::string name;
  uint32_t type_id = 0;      // raw id from the file
  GgmlType type = GgmlType::F32;
  int n_dims = 0;            // 1..4
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the fastest-varying dimension
  uint64_t offset = 0;       // absolute byte offset in the file
  uint64_t bytes = 0;        // data size
  const uint8_t* data = nullptr;  // inside the mapping; valid while the GgufFile lives

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[128, 704]"
};

class GgufFile {
 public:
  // Maps and validates `path`. Throws FileIo when it cannot be opened or mapped.
  static std::shared_ptr<GgufFile> open(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  // --- metadata
  bool has_key(const std::string& key) const { return kv_.count(key) != 0; }
  std::vector<std::string> keys() const;  // in file order
  GgufValueType key_type(const std::string& key) const;
  GgufValueType array_type(const std::string& key) const;  // element type of an array key
  uint64_t array_size(const std::string& key) const;

  std::string get_string(const std::string& key) const;
  uint32_t get_u32(const std::string& key) const;
  int32_t get_i32(const std::string& key) const;
  uint64_t get_u64(const std::string& key) const;
  int64_t get_i64(const std::string& key) const;
  float get_f32(const std::string& key) const;  // F32 or F64 (narrowed)
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;   // any integer elements
  std::vector<float> get_float_array(const std::string& key) const;   // F32/F64 elements

  // Variants returning `fallback` when the key is absent (a present key of the wrong type
  // still throws).
  std::string get_string(const std::string& key, const std::string& fallback) const;
  uint32_t get_u32(const std::string& key, uint32_t fallback) const;
  float get_f32(const std::string& key, float fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;

  // --- tensors
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;  // nullptr when absent
  const GgufTensor& tensor(const std::string& name) const;       // throws ModelMismatch

  // The mapping, to keep weights alive without copying (see Backend::upload_weight).
  std::shared_ptr<const void> mapping() const { return mapping_; }

  struct Value;  // parsed metadata value (defined in src/gguf/)

 private:
  GgufFile() = default;
  void parse();
  const Value& value(const std::string& key) const;

  std::string path_;
  std::shared_ptr<const void> mapping_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, std::shared_ptr<Value>> kv_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace kotaro
