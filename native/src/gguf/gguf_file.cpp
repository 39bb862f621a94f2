// GGUF parsing and validation (format: /work/shared/reference/gguf-qwen25vl.md §F.1).
// Every read goes through a bounded Cursor; every size computed from file values is
// overflow-checked before it is compared with the file size.
#include <algorithm>
#include <cstring>
#include <limits>

#include "gguf/mapped_file.h"
#include "kotaro/gguf.h"
#include "kotaro/quant.h"

namespace kotaro {

struct GgufFile::Value {
  GgufValueType type = GgufValueType::U8;
  uint64_t offset = 0;  // where the value starts in the file (for messages)
  // Scalars: integers in u (bit pattern of unsigned) and i (signed view); floats in f.
  uint64_t u = 0;
  int64_t i = 0;
  bool is_signed = false;
  double f = 0;
  bool b = false;
  std::string s;
  // Arrays: element type, count, and where the elements start (decoded on demand).
  GgufValueType elem = GgufValueType::U8;
  uint64_t count = 0;
  uint64_t elems_offset = 0;
};

namespace {

constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxNameLength = 1024;

std::string num(uint64_t v) { return std::to_string(v); }

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::F64); }

// Bytes of one scalar of a fixed-size type; 0 for String/Array.
uint64_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::Bool: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    case GgufValueType::U64: case GgufValueType::I64: case GgufValueType::F64: return 8;
    default: return 0;
  }
}

bool is_integer(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::U16:
    case GgufValueType::I16: case GgufValueType::U32: case GgufValueType::I32:
    case GgufValueType::U64: case GgufValueType::I64: return true;
    default: return false;
  }
}

// Bounded little-endian reader over the mapping. Every failure names what was being read
// and where.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, uint64_t pos) : base_(base), size_(size), pos_(pos) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > size_ - pos_)
      fail(ErrorCode::GgufMalformed, "truncated: " + what + " at offset " + num(pos_) + " needs " +
                                         num(n) + " bytes, only " + num(size_ - pos_) + " remain");
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));  // the engine only targets little-endian hosts
    pos_ += sizeof(T);
    return v;
  }
  void skip(uint64_t n, const std::string& what) {
    need(n, what);
    pos_ += n;
  }
  std::string read_string(const std::string& what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what + " length");
    if (len > remaining())
      fail(ErrorCode::GgufMalformed, what + " at offset " + num(at) + " claims " + num(len) +
                                         " bytes, only " + num(remaining()) + " remain");
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }
  // Skips one string, checking its length only.
  void skip_string(const std::string& what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what + " length");
    if (len > remaining())
      fail(ErrorCode::GgufMalformed, what + " at offset " + num(at) + " claims " + num(len) +
                                         " bytes, only " + num(remaining()) + " remain");
    pos_ += len;
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_;
};

// Reads a scalar of fixed-size type t into v.
void read_scalar(Cursor& c, GgufValueType t, GgufFile::Value& v, const std::string& what) {
  switch (t) {
    case GgufValueType::U8: v.u = c.read<uint8_t>(what); v.i = int64_t(v.u); break;
    case GgufValueType::I8: v.i = c.read<int8_t>(what); v.is_signed = true; break;
    case GgufValueType::U16: v.u = c.read<uint16_t>(what); v.i = int64_t(v.u); break;
    case GgufValueType::I16: v.i = c.read<int16_t>(what); v.is_signed = true; break;
    case GgufValueType::U32: v.u = c.read<uint32_t>(what); v.i = int64_t(v.u); break;
    case GgufValueType::I32: v.i = c.read<int32_t>(what); v.is_signed = true; break;
    case GgufValueType::U64: v.u = c.read<uint64_t>(what); v.i = int64_t(v.u); break;
    case GgufValueType::I64: v.i = c.read<int64_t>(what); v.is_signed = true; break;
    case GgufValueType::F32: v.f = c.read<float>(what); break;
    case GgufValueType::F64: v.f = c.read<double>(what); break;
    case GgufValueType::Bool: {
      const uint64_t at = c.pos();
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) fail(ErrorCode::GgufMalformed, what + " at offset " + num(at) + " is a bool of value " + num(b));
      v.b = b != 0;
      break;
    }
    default: fail(ErrorCode::Internal, "read_scalar on a non-scalar type");
  }
  if (v.is_signed) v.u = static_cast<uint64_t>(v.i);
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }
bool add_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_add_overflow(a, b, &out); }

}  // namespace

const char* gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8: return "u8";
    case GgufValueType::I8: return "i8";
    case GgufValueType::U16: return "u16";
    case GgufValueType::I16: return "i16";
    case GgufValueType::U32: return "u32";
    case GgufValueType::I32: return "i32";
    case GgufValueType::F32: return "f32";
    case GgufValueType::Bool: return "bool";
    case GgufValueType::String: return "string";
    case GgufValueType::Array: return "array";
    case GgufValueType::U64: return "u64";
    case GgufValueType::I64: return "i64";
    case GgufValueType::F64: return "f64";
  }
  return "unknown";
}

std::string GgufTensor::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  MappedFile m = map_file(path);
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->mapping_ = m.owner;
  f->base_ = m.data;
  f->size_ = m.size;
  try {
    f->parse();
  } catch (const Error& e) {
    throw Error(e.code(), "'" + path + "': " + e.what());
  }
  return f;
}

GgufFile::~GgufFile() = default;

void GgufFile::parse() {
  Cursor c(base_, size_, 0);
  c.need(4, "magic");
  if (std::memcmp(base_, "GGUF", 4) != 0) fail(ErrorCode::GgufMalformed, "not a GGUF file (bad magic at offset 0)");
  c.skip(4, "magic");
  version_ = c.read<uint32_t>("version");
  if ((version_ & 0xFFFF) == 0 && version_ != 0)
    fail(ErrorCode::GgufUnsupported, "big-endian GGUF files are not supported (version field " + num(version_) + ")");
  if (version_ == 1) fail(ErrorCode::GgufUnsupported, "GGUF version 1 is not supported (only 2 and 3)");
  if (version_ < 1 || version_ > 3)
    fail(ErrorCode::GgufUnsupported, "GGUF version " + num(version_) + " is not supported (only 2 and 3)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each KV takes at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes and each
  // tensor info at least 8 + 1 + 4 + 8 + 4 + 8: counts beyond that cannot be real.
  if (n_kv > c.remaining() / 14)
    fail(ErrorCode::GgufMalformed, "metadata count " + num(n_kv) + " at offset 16 is larger than the file can hold");
  if (n_tensors > c.remaining() / 33)
    fail(ErrorCode::GgufMalformed, "tensor count " + num(n_tensors) + " at offset 8 is larger than the file can hold");

  // --- metadata
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t key_at = c.pos();
    const std::string key = c.read_string("metadata key #" + num(k));
    if (key.empty()) fail(ErrorCode::GgufMalformed, "empty metadata key at offset " + num(key_at));
    if (kv_.count(key)) fail(ErrorCode::GgufMalformed, "duplicate metadata key '" + key + "' at offset " + num(key_at));
    auto v = std::make_shared<Value>();
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("type of key '" + key + "'");
    if (!valid_value_type(type))
      fail(ErrorCode::GgufMalformed, "key '" + key + "' has unknown value type " + num(type) + " at offset " + num(type_at));
    v->type = static_cast<GgufValueType>(type);
    v->offset = c.pos();
    const std::string what = "value of key '" + key + "'";
    if (v->type == GgufValueType::String) {
      v->s = c.read_string(what);
    } else if (v->type == GgufValueType::Array) {
      const uint64_t et_at = c.pos();
      const uint32_t et = c.read<uint32_t>("element type of key '" + key + "'");
      if (!valid_value_type(et))
        fail(ErrorCode::GgufMalformed, "array key '" + key + "' has unknown element type " + num(et) + " at offset " + num(et_at));
      if (et == static_cast<uint32_t>(GgufValueType::Array))
        fail(ErrorCode::GgufUnsupported, "array key '" + key + "' holds nested arrays (offset " + num(et_at) + ")");
      v->elem = static_cast<GgufValueType>(et);
      const uint64_t count_at = c.pos();
      v->count = c.read<uint64_t>("element count of key '" + key + "'");
      v->elems_offset = c.pos();
      if (v->elem == GgufValueType::String) {
        if (v->count > c.remaining() / 8)
          fail(ErrorCode::GgufMalformed, "array key '" + key + "' claims " + num(v->count) +
                                             " strings at offset " + num(count_at) + ", more than the file holds");
        for (uint64_t e = 0; e < v->count; ++e) c.skip_string("element " + num(e) + " of key '" + key + "'");
      } else {
        const uint64_t es = scalar_size(v->elem);
        if (v->count > c.remaining() / es)
          fail(ErrorCode::GgufMalformed, "array key '" + key + "' claims " + num(v->count) + " elements of " +
                                             num(es) + " bytes at offset " + num(count_at) + ", more than the file holds");
        if (v->elem == GgufValueType::Bool) {
          for (uint64_t e = 0; e < v->count; ++e) {
            Value tmp;
            read_scalar(c, GgufValueType::Bool, tmp, "element " + num(e) + " of key '" + key + "'");
          }
        } else {
          c.skip(v->count * es, what);
        }
      }
    } else {
      read_scalar(c, v->type, *v, what);
    }
    kv_[key] = v;
    key_order_.push_back(key);
  }

  if (has_key("general.alignment")) {
    const Value& a = *kv_["general.alignment"];
    if (a.type != GgufValueType::U32)
      fail(ErrorCode::GgufMalformed, std::string("general.alignment has type ") + gguf_value_type_name(a.type) +
                                         ", expected u32 (offset " + num(a.offset) + ")");
    if (a.u == 0 || (a.u & (a.u - 1)) != 0)
      fail(ErrorCode::GgufMalformed, "general.alignment " + num(a.u) + " is not a power of two (offset " + num(a.offset) + ")");
    alignment_ = a.u;
  }

  // --- tensor infos
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const uint64_t info_at = c.pos();
    GgufTensor ti;
    ti.name = c.read_string("name of tensor #" + num(t));
    if (ti.name.empty() || ti.name.size() > kMaxNameLength)
      fail(ErrorCode::GgufMalformed, "tensor #" + num(t) + " at offset " + num(info_at) + " has a name of " +
                                         num(ti.name.size()) + " bytes");
    if (tensor_index_.count(ti.name))
      fail(ErrorCode::GgufMalformed, "duplicate tensor '" + ti.name + "' at offset " + num(info_at));
    const std::string tn = "tensor '" + ti.name + "'";
    const uint64_t dims_at = c.pos();
    const uint32_t n_dims = c.read<uint32_t>("dimension count of " + tn);
    if (n_dims == 0 || n_dims > kMaxDims)
      fail(ErrorCode::GgufMalformed, tn + " has " + num(n_dims) + " dimensions at offset " + num(dims_at) + " (1..4 allowed)");
    ti.n_dims = static_cast<int>(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne_at = c.pos();
      const int64_t ne = c.read<int64_t>("dimension " + num(d) + " of " + tn);
      if (ne < 0) fail(ErrorCode::GgufMalformed, tn + " has negative dimension " + std::to_string(ne) + " at offset " + num(ne_at));
      ti.ne[d] = ne;
      if (mul_overflows(n_elements, static_cast<uint64_t>(ne), n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(ErrorCode::GgufMalformed, tn + " shape overflows at offset " + num(ne_at));
    }
    const uint64_t type_at = c.pos();
    ti.type_id = c.read<uint32_t>("type of " + tn);
    const TypeTraits traits = type_traits(ti.type_id);
    if (traits.block_size == 0)
      fail(ErrorCode::GgufUnsupported, tn + " has unknown type id " + num(ti.type_id) + " at offset " + num(type_at));
    ti.type = static_cast<GgmlType>(ti.type_id);
    if (ti.ne[0] % traits.block_size != 0)
      fail(ErrorCode::GgufMalformed, tn + " row of " + std::to_string(ti.ne[0]) + " elements is not a multiple of the " +
                                         traits.name + " block size " + num(traits.block_size));
    const uint64_t offset_at = c.pos();
    const uint64_t rel = c.read<uint64_t>("offset of " + tn);
    if (rel % alignment_ != 0)
      fail(ErrorCode::GgufMalformed, tn + " data offset " + num(rel) + " (at offset " + num(offset_at) +
                                         ") is not a multiple of the alignment " + num(alignment_));
    // bytes = (ne0 / block) * type_size * ne1 * ne2 * ne3, checked.
    uint64_t bytes = static_cast<uint64_t>(ti.ne[0]) / traits.block_size;
    bool overflow = mul_overflows(bytes, traits.type_size, bytes);
    for (int d = 1; d < 4 && !overflow; ++d) overflow = mul_overflows(bytes, static_cast<uint64_t>(ti.ne[d]), bytes);
    if (overflow) fail(ErrorCode::GgufMalformed, tn + " data size overflows");
    ti.offset = rel;  // made absolute below, once the data section is known
    ti.bytes = bytes;
    tensor_index_[ti.name] = tensors_.size();
    tensors_.push_back(std::move(ti));
  }

  // --- data section: starts at the next multiple of the alignment after the infos.
  const uint64_t infos_end = c.pos();
  uint64_t data_offset = 0;
  if (add_overflows(infos_end, alignment_ - 1, data_offset))
    fail(ErrorCode::GgufMalformed, "data section offset overflows");
  data_offset_ = data_offset - data_offset % alignment_;
  if (!tensors_.empty() && data_offset_ > size_)
    fail(ErrorCode::GgufMalformed, "data section would start at offset " + num(data_offset_) + ", past the end of the file (" +
                                       num(size_) + " bytes)");
  for (GgufTensor& ti : tensors_) {
    uint64_t begin = 0, end = 0;
    if (add_overflows(data_offset_, ti.offset, begin) || add_overflows(begin, ti.bytes, end) || end > size_)
      fail(ErrorCode::GgufMalformed, "tensor '" + ti.name + "' data [" + num(ti.offset) + " + " + num(ti.bytes) +
                                         " bytes] after the data section at " + num(data_offset_) +
                                         " lies outside the file (" + num(size_) + " bytes)");
    ti.offset = begin;
    ti.data = base_ + begin;
  }
  // Tensor data must not overlap.
  std::vector<const GgufTensor*> by_offset;
  for (const auto& ti : tensors_) by_offset.push_back(&ti);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensor* prev = by_offset[k - 1];
    if (prev->bytes > 0 && by_offset[k]->offset < prev->offset + prev->bytes)
      fail(ErrorCode::GgufMalformed, "tensor '" + by_offset[k]->name + "' at offset " + num(by_offset[k]->offset) +
                                         " overlaps tensor '" + prev->name + "'");
  }
}

// --- metadata getters

const GgufFile::Value& GgufFile::value(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) fail(ErrorCode::ModelMismatch, "'" + path_ + "': metadata key '" + key + "' is missing");
  return *it->second;
}

std::vector<std::string> GgufFile::keys() const { return key_order_; }

GgufValueType GgufFile::key_type(const std::string& key) const { return value(key).type; }

static void wrong_type(const std::string& path, const std::string& key, GgufValueType got, const char* want) {
  fail(ErrorCode::ModelMismatch, "'" + path + "': metadata key '" + key + "' is " + gguf_value_type_name(got) +
                                     ", expected " + want);
}

GgufValueType GgufFile::array_type(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::Array) wrong_type(path_, key, v.type, "an array");
  return v.elem;
}

uint64_t GgufFile::array_size(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::Array) wrong_type(path_, key, v.type, "an array");
  return v.count;
}

std::string GgufFile::get_string(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::String) wrong_type(path_, key, v.type, "string");
  return v.s;
}

// An integer value as int64 range-checked against [lo, hi].
static int64_t int_in_range(const std::string& path, const std::string& key, const GgufFile::Value& v,
                            int64_t lo, uint64_t hi, const char* want) {
  if (!is_integer(v.type)) wrong_type(path, key, v.type, want);
  const bool negative = v.is_signed && v.i < 0;
  if ((negative && v.i < lo) || (!negative && v.u > hi))
    fail(ErrorCode::ModelMismatch, "'" + path + "': metadata key '" + key + "' value " +
                                       (v.is_signed ? std::to_string(v.i) : std::to_string(v.u)) +
                                       " does not fit " + want);
  return v.i;
}

uint32_t GgufFile::get_u32(const std::string& key) const {
  return static_cast<uint32_t>(int_in_range(path_, key, value(key), 0, UINT32_MAX, "u32"));
}
int32_t GgufFile::get_i32(const std::string& key) const {
  return static_cast<int32_t>(int_in_range(path_, key, value(key), INT32_MIN, INT32_MAX, "i32"));
}
uint64_t GgufFile::get_u64(const std::string& key) const {
  const Value& v = value(key);
  int_in_range(path_, key, v, 0, UINT64_MAX, "u64");
  return v.u;
}
int64_t GgufFile::get_i64(const std::string& key) const {
  return int_in_range(path_, key, value(key), INT64_MIN, INT64_MAX, "i64");
}

float GgufFile::get_f32(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::F32 && v.type != GgufValueType::F64) wrong_type(path_, key, v.type, "f32");
  return static_cast<float>(v.f);
}

bool GgufFile::get_bool(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::Bool) wrong_type(path_, key, v.type, "bool");
  return v.b;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return has_key(key) ? get_string(key) : fallback;
}
uint32_t GgufFile::get_u32(const std::string& key, uint32_t fallback) const {
  return has_key(key) ? get_u32(key) : fallback;
}
float GgufFile::get_f32(const std::string& key, float fallback) const {
  return has_key(key) ? get_f32(key) : fallback;
}
bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  return has_key(key) ? get_bool(key) : fallback;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::Array || v.elem != GgufValueType::String)
    wrong_type(path_, key, v.type == GgufValueType::Array ? v.elem : v.type, "an array of strings");
  Cursor c(base_, size_, v.elems_offset);  // already validated by parse()
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(v.count));
  for (uint64_t e = 0; e < v.count; ++e) out.push_back(c.read_string("element of '" + key + "'"));
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::Array || !is_integer(v.elem))
    wrong_type(path_, key, v.type == GgufValueType::Array ? v.elem : v.type, "an array of integers");
  Cursor c(base_, size_, v.elems_offset);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(v.count));
  for (uint64_t e = 0; e < v.count; ++e) {
    Value tmp;
    read_scalar(c, v.elem, tmp, "element of '" + key + "'");
    if (v.elem == GgufValueType::U64 && tmp.u > static_cast<uint64_t>(INT64_MAX))
      fail(ErrorCode::ModelMismatch, "'" + path_ + "': element " + num(e) + " of '" + key + "' does not fit i64");
    out.push_back(tmp.i);
  }
  return out;
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  const Value& v = value(key);
  if (v.type != GgufValueType::Array || (v.elem != GgufValueType::F32 && v.elem != GgufValueType::F64))
    wrong_type(path_, key, v.type == GgufValueType::Array ? v.elem : v.type, "an array of floats");
  Cursor c(base_, size_, v.elems_offset);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(v.count));
  for (uint64_t e = 0; e < v.count; ++e) {
    Value tmp;
    read_scalar(c, v.elem, tmp, "element of '" + key + "'");
    out.push_back(static_cast<float>(tmp.f));
  }
  return out;
}

// --- tensors

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(const std::string& name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) fail(ErrorCode::ModelMismatch, "'" + path_ + "': tensor '" + name + "' is missing");
  return *t;
}

}  // namespace kotaro
