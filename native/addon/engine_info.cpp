// buildInfo(): what the addon was built with and which GPUs it sees.
#include <napi.h>

#include "bindings.h"
#include "kotaro/engine.h"

namespace kotaro_addon {

static Napi::Value build_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    kotaro::BuildInfo b = kotaro::build_info();
    Napi::Object out = Napi::Object::New(env);
    out.Set("version", b.version);
    out.Set("cudaCompiled", b.cuda_compiled);
    out.Set("cudaArchs", b.cuda_archs);
    out.Set("cudaRuntimeVersion", b.cuda_runtime_version);
    out.Set("cudaDriverVersion", b.cuda_driver_version);
    out.Set("napiVersion", NAPI_VERSION);
    Napi::Array gpus = Napi::Array::New(env, b.gpus.size());
    for (size_t i = 0; i < b.gpus.size(); ++i) {
      const kotaro::GpuInfo& g = b.gpus[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("index", g.index);
      o.Set("name", g.name);
      o.Set("computeCapability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor));
      o.Set("totalBytes", static_cast<double>(g.total_bytes));
      o.Set("freeBytes", static_cast<double>(g.free_bytes));
      o.Set("smCount", g.sm_count);
      gpus.Set(i, o);
    }
    out.Set("gpus", gpus);
    return out;
  } catch (const kotaro::Error& e) {
    throw to_js_error(env, e.code_name(), e.what());
  } catch (const std::exception& e) {
    throw to_js_error(env, "INTERNAL", e.what());
  }
}

void register_engine_info(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, build_info, "buildInfo"));
}

}  // namespace kotaro_addon
