// Module entry of the engine addon: registers each binding file's functions.
#include <napi.h>

#include "bindings.h"

namespace kotaro_addon {

Napi::Error to_js_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

}  // namespace kotaro_addon

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  kotaro_addon::register_engine_info(env, exports);
  kotaro_addon::register_quant(env, exports);
  kotaro_addon::register_model(env, exports);
  return exports;
}

NODE_API_MODULE(kotaro_engine, init)
