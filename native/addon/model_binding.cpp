// The model binding: load a model pair, encode images, prefill and generate with streaming
// tokens, cancel, rewind, unload. Typed in gpu-worker/engine-binding.ts (which validates every
// result); the JS surface:
//
//   loadModel(options, onProgress?) -> Promise<Model>
//     options: { modelPath, mmprojPath?, backend?: 'auto'|'cpu'|'cuda', threads?, contextLength?,
//                memoryBudgetBytes?, minPixels?, maxPixels? }
//   Model:   info() -> object (sync)          memory() -> object (sync, reads counters only)
//            preprocessImage(rgb, w, h) -> Promise<{ gridT, gridH, gridW, pixels: Float32Array, ms }>
//            encodeImage(rgb, w, h)     -> Promise<Image>   (backend preprocessing + vision tower, one call)
//            encodePixels(pixels: Float32Array, { gridT, gridH, gridW }) -> Promise<Image>
//            createSession() -> Promise<Session>     cancel()     unload() -> Promise<void>
//   Image:   { gridT, gridH, gridW, nTokens, nEmbd, preprocessMs, visionMs }, embeddings() -> Float32Array, dispose()
//   Session: prefill(tokens: Int32Array, images: Image[], { allLogits?, lastLogits? })
//              -> Promise<{ nPast, ms, logits?: Float32Array }>
//            generate(options, onToken?) -> Promise<{ tokens: Int32Array, stopReason, firstTokenMs, ms }>
//            rewind(n) -> Promise<void>   positionIds() -> Promise<Int32Array [3 * nPast]>
//            lastLogits() -> Promise<Float32Array>   nPast() -> number   cancel()   dispose() -> Promise<void>
//
// Every engine call runs on the model's engine thread (engine_thread.h), never on the JS
// thread; results and streamed tokens come back through a ThreadSafeFunction. Errors reject
// with a JS Error whose `.code` is the engine's code name (GGUF_MALFORMED, CANCELLED, ...).
// Large arrays cross as typed arrays (copied: Electron forbids external array buffers).
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "bindings.h"
#include "engine_thread.h"
#include "kotaro/engine.h"

namespace kotaro_addon {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- errors

struct ErrorInfo {
  std::string code = "INTERNAL";
  std::string message;
};

// Turns the exception in flight into a code + message (called inside catch (...)).
ErrorInfo describe_current_exception() {
  try {
    throw;
  } catch (const kotaro::Error& e) {
    return {e.code_name(), e.what()};
  } catch (const std::bad_alloc&) {
    return {"OUT_OF_MEMORY", "out of host memory"};
  } catch (const std::exception& e) {
    return {"INTERNAL", e.what()};
  } catch (...) {
    return {"INTERNAL", "unknown C++ exception"};
  }
}

[[noreturn]] void throw_invalid(Napi::Env env, const std::string& message) {
  throw to_js_error(env, "INVALID_ARGUMENT", message);
}

// ---------------------------------------------------------------- argument parsing

double number_field(Napi::Env env, Napi::Object o, const char* key, double fallback, double lo, double hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw_invalid(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw_invalid(env, std::string(key) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                           std::to_string(d));
  return d;
}

int64_t int_field(Napi::Env env, Napi::Object o, const char* key, int64_t fallback, double lo, double hi) {
  const double d = number_field(env, o, key, static_cast<double>(fallback), lo, hi);
  if (d != std::floor(d)) throw_invalid(env, std::string(key) + " must be an integer");
  return static_cast<int64_t>(d);
}

std::string string_field(Napi::Env env, Napi::Object o, const char* key, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw_invalid(env, std::string(key) + " is required");
    return "";
  }
  if (!v.IsString()) throw_invalid(env, std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t i, const char* what, bool optional) {
  if (info.Length() <= i || info[i].IsUndefined()) {
    if (optional) return Napi::Object::New(info.Env());
    throw_invalid(info.Env(), std::string(what) + " is required");
  }
  if (!info[i].IsObject()) throw_invalid(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

Napi::Function function_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return Napi::Function();
  if (!info[i].IsFunction()) throw_invalid(info.Env(), std::string(what) + " must be a function");
  return info[i].As<Napi::Function>();
}

// An RGB8 image argument: (rgb: Uint8Array|Buffer, width, height), copied (JS may reuse it).
struct RgbImage {
  std::vector<uint8_t> bytes;
  int width = 0, height = 0;
};
RgbImage rgb_args(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_invalid(env, "expected (rgb: Uint8Array, width, height)");
  if (!info[1].IsNumber() || !info[2].IsNumber()) throw_invalid(env, "width and height must be numbers");
  const double w = info[1].As<Napi::Number>().DoubleValue(), h = info[2].As<Napi::Number>().DoubleValue();
  if (!(w >= 1 && h >= 1 && w <= 65535 && h <= 65535) || w != std::floor(w) || h != std::floor(h))
    throw_invalid(env, "width and height must be integers in [1, 65535]");
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  const size_t need = static_cast<size_t>(w) * static_cast<size_t>(h) * 3;
  if (a.ElementLength() != need)
    throw_invalid(env, "rgb holds " + std::to_string(a.ElementLength()) + " bytes, " + std::to_string(static_cast<int>(w)) +
                           "x" + std::to_string(static_cast<int>(h)) + " RGB needs " + std::to_string(need));
  RgbImage img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.bytes.assign(a.Data(), a.Data() + need);
  return img;
}

// ---------------------------------------------------------------- typed arrays out

Napi::Float32Array to_float32_array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}
Napi::Int32Array to_int32_array(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
  return a;
}

// ---------------------------------------------------------------- cancellation

// The flags of the operations of one model or session that are queued or running;
// cancel() sets them all (an operation not yet started then fails at once).
class CancelGroup {
 public:
  std::shared_ptr<std::atomic<bool>> enter() {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard<std::mutex> lock(mutex_);
    active_.push_back(flag);
    return flag;
  }
  void leave(const std::shared_ptr<std::atomic<bool>>& flag) {
    std::lock_guard<std::mutex> lock(mutex_);
    active_.erase(std::remove(active_.begin(), active_.end(), flag), active_.end());
  }
  void cancel_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& f : active_) f->store(true);
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<std::atomic<bool>>> active_;
};

// ---------------------------------------------------------------- state

struct SessionState;

struct ModelState {
  std::unique_ptr<EngineThread> thread = std::make_unique<EngineThread>();
  std::shared_ptr<kotaro::Model> model;                // engine thread only
  std::vector<std::weak_ptr<SessionState>> sessions;   // engine thread only
  kotaro::ModelInfo info;                              // immutable once loaded
  std::atomic<bool> unloaded{false};
  CancelGroup cancels;

  ~ModelState() {
    // The model is destroyed on its own thread (a CUDA context belongs to it), then the
    // thread ends (~EngineThread drains the queue first).
    if (model) {
      std::shared_ptr<kotaro::Model> m = std::move(model);
      thread->post([m]() mutable { m.reset(); });
    }
    thread.reset();
  }
};

struct SessionState {
  std::shared_ptr<ModelState> owner;
  std::unique_ptr<kotaro::Session> session;  // engine thread only
  std::atomic<int64_t> n_past{0};
  std::atomic<bool> disposed{false};
  CancelGroup cancels;

  ~SessionState() {
    if (session && owner) {
      std::shared_ptr<kotaro::Session> s(std::move(session));
      owner->thread->post([s]() mutable { s.reset(); });
    }
  }
};

struct ImageState {
  kotaro::ImageEmbeds embeds;
  double preprocess_ms = 0, vision_ms = 0;
};

// Holds the image a JS Image object stands for; dispose() empties it.
struct ImageHolder {
  std::shared_ptr<ImageState> image;
};
const napi_type_tag kImageTag = {0x6b6f7461726f2d69ULL, 0x6d6167652d763131ULL};  // "kotaro-image-v11"

// ---------------------------------------------------------------- async calls

// What a JS callback of a call (onToken) threw: the call then stops and its promise rejects
// with that exception. Touched on the JS thread only.
struct CallbackFailure {
  napi_ref error = nullptr;
};

// Runs `work` (returning R) on the engine thread and settles a promise with `to_js(env, R&)`.
// `callback` (may be empty) is the JS function that closures posted by `work` may call.
template <typename R, typename Work, typename ToJs>
Napi::Promise run_async(Napi::Env env, EngineThread& thread, Napi::Function callback, const char* name, Work work, ToJs to_js,
                        std::shared_ptr<CallbackFailure> failure = nullptr) {
  auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  auto channel = std::make_shared<JsChannel>(env, callback, name);
  thread.post([deferred, channel, work, to_js, failure]() mutable {
    auto result = std::make_shared<R>();
    auto error = std::make_shared<ErrorInfo>();
    bool ok = false;
    try {
      *result = work(*channel);
      ok = true;
    } catch (...) {
      *error = describe_current_exception();
    }
    channel->finish([deferred, result, error, ok, to_js, failure](Napi::Env env, Napi::Function) {
      Napi::HandleScope scope(env);
      if (failure && failure->error) {
        napi_value thrown = nullptr;
        napi_get_reference_value(env, failure->error, &thrown);
        napi_delete_reference(env, failure->error);
        failure->error = nullptr;
        deferred->Reject(thrown);
        return;
      }
      if (!ok) {
        deferred->Reject(to_js_error(env, error->code.c_str(), error->message).Value());
        return;
      }
      try {
        deferred->Resolve(to_js(env, *result));
      } catch (const Napi::Error& e) {
        deferred->Reject(e.Value());
      }
    });
  });
  return deferred->Promise();
}

struct Nothing {};

void check_loaded(const ModelState& st) {
  if (st.unloaded.load() || !st.model) kotaro::fail(kotaro::ErrorCode::InvalidArgument, "the model was unloaded");
}

// Defines obj[name] as a function bound to `state` (the function keeps the state alive).
template <typename State>
void define_method(Napi::Env env, Napi::Object obj, const char* name, std::shared_ptr<State> state,
                   Napi::Value (*fn)(const Napi::CallbackInfo&, const std::shared_ptr<State>&)) {
  struct Holder {
    std::shared_ptr<State> state;
    Napi::Value (*fn)(const Napi::CallbackInfo&, const std::shared_ptr<State>&);
  };
  auto* holder = new Holder{std::move(state), fn};
  Napi::Function f = Napi::Function::New(
      env,
      [](const Napi::CallbackInfo& info) -> Napi::Value {
        auto* h = static_cast<Holder*>(info.Data());
        return h->fn(info, h->state);
      },
      name, holder);
  f.AddFinalizer([](Napi::Env, Holder* h) { delete h; }, holder);
  obj.DefineProperty(Napi::PropertyDescriptor::Value(name, f, napi_enumerable));
}

// ---------------------------------------------------------------- images

Napi::Value image_embeddings(const Napi::CallbackInfo& info, const std::shared_ptr<ImageHolder>& h) {
  if (!h->image) throw_invalid(info.Env(), "the image was disposed");
  return to_float32_array(info.Env(), h->image->embeds.data);
}
Napi::Value image_dispose(const Napi::CallbackInfo& info, const std::shared_ptr<ImageHolder>& h) {
  h->image.reset();
  return info.Env().Undefined();
}

Napi::Object make_image_object(Napi::Env env, std::shared_ptr<ImageState> image) {
  Napi::Object o = Napi::Object::New(env);
  const kotaro::ImageEmbeds& e = image->embeds;
  o.Set("gridT", e.grid_t);
  o.Set("gridH", e.grid_h);
  o.Set("gridW", e.grid_w);
  o.Set("nTokens", static_cast<double>(e.n_tokens));
  o.Set("nEmbd", static_cast<double>(e.n_embd));
  o.Set("preprocessMs", image->preprocess_ms);
  o.Set("visionMs", image->vision_ms);
  auto holder = std::make_shared<ImageHolder>(ImageHolder{std::move(image)});
  define_method<ImageHolder>(env, o, "embeddings", holder, image_embeddings);
  define_method<ImageHolder>(env, o, "dispose", holder, image_dispose);
  auto* boxed = new std::shared_ptr<ImageHolder>(holder);
  Napi::External<std::shared_ptr<ImageHolder>> ext = Napi::External<std::shared_ptr<ImageHolder>>::New(
      env, boxed, [](Napi::Env, std::shared_ptr<ImageHolder>* p) { delete p; });
  ext.TypeTag(&kImageTag);
  o.DefineProperty(Napi::PropertyDescriptor::Value("_native", ext, napi_default));
  return o;
}

std::shared_ptr<ImageState> image_of(Napi::Env env, Napi::Value v, size_t index) {
  const std::string what = "images[" + std::to_string(index) + "]";
  if (!v.IsObject()) throw_invalid(env, what + " is not an image from encodeImage/encodePixels");
  Napi::Value n = v.As<Napi::Object>().Get("_native");
  if (!n.IsExternal() || !n.As<Napi::External<std::shared_ptr<ImageHolder>>>().CheckTypeTag(&kImageTag))
    throw_invalid(env, what + " is not an image from encodeImage/encodePixels");
  std::shared_ptr<ImageHolder> h = *n.As<Napi::External<std::shared_ptr<ImageHolder>>>().Data();
  if (!h->image) throw_invalid(env, what + " was disposed");
  return h->image;
}

// ---------------------------------------------------------------- sessions

// Runs a session operation with its cancel flag; the model must still be loaded.
template <typename R, typename Op, typename ToJs>
Napi::Promise session_op(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st, const char* name,
                         Napi::Function callback, Op op, ToJs to_js, std::shared_ptr<CallbackFailure> failure = nullptr) {
  if (st->disposed.load()) throw to_js_error(info.Env(), "INVALID_ARGUMENT", "the session was disposed");
  if (st->owner->unloaded.load()) throw to_js_error(info.Env(), "INVALID_ARGUMENT", "the model was unloaded");
  auto flag = st->cancels.enter();
  return run_async<R>(info.Env(), *st->owner->thread, callback, name,
                      [st, flag, op](JsChannel& channel) -> R {
                        struct Leave {
                          SessionState& s;
                          std::shared_ptr<std::atomic<bool>> f;
                          ~Leave() { s.cancels.leave(f); }
                        } leave{*st, flag};
                        check_loaded(*st->owner);
                        if (!st->session) kotaro::fail(kotaro::ErrorCode::InvalidArgument, "the session was disposed");
                        if (flag->load()) kotaro::fail(kotaro::ErrorCode::Cancelled, "cancelled");
                        R r = op(*st, *flag, channel);
                        st->n_past.store(st->session->n_past());
                        return r;
                      },
                      to_js, failure);
}

struct PrefillResult {
  int64_t n_past = 0;
  double ms = 0;
  bool with_logits = false;
  std::vector<float> logits;
};

Napi::Value session_prefill(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_invalid(env, "prefill: tokens must be an Int32Array");
  Napi::Int32Array t = info[0].As<Napi::Int32Array>();
  std::vector<int32_t> tokens(t.Data(), t.Data() + t.ElementLength());
  std::vector<std::shared_ptr<ImageState>> images;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsArray()) throw_invalid(env, "prefill: images must be an array");
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) images.push_back(image_of(env, a.Get(i), i));
  }
  Napi::Object opts = object_arg(info, 2, "prefill options", true);
  const bool all_logits = opts.Get("allLogits").ToBoolean().Value();
  const bool last_logits = opts.Get("lastLogits").ToBoolean().Value();
  return session_op<PrefillResult>(
      info, st, "kotaro.prefill", Napi::Function(),
      [tokens, images, all_logits, last_logits](SessionState& s, std::atomic<bool>& cancel, JsChannel&) {
        const auto t0 = Clock::now();
        std::vector<const kotaro::ImageEmbeds*> ptrs;
        for (const auto& im : images) ptrs.push_back(&im->embeds);
        PrefillResult r;
        s.session->prefill(tokens, ptrs, all_logits ? &r.logits : nullptr, &cancel);
        if (!all_logits && last_logits) r.logits = s.session->last_logits();
        r.with_logits = all_logits || last_logits;
        r.n_past = s.session->n_past();
        r.ms = ms_since(t0);
        return r;
      },
      [](Napi::Env env, PrefillResult& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("nPast", static_cast<double>(r.n_past));
        o.Set("ms", r.ms);
        if (r.with_logits) o.Set("logits", to_float32_array(env, r.logits));
        return o;
      });
}

struct GenerateResult {
  std::vector<int32_t> tokens;
  std::string stop_reason;
  double first_token_ms = -1, ms = 0;
};

Napi::Value session_generate(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  Napi::Env env = info.Env();
  Napi::Object o = object_arg(info, 0, "generate options", true);
  Napi::Function on_token = function_arg(info, 1, "onToken");
  kotaro::GenerateOptions g;
  g.sampling.temperature = static_cast<float>(number_field(env, o, "temperature", 0, 0, 100));
  g.sampling.top_k = static_cast<int>(int_field(env, o, "topK", 0, 0, 1 << 24));
  g.sampling.top_p = static_cast<float>(number_field(env, o, "topP", 1, 0, 1));
  g.sampling.min_p = static_cast<float>(number_field(env, o, "minP", 0, 0, 1));
  g.sampling.repetition_penalty = static_cast<float>(number_field(env, o, "repetitionPenalty", 1, 0.01, 100));
  g.sampling.seed = static_cast<uint64_t>(int_field(env, o, "seed", 0, 0, 9007199254740991.0));
  g.max_new_tokens = static_cast<int>(int_field(env, o, "maxNewTokens", 256, 0, 1 << 20));
  Napi::Value stops = o.Get("stopTokens");
  if (!stops.IsUndefined() && !stops.IsNull()) {
    if (stops.IsTypedArray() && stops.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
      Napi::Int32Array a = stops.As<Napi::Int32Array>();
      g.stop_tokens.assign(a.Data(), a.Data() + a.ElementLength());
    } else if (stops.IsArray()) {
      Napi::Array a = stops.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value v = a.Get(i);
        if (!v.IsNumber()) throw_invalid(env, "stopTokens must hold token ids");
        g.stop_tokens.push_back(v.As<Napi::Number>().Int32Value());
      }
    } else {
      throw_invalid(env, "stopTokens must be an array or an Int32Array");
    }
  }
  auto failure = std::make_shared<CallbackFailure>();
  auto stop_requested = std::make_shared<std::atomic<bool>>(false);
  const bool has_callback = !on_token.IsEmpty();
  auto promise = session_op<GenerateResult>(
      info, st, "kotaro.generate", on_token,
      [g, failure, stop_requested, has_callback](SessionState& s, std::atomic<bool>& cancel, JsChannel& channel) {
        const auto t0 = Clock::now();
        GenerateResult r;
        auto on_tok = [&](int32_t tok) -> bool {
          if (r.first_token_ms < 0) r.first_token_ms = ms_since(t0);
          if (has_callback) {
            channel.post([tok, failure, stop_requested](Napi::Env env, Napi::Function fn) {
              if (failure->error) return;
              Napi::HandleScope scope(env);
              try {
                Napi::Value ret = fn.Call({Napi::Number::New(env, tok)});
                // Returning false from onToken stops the generation (tokens already under
                // way are still reported: the callback runs behind the engine).
                if (ret.IsBoolean() && !ret.As<Napi::Boolean>().Value()) stop_requested->store(true);
              } catch (const Napi::Error& e) {
                napi_create_reference(env, e.Value(), 1, &failure->error);
                stop_requested->store(true);
              }
            });
          }
          return !stop_requested->load();
        };
        r.tokens = s.session->generate(g, on_tok, &cancel);
        r.ms = ms_since(t0);
        const bool hit_stop = !r.tokens.empty() &&
                              std::find(g.stop_tokens.begin(), g.stop_tokens.end(), r.tokens.back()) != g.stop_tokens.end();
        r.stop_reason = hit_stop ? "stop"
                        : stop_requested->load() ? "callback"
                        : static_cast<int>(r.tokens.size()) >= g.max_new_tokens ? "length"
                                                                                 : "context";
        return r;
      },
      [](Napi::Env env, GenerateResult& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("tokens", to_int32_array(env, r.tokens));
        o.Set("stopReason", r.stop_reason);
        o.Set("firstTokenMs", r.first_token_ms < 0 ? env.Null() : Napi::Number::New(env, r.first_token_ms));
        o.Set("ms", r.ms);
        return o;
      },
      failure);
  return promise;
}

Napi::Value session_rewind(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw_invalid(env, "rewind(n): n must be a number");
  const double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0) throw_invalid(env, "rewind(n): n must be an integer >= 0");
  const int64_t n = static_cast<int64_t>(d);
  return session_op<Nothing>(
      info, st, "kotaro.rewind", Napi::Function(),
      [n](SessionState& s, std::atomic<bool>&, JsChannel&) {
        s.session->rewind(n);
        return Nothing{};
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value session_position_ids(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  return session_op<std::vector<int32_t>>(
      info, st, "kotaro.positionIds", Napi::Function(),
      [](SessionState& s, std::atomic<bool>&, JsChannel&) { return s.session->position_ids(); },
      [](Napi::Env env, std::vector<int32_t>& v) -> Napi::Value { return to_int32_array(env, v); });
}

Napi::Value session_last_logits(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  return session_op<std::vector<float>>(
      info, st, "kotaro.lastLogits", Napi::Function(),
      [](SessionState& s, std::atomic<bool>&, JsChannel&) { return s.session->last_logits(); },
      [](Napi::Env env, std::vector<float>& v) -> Napi::Value { return to_float32_array(env, v); });
}

Napi::Value session_n_past(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  return Napi::Number::New(info.Env(), static_cast<double>(st->n_past.load()));
}

Napi::Value session_cancel(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  st->cancels.cancel_all();
  return info.Env().Undefined();
}

Napi::Value session_dispose(const Napi::CallbackInfo& info, const std::shared_ptr<SessionState>& st) {
  Napi::Env env = info.Env();
  st->cancels.cancel_all();
  if (st->disposed.exchange(true)) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  return run_async<Nothing>(
      env, *st->owner->thread, Napi::Function(), "kotaro.disposeSession",
      [st](JsChannel&) {
        st->session.reset();
        st->n_past.store(0);
        return Nothing{};
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

Napi::Object make_session_object(Napi::Env env, std::shared_ptr<SessionState> st) {
  Napi::Object o = Napi::Object::New(env);
  define_method<SessionState>(env, o, "prefill", st, session_prefill);
  define_method<SessionState>(env, o, "generate", st, session_generate);
  define_method<SessionState>(env, o, "rewind", st, session_rewind);
  define_method<SessionState>(env, o, "positionIds", st, session_position_ids);
  define_method<SessionState>(env, o, "lastLogits", st, session_last_logits);
  define_method<SessionState>(env, o, "nPast", st, session_n_past);
  define_method<SessionState>(env, o, "cancel", st, session_cancel);
  define_method<SessionState>(env, o, "dispose", st, session_dispose);
  return o;
}

// ---------------------------------------------------------------- models

Napi::Object info_object(Napi::Env env, const kotaro::ModelInfo& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("architecture", m.architecture);
  o.Set("name", m.name);
  o.Set("backend", m.backend);
  o.Set("weightType", m.weight_type);
  o.Set("nVocab", static_cast<double>(m.n_vocab));
  o.Set("nEmbd", static_cast<double>(m.n_embd));
  o.Set("nLayer", static_cast<double>(m.n_layer));
  o.Set("nHead", static_cast<double>(m.n_head));
  o.Set("nHeadKv", static_cast<double>(m.n_head_kv));
  o.Set("nCtxTrain", static_cast<double>(m.n_ctx_train));
  o.Set("contextLength", static_cast<double>(m.context_length));
  o.Set("hasVision", m.has_vision);
  o.Set("imagePadToken", m.image_pad_token);
  o.Set("visionStartToken", m.vision_start_token);
  o.Set("visionEndToken", m.vision_end_token);
  o.Set("visionPatchSize", m.vision_patch_size);
  o.Set("visionMergeSize", m.vision_merge_size);
  return o;
}

Napi::Value model_info(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  return info_object(info.Env(), st->info);
}

// memory() reads the backend's byte counters (atomics) and the device's free/total, which is
// safe while the engine thread works: telemetry samples it at 10 Hz during a generation.
Napi::Value model_memory(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  Napi::Env env = info.Env();
  if (st->unloaded.load()) throw to_js_error(env, "INVALID_ARGUMENT", "the model was unloaded");
  std::shared_ptr<kotaro::Model> model = std::atomic_load(&st->model);
  if (!model) throw to_js_error(env, "INVALID_ARGUMENT", "the model was unloaded");
  kotaro::MemoryReport r;
  try {
    r = model->memory();
  } catch (...) {
    ErrorInfo e = describe_current_exception();
    throw to_js_error(env, e.code.c_str(), e.message);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("weights", static_cast<double>(r.weights));
  o.Set("kvCache", static_cast<double>(r.kv_cache));
  o.Set("activations", static_cast<double>(r.activations));
  o.Set("workspace", static_cast<double>(r.workspace));
  o.Set("deviceUsed", static_cast<double>(r.device_used));
  o.Set("deviceTotal", static_cast<double>(r.device_total));
  return o;
}

// Runs a model-level operation (preprocess/encode) with the model's cancel group.
template <typename R, typename Op, typename ToJs>
Napi::Promise model_op(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st, const char* name, Op op,
                       ToJs to_js) {
  if (st->unloaded.load()) throw to_js_error(info.Env(), "INVALID_ARGUMENT", "the model was unloaded");
  auto flag = st->cancels.enter();
  return run_async<R>(info.Env(), *st->thread, Napi::Function(), name,
                      [st, flag, op](JsChannel&) -> R {
                        struct Leave {
                          ModelState& s;
                          std::shared_ptr<std::atomic<bool>> f;
                          ~Leave() { s.cancels.leave(f); }
                        } leave{*st, flag};
                        check_loaded(*st);
                        if (flag->load()) kotaro::fail(kotaro::ErrorCode::Cancelled, "cancelled");
                        return op(*st->model, *flag);
                      },
                      to_js);
}

struct PixelsResult {
  kotaro::PixelValues pixels;
  double ms = 0;
};

Napi::Value model_preprocess(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  auto img = std::make_shared<RgbImage>(rgb_args(info));
  return model_op<PixelsResult>(
      info, st, "kotaro.preprocessImage",
      [img](kotaro::Model& m, std::atomic<bool>&) {
        const auto t0 = Clock::now();
        PixelsResult r;
        r.pixels = m.preprocess_image(img->bytes.data(), img->width, img->height);
        r.ms = ms_since(t0);
        return r;
      },
      [](Napi::Env env, PixelsResult& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("gridT", r.pixels.grid_t);
        o.Set("gridH", r.pixels.grid_h);
        o.Set("gridW", r.pixels.grid_w);
        o.Set("pixels", to_float32_array(env, r.pixels.data));
        o.Set("ms", r.ms);
        return o;
      });
}

Napi::Value model_encode_image(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  auto img = std::make_shared<RgbImage>(rgb_args(info));
  return model_op<std::shared_ptr<ImageState>>(
      info, st, "kotaro.encodeImage",
      [img](kotaro::Model& m, std::atomic<bool>& cancel) {
        // One engine call: the RGB8 is uploaded once and preprocessed by the backend (on the
        // GPU with CUDA), then encoded; the engine times the two stages.
        auto out = std::make_shared<ImageState>();
        kotaro::Model::EncodeTimings t;
        out->embeds = m.encode_image_rgb(img->bytes.data(), img->width, img->height, &cancel, &t);
        img->bytes = {};
        out->preprocess_ms = t.preprocess_ms;
        out->vision_ms = t.vision_ms;
        return out;
      },
      [](Napi::Env env, std::shared_ptr<ImageState>& r) -> Napi::Value { return make_image_object(env, r); });
}

Napi::Value model_encode_pixels(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(env, "encodePixels(pixels: Float32Array, { gridT, gridH, gridW })");
  Napi::Float32Array a = info[0].As<Napi::Float32Array>();
  Napi::Object grid = object_arg(info, 1, "grid", false);
  auto px = std::make_shared<kotaro::PixelValues>();
  px->grid_t = static_cast<int>(int_field(env, grid, "gridT", 1, 1, 1 << 16));
  px->grid_h = static_cast<int>(int_field(env, grid, "gridH", 0, 1, 1 << 16));
  px->grid_w = static_cast<int>(int_field(env, grid, "gridW", 0, 1, 1 << 16));
  const double patches = double(px->grid_t) * px->grid_h * px->grid_w;
  if (patches * 1 > static_cast<double>(a.ElementLength()) || a.ElementLength() % static_cast<size_t>(patches) != 0)
    throw_invalid(env, "encodePixels: " + std::to_string(a.ElementLength()) + " values do not hold " +
                           std::to_string(static_cast<int64_t>(patches)) + " whole patches");
  px->data.assign(a.Data(), a.Data() + a.ElementLength());
  return model_op<std::shared_ptr<ImageState>>(
      info, st, "kotaro.encodePixels",
      [px](kotaro::Model& m, std::atomic<bool>& cancel) {
        auto out = std::make_shared<ImageState>();
        const auto t0 = Clock::now();
        out->embeds = m.encode_image(*px, &cancel);
        out->vision_ms = ms_since(t0);
        return out;
      },
      [](Napi::Env env, std::shared_ptr<ImageState>& r) -> Napi::Value { return make_image_object(env, r); });
}

Napi::Value model_create_session(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  if (st->unloaded.load()) throw to_js_error(info.Env(), "INVALID_ARGUMENT", "the model was unloaded");
  std::shared_ptr<ModelState> owner = st;
  return run_async<std::shared_ptr<SessionState>>(
      info.Env(), *st->thread, Napi::Function(), "kotaro.createSession",
      [owner](JsChannel&) {
        check_loaded(*owner);
        auto s = std::make_shared<SessionState>();
        s->owner = owner;
        s->session = owner->model->new_session();
        owner->sessions.erase(std::remove_if(owner->sessions.begin(), owner->sessions.end(),
                                             [](const std::weak_ptr<SessionState>& w) { return w.expired(); }),
                              owner->sessions.end());
        owner->sessions.push_back(s);
        return s;
      },
      [](Napi::Env env, std::shared_ptr<SessionState>& s) -> Napi::Value { return make_session_object(env, s); });
}

Napi::Value model_cancel(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  st->cancels.cancel_all();
  return info.Env().Undefined();
}

// Cancels everything, frees every session's KV cache and the weights. The JS objects stay
// valid but every later call fails with "the model was unloaded".
Napi::Value model_unload(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& st) {
  Napi::Env env = info.Env();
  st->unloaded.store(true);
  st->cancels.cancel_all();
  std::shared_ptr<ModelState> owner = st;
  return run_async<Nothing>(
      env, *st->thread, Napi::Function(), "kotaro.unload",
      [owner](JsChannel&) {
        for (auto& w : owner->sessions)
          if (auto s = w.lock()) {
            s->cancels.cancel_all();
            s->session.reset();
            s->n_past.store(0);
          }
        owner->sessions.clear();
        std::shared_ptr<kotaro::Model> none;
        std::atomic_store(&owner->model, none);
        return Nothing{};
      },
      [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
}

Napi::Object make_model_object(Napi::Env env, std::shared_ptr<ModelState> st) {
  Napi::Object o = Napi::Object::New(env);
  define_method<ModelState>(env, o, "info", st, model_info);
  define_method<ModelState>(env, o, "memory", st, model_memory);
  define_method<ModelState>(env, o, "preprocessImage", st, model_preprocess);
  define_method<ModelState>(env, o, "encodeImage", st, model_encode_image);
  define_method<ModelState>(env, o, "encodePixels", st, model_encode_pixels);
  define_method<ModelState>(env, o, "createSession", st, model_create_session);
  define_method<ModelState>(env, o, "cancel", st, model_cancel);
  define_method<ModelState>(env, o, "unload", st, model_unload);
  return o;
}

kotaro::BackendKind backend_of(Napi::Env env, const std::string& s) {
  if (s.empty() || s == "auto") return kotaro::BackendKind::Auto;
  if (s == "cpu") return kotaro::BackendKind::Cpu;
  if (s == "cuda") return kotaro::BackendKind::Cuda;
  throw_invalid(env, "backend must be 'auto', 'cpu' or 'cuda', got '" + s + "'");
}

Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = object_arg(info, 0, "loadModel options", false);
  Napi::Function on_progress = function_arg(info, 1, "onProgress");
  kotaro::ModelOptions opts;
  opts.model_path = string_field(env, o, "modelPath", true);
  opts.mmproj_path = string_field(env, o, "mmprojPath", false);
  opts.backend = backend_of(env, string_field(env, o, "backend", false));
  opts.threads = static_cast<int>(int_field(env, o, "threads", 0, 0, 4096));
  opts.context_length = int_field(env, o, "contextLength", opts.context_length, 1, 1 << 24);
  opts.memory_budget_bytes = static_cast<uint64_t>(int_field(env, o, "memoryBudgetBytes", 0, 0, 9007199254740991.0));
  opts.min_pixels = int_field(env, o, "minPixels", opts.min_pixels, 1, 1e12);
  opts.max_pixels = int_field(env, o, "maxPixels", opts.max_pixels, 1, 1e12);

  auto st = std::make_shared<ModelState>();
  const bool has_progress = !on_progress.IsEmpty();
  // The load task holds the state; if loading fails the state (and its thread) go away with
  // the last closure, without ever reaching JavaScript.
  return run_async<std::shared_ptr<ModelState>>(
      env, *st->thread, on_progress, "kotaro.loadModel",
      [st, opts, has_progress](JsChannel& channel) {
        auto progress = [&](float f) {
          if (!has_progress) return;
          channel.post([f](Napi::Env env, Napi::Function fn) {
            Napi::HandleScope scope(env);
            try {
              fn.Call({Napi::Number::New(env, f)});
            } catch (const Napi::Error&) {
              // a failing progress listener does not fail the load
            }
          });
        };
        std::shared_ptr<kotaro::Model> model = kotaro::Model::load(opts, progress);
        st->info = model->info();
        std::atomic_store(&st->model, model);
        return st;
      },
      [](Napi::Env env, std::shared_ptr<ModelState>& s) -> Napi::Value { return make_model_object(env, s); });
}

}  // namespace

void register_model(Napi::Env env, Napi::Object exports) {
  exports.Set("loadModel", Napi::Function::New(env, load_model, "loadModel"));
}

}  // namespace kotaro_addon
