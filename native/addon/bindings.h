// Each binding file registers its functions on the module's exports. One file per concern:
// engine_info.cpp (build/GPU info), quant_binding.cpp (quantisation for the converter),
// model_binding.cpp (load/encode/prefill/generate/cancel/memory).
#pragma once
#include <napi.h>

namespace kotaro_addon {

void register_engine_info(Napi::Env env, Napi::Object exports);
void register_quant(Napi::Env env, Napi::Object exports);
void register_model(Napi::Env env, Napi::Object exports);

// Throws a JS Error carrying `.code` (e.g. "GGUF_MALFORMED") from a kotaro::Error or
// std::exception; used by every binding so errors look the same to JavaScript.
Napi::Error to_js_error(Napi::Env env, const char* code, const std::string& message);

}  // namespace kotaro_addon
