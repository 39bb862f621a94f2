// Quantisation for the converter (electron/convert/): rows of float32 in, ggml blocks out,
// with the same reference quantisers the engine's tests hold to llama.cpp's bytes.
//   typeInfo(name | id)                       -> { name, id, blockSize, typeSize, supported }
//   quantize(type, src: Float32Array, rowLength)       -> Buffer  (many rows, synchronous)
//   quantizeAsync(type, src: Float32Array, rowLength)  -> Promise<Buffer> (libuv thread pool)
//   dequantize(type, src: Uint8Array, rowLength)       -> Float32Array
// `type` is a ggml type name ("f16", "q8_0", "q4_K", case-insensitive) or its numeric id.
#include <napi.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "bindings.h"
#include "kotaro/error.h"
#include "kotaro/quant.h"

namespace kotaro_addon {
namespace {

using kotaro::GgmlType;

constexpr uint32_t kMaxTypeId = 64;  // ids above this are not ggml types

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return (char)std::tolower(c); });
  return s;
}

// Resolves a JS type argument to a known ggml type id, or throws INVALID_ARGUMENT.
uint32_t type_id_of(const Napi::Env& env, const Napi::Value& v) {
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= kMaxTypeId && d == (uint32_t)d && kotaro::type_traits((uint32_t)d).block_size)
      return (uint32_t)d;
    throw to_js_error(env, "INVALID_ARGUMENT", "unknown ggml type id " + v.ToString().Utf8Value());
  }
  if (v.IsString()) {
    const std::string want = lower(v.As<Napi::String>().Utf8Value());
    for (uint32_t id = 0; id <= kMaxTypeId; ++id) {
      const kotaro::TypeTraits t = kotaro::type_traits(id);
      if (t.block_size && lower(t.name) == want) return id;
    }
    throw to_js_error(env, "INVALID_ARGUMENT", "unknown ggml type name '" + want + "'");
  }
  throw to_js_error(env, "INVALID_ARGUMENT", "the type must be a ggml type name or id");
}

// Validated shape of one call: rows of rowLength elements of the given type.
struct Job {
  GgmlType type;
  int64_t row_length = 0;
  int64_t rows = 0;
  size_t row_bytes = 0;
};

Job make_job(const Napi::Env& env, const Napi::Value& type_arg, size_t n_elements,
             const Napi::Value& row_arg) {
  Job job;
  job.type = (GgmlType)type_id_of(env, type_arg);
  if (!row_arg.IsNumber())
    throw to_js_error(env, "INVALID_ARGUMENT", "rowLength must be a positive integer");
  const double rl = row_arg.As<Napi::Number>().DoubleValue();
  if (!(rl >= 1) || rl != (double)(int64_t)rl)
    throw to_js_error(env, "INVALID_ARGUMENT", "rowLength must be a positive integer");
  job.row_length = (int64_t)rl;
  if (n_elements % (size_t)job.row_length != 0)
    throw to_js_error(env, "INVALID_ARGUMENT",
                      "the data holds " + std::to_string(n_elements) +
                          " elements, not a whole number of rows of " +
                          std::to_string(job.row_length));
  job.rows = (int64_t)(n_elements / (size_t)job.row_length);
  try {
    job.row_bytes = kotaro::row_size(job.type, job.row_length);  // checks the block size
  } catch (const kotaro::Error& e) {
    throw to_js_error(env, e.code_name(), e.what());
  }
  return job;
}

void quantize_rows(const Job& job, const float* src, uint8_t* dst) {
  for (int64_t r = 0; r < job.rows; ++r)
    kotaro::quantize_row(job.type, src + r * job.row_length, dst + r * job.row_bytes, job.row_length);
}

Napi::Float32Array float_array_arg(const Napi::Env& env, const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw to_js_error(env, "INVALID_ARGUMENT", "src must be a Float32Array");
  return v.As<Napi::Float32Array>();
}

Napi::Value type_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t id = type_id_of(env, info[0]);
  const kotaro::TypeTraits t = kotaro::type_traits(id);
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", t.name);
  out.Set("id", id);
  out.Set("blockSize", t.block_size);
  out.Set("typeSize", t.type_size);
  out.Set("supported", t.supported);
  return out;
}

Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array src = float_array_arg(env, info[1]);
  const Job job = make_job(env, info[0], src.ElementLength(), info[2]);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, (size_t)job.rows * job.row_bytes);
  try {
    quantize_rows(job, src.Data(), out.Data());
  } catch (const kotaro::Error& e) {
    throw to_js_error(env, e.code_name(), e.what());
  } catch (const std::exception& e) {
    throw to_js_error(env, "INTERNAL", e.what());
  }
  return out;
}

// Runs quantize_rows on the libuv pool; the source array and the output buffer are held by
// persistent references until the promise settles, so the GC cannot move or free them.
class QuantizeWorker : public Napi::AsyncWorker {
 public:
  QuantizeWorker(Napi::Env env, const Job& job, Napi::Float32Array src, Napi::Buffer<uint8_t> out)
      : Napi::AsyncWorker(env, "kotaro.quantize"), deferred_(Napi::Promise::Deferred::New(env)),
        job_(job), src_data_(src.Data()), out_data_(out.Data()) {
    src_ref_ = Napi::Persistent(static_cast<Napi::Object>(src));
    out_ref_ = Napi::Persistent(static_cast<Napi::Object>(out));
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      quantize_rows(job_, src_data_, out_data_);
    } catch (const kotaro::Error& e) {
      code_ = e.code_name();
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "INTERNAL";
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(out_ref_.Value()); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(to_js_error(Env(), code_.c_str(), e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Job job_;
  const float* src_data_;
  uint8_t* out_data_;
  Napi::ObjectReference src_ref_, out_ref_;
  std::string code_ = "INTERNAL";
};

// Bad arguments reject the promise (with the same coded error) rather than throw, so callers
// handle every failure in one place.
Napi::Value quantize_async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array src;
  Job job;
  try {
    src = float_array_arg(env, info[1]);
    job = make_job(env, info[0], src.ElementLength(), info[2]);
  } catch (const Napi::Error& e) {
    Napi::Promise::Deferred rejected = Napi::Promise::Deferred::New(env);
    rejected.Reject(e.Value());
    return rejected.Promise();
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, (size_t)job.rows * job.row_bytes);
  auto* worker = new QuantizeWorker(env, job, src, out);  // deletes itself when done
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw to_js_error(env, "INVALID_ARGUMENT", "src must be a Uint8Array or Buffer");
  Napi::Uint8Array src = info[1].As<Napi::Uint8Array>();
  const uint32_t id = type_id_of(env, info[0]);
  const kotaro::TypeTraits t = kotaro::type_traits(id);
  if (!info[2].IsNumber())
    throw to_js_error(env, "INVALID_ARGUMENT", "rowLength must be a positive integer");
  const double rl = info[2].As<Napi::Number>().DoubleValue();
  if (!(rl >= 1) || rl != (double)(int64_t)rl || (int64_t)rl % t.block_size != 0)
    throw to_js_error(env, "INVALID_ARGUMENT",
                      std::string("rowLength must be a positive multiple of the ") + t.name +
                          " block size " + std::to_string(t.block_size));
  const int64_t row_length = (int64_t)rl;
  const size_t row_bytes = kotaro::row_size((GgmlType)id, row_length);
  if (src.ByteLength() % row_bytes != 0)
    throw to_js_error(env, "INVALID_ARGUMENT",
                      "the data holds " + std::to_string(src.ByteLength()) +
                          " bytes, not a whole number of " + t.name + " rows of " +
                          std::to_string(row_bytes) + " bytes");
  const int64_t rows = (int64_t)(src.ByteLength() / row_bytes);
  Napi::Float32Array out = Napi::Float32Array::New(env, (size_t)(rows * row_length));
  try {
    for (int64_t r = 0; r < rows; ++r)
      kotaro::dequantize_row((GgmlType)id, src.Data() + r * row_bytes, out.Data() + r * row_length,
                             row_length);
  } catch (const kotaro::Error& e) {
    throw to_js_error(env, e.code_name(), e.what());
  }
  return out;
}

}  // namespace

void register_quant(Napi::Env env, Napi::Object exports) {
  exports.Set("typeInfo", Napi::Function::New(env, type_info, "typeInfo"));
  exports.Set("quantize", Napi::Function::New(env, quantize, "quantize"));
  exports.Set("quantizeAsync", Napi::Function::New(env, quantize_async, "quantizeAsync"));
  exports.Set("dequantize", Napi::Function::New(env, dequantize, "dequantize"));
}

}  // namespace kotaro_addon
