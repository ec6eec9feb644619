// Shared helpers of the addon: the oneDNN engine and stream, argument readers, registration.
#pragma once
#include <napi.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

// Op codes and shape-array lengths shared with TypeScript (generated from op-codes.json).
#include "op-codes.h"

// Hot loops of our own are compiled for several instruction sets and picked at load time
// (the addon is built without -march=native so that the binary also runs on other CPUs).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TFE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TFE_VECTOR_CLONES
#endif

namespace tfe {

// 8 lanes as GCC vector extensions: one AVX2 register. (16 lanes ran 12x slower on an AVX2-only
// CPU: GCC splits vectors wider than the target's registers through the stack.)
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));
__attribute__((always_inline)) inline F8 Load(const float* p) {
  F8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void Store(float* p, F8 v) { std::memcpy(p, &v, sizeof v); }

// A batch norm's output, x * scale + shift: the one formula every fused pass uses, so that a
// relu's mask recomputed from x in a gradient agrees bit for bit with the relu computed forward.
__attribute__((always_inline)) inline float AffineValue(float x, float scale, float shift) { return x * scale + shift; }

// Splits [0, n) into one contiguous range per OpenMP thread.
struct Range {
  int64_t begin, end;
};
Range ThreadRange(int64_t n);

// Below this many elements a thread team costs more than it saves; each thread of a team
// gets at least this much work.
constexpr int64_t kParallelMin = 32768;

// Calls f(begin, end) on one contiguous part of [0, n) per thread (or once, when n is small).
// Small ops use fewer threads than the machine has: at 16 threads, splitting a 100k-element
// pass 16 ways cost more in synchronisation than the work (ReluGrad, Sum, MaxPool got slower
// from 8 to 16 threads).
template <typename F>
void ParallelSpans(int64_t n, int64_t work, F f) {
  const int64_t most = omp_get_max_threads();
  const int threads = static_cast<int>(std::min<int64_t>({most, work / kParallelMin, n}));
  if (threads <= 1) {
    if (n > 0) f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const Range r = ThreadRange(n);
    if (r.end > r.begin) f(r.begin, r.end);
  }
}

dnnl::engine& Eng();
dnnl::stream& Strm();

// Wraps a caller's buffer without copying (oneDNN reads and writes the JS memory in place).
inline dnnl::memory Wrap(const dnnl::memory::desc& md, void* ptr) { return dnnl::memory(md, Eng(), ptr); }

// Typed-array arguments are checked: reading an Int32Array as floats would give garbage.
inline float* F32(const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), "expected a Float32Array");
  }
  return v.As<Napi::Float32Array>().Data();
}
inline int32_t* I32s(const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(v.Env(), "expected an Int32Array");
  }
  return v.As<Napi::Int32Array>().Data();
}
inline float* F32OrNull(const Napi::Value& v) { return v.IsNull() || v.IsUndefined() ? nullptr : F32(v); }
inline size_t Len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }

// Every buffer's length is checked against the shape the call gives: a wrong one would read or
// write past the JavaScript array. The error names the entry point and argument (`what`).
void CheckLen(const Napi::Value& v, int64_t need, const char* what);
// A Float32Array (Int32Array) of exactly `need` elements.
float* F32(const Napi::Value& v, int64_t need, const char* what);
int32_t* I32s(const Napi::Value& v, int64_t need, const char* what);
// As F32, or nullptr for null/undefined.
float* F32OrNull(const Napi::Value& v, int64_t need, const char* what);
inline int64_t I64(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
inline int I32(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }
inline float Flt(const Napi::Value& v) { return v.As<Napi::Number>().FloatValue(); }

// An Int32Array of exactly n parameters (shapes, strides, paddings).
const int32_t* Params(const Napi::Value& v, size_t n, const char* what);

// Post-op activations shared by convolution and matmul (Activation in op-codes.h).
dnnl::primitive_attr ActivationAttr(int act, float alpha);

// One image's pooling geometry (NHWC), from the shape array (op-codes.json, shapes.pool);
// Geometry sets *n to the batch size.
struct PoolGeom {
  int64_t ih, iw, c, oh, ow;
  int kh, kw, sh, sw, pt, pl;
};
PoolGeom Geometry(const Napi::Value& shape, int64_t* n);

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
void Export(Napi::Env env, Napi::Object exports, const char* name, Fn fn);

void InitConv(Napi::Env env, Napi::Object exports);
void InitPool(Napi::Env env, Napi::Object exports);
void InitNorm(Napi::Env env, Napi::Object exports);
void InitElementwise(Napi::Env env, Napi::Object exports);
void InitMatmul(Napi::Env env, Napi::Object exports);
void InitBinary(Napi::Env env, Napi::Object exports);
size_t CachedConvolutions();

// Direct convolutions for few input channels (conv-direct.cc), on conv shape arrays: false (and
// nothing written) when the shape is one oneDNN should run.
bool DirectConvForward(const int32_t* shape, const float* x, const float* w, const float* bias, int act, float alpha,
                       float* out);
bool DirectConvFilterGrad(const int32_t* shape, const float* x, const float* dy, float* dw);
bool DirectConvApplies(const int32_t* shape);
// The direct filter gradient fed one image at a time, for a caller that makes each image's dy
// in cache and never writes it (norm.cc's fused chain). Any shape of 1 to 4 input channels and
// one group (ok() says whether this one is); Add is thread-safe, each thread summing into its
// own accumulator of AccumulatorSize() floats (zeroed by the caller); Write turns one into dw.
class ImageFilterGrad {
 public:
  explicit ImageFilterGrad(const int32_t* shape);
  ~ImageFilterGrad();
  bool ok() const { return impl_ != nullptr; }
  int64_t AccumulatorSize() const;
  void Add(const float* image, const float* dy, float* acc) const;
  void Write(const float* acc, float* dw) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
// The direct forward convolution one image at a time (conv-direct.cc), for a caller that
// consumes each image's output while it is in cache (the inference chain, conv-pool-chain.cc).
// Any shape of 1 to 4 input channels and one group (ok()), unless oneDNN was asked for; the
// filter and bias are copied. Run is thread-safe: out gets the image's [oh, ow, oc] output.
class ImageConvForward {
 public:
  ImageConvForward(const int32_t* shape, const float* w, const float* bias, int act, float alpha);
  ~ImageConvForward();
  bool ok() const { return impl_ != nullptr; }
  void Run(const float* image, float* out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One image's max pooling of relu(x * scale + shift) per channel (pool.cc), the first maximum
// of each window as everywhere: y gets the image's pooled output.
void MaxPoolAffineReluImage(const PoolGeom& g, const float* x, const float* scale, const float* shift, float* y);
void InitConvPoolChain(Napi::Env env, Napi::Object exports);

// 0: oneDNN only; 1: direct where it measured faster; 2: direct for every ic <= 4. Returns the
// previous mode; another value only reads it.
int SetDirectConvMode(int mode);

}  // namespace tfe
