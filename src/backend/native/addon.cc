// N-API addon: oneDNN primitives and fused loops for the hot training kernels of the `native`
// tfjs backend. TypeScript hands over the backend's Float32Arrays (NHWC activations, HWIO
// filters) and the kernels write their results in place into output arrays it provides.
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>

#include "common.h"

namespace tfe {

dnnl::engine& Eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& Strm() {
  static dnnl::stream s(Eng());
  return s;
}

const int32_t* Params(const Napi::Value& v, size_t n, const char* what) {
  I32s(v);
  auto a = v.As<Napi::Int32Array>();
  if (a.ElementLength() != n) {
    throw Napi::Error::New(v.Env(), std::string(what) + ": expected " + std::to_string(n) + " parameters, got " +
                                        std::to_string(a.ElementLength()));
  }
  return a.Data();
}

void CheckLen(const Napi::Value& v, int64_t need, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a typed array");
  if (static_cast<int64_t>(Len(v)) != need) {
    throw Napi::Error::New(v.Env(), std::string(what) + ": buffer of " + std::to_string(Len(v)) + " elements, the shape needs " +
                                        std::to_string(need));
  }
}

float* F32(const Napi::Value& v, int64_t need, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a Float32Array");
  }
  CheckLen(v, need, what);
  return v.As<Napi::Float32Array>().Data();
}

int32_t* I32s(const Napi::Value& v, int64_t need, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an Int32Array");
  }
  CheckLen(v, need, what);
  return v.As<Napi::Int32Array>().Data();
}

float* F32OrNull(const Napi::Value& v, int64_t need, const char* what) {
  return v.IsNull() || v.IsUndefined() ? nullptr : F32(v, need, what);
}

Range ThreadRange(int64_t n) {
  const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
  const int64_t per = (n + nt - 1) / nt;
  return {std::min(n, t * per), std::min(n, (t + 1) * per)};
}

dnnl::primitive_attr ActivationAttr(int act, float alpha) {
  dnnl::primitive_attr attr;
  if (act == kLinear) return attr;
  dnnl::post_ops ops;
  switch (act) {
    case kRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case kRelu6: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case kElu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    case kLeakyrelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    case kSigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    default: throw std::runtime_error("unknown activation code " + std::to_string(act));
  }
  attr.set_post_ops(ops);
  return attr;
}

void Export(Napi::Env env, Napi::Object exports, const char* name, Fn fn) {
  exports.Set(name, Napi::Function::New(
                        env,
                        [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
                          try {
                            return fn(info);
                          } catch (const dnnl::error& e) {
                            throw Napi::Error::New(info.Env(), std::string(name) + ": oneDNN: " + e.what());
                          } catch (const Napi::Error&) {
                            throw;
                          } catch (const std::exception& e) {
                            throw Napi::Error::New(info.Env(), std::string(name) + ": " + e.what());
                          }
                        },
                        name));
}

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto v = dnnl::version();
  auto o = Napi::Object::New(info.Env());
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("cpuRuntime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  o.Set("threads", omp_get_max_threads());
  o.Set("cachedConvolutions", static_cast<double>(CachedConvolutions()));
  return o;
}

// setThreads(n): the OpenMP team size for every later kernel.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = I32(info[0]);
  if (n > 0) omp_set_num_threads(n);
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

// OMP_NUM_THREADS wins; otherwise one thread per CPU the process may run on, until the backend
// sets its default (threads.ts: physical cores, the cgroup's limit, a quarter left past 4 cores).
void DefaultThreads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env && std::atoi(env) > 0) return;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) omp_set_num_threads(CPU_COUNT(&set));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  DefaultThreads();
  InitConv(env, exports);
  InitPool(env, exports);
  InitNorm(env, exports);
  InitElementwise(env, exports);
  InitMatmul(env, exports);
  InitBinary(env, exports);
  InitConvPoolChain(env, exports);
  Export(env, exports, "setThreads", SetThreads);
  Export(env, exports, "info", Info);
  return exports;
}

}  // namespace
}  // namespace tfe

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tfe::Init(env, exports); }
NODE_API_MODULE(tfjs_estimator_native, InitAddon)
