// Element-wise kernels and reductions that a training step runs on megabyte-sized tensors:
// relu and its gradient, sums over a contiguous block of axes and their broadcast gradient,
// sparse softmax cross-entropy with its gradient, and Adam's update in one pass.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include "common.h"

namespace tfe {
namespace {

// NaN stays NaN, as in tfjs (x < 0 is false for NaN).
TFE_VECTOR_CLONES void ReluSpan(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0.f ? 0.f : x[i];
}

// Branch-free: with random signs a branch mispredicts half the time.
TFE_VECTOR_CLONES void ReluGradSpan(const float* __restrict dy, const float* __restrict x, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float d = dy[i];
    dx[i] = x[i] > 0.f ? d : 0.f;
  }
}

TFE_VECTOR_CLONES float SumSpan(const float* __restrict x, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}

// acc[i] += sum over rows r in [r0, r1) of x[r * inner + i]
TFE_VECTOR_CLONES void AddRows(const float* __restrict x, int64_t r0, int64_t r1, int64_t inner, float* __restrict acc) {
  for (int64_t r = r0; r < r1; r++) {
    const float* row = x + r * inner;
    for (int64_t i = 0; i < inner; i++) acc[i] += row[i];
  }
}

TFE_VECTOR_CLONES void ScaleSpan(const float* __restrict src, float scale, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = src[i] * scale;
}

TFE_VECTOR_CLONES void AdamSpan(const float* __restrict w, const float* __restrict m, const float* __restrict v,
                                const float* __restrict g, float* __restrict nw, float* __restrict nm, float* __restrict nv,
                                float lr, float b1, float b2, float eps, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.f - b1) * gi;
    const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    nm[i] = mi;
    nv[i] = vi;
    nw[i] = w[i] - lr * mi / (std::sqrt(vi) + eps);
  }
}

// Sizes given as numbers: a negative one would make every length check pass.
void NonNegative(const Napi::Env& env, std::initializer_list<int64_t> sizes, const char* what) {
  for (int64_t s : sizes) {
    if (s < 0) throw Napi::Error::New(env, std::string(what) + ": negative size");
  }
}

// relu(x, y)
Napi::Value Relu(const Napi::CallbackInfo& info) {
  const float* x = F32(info[0]);
  const int64_t n = Len(info[0]);
  float* y = F32(info[1], n, "relu y");
  ParallelSpans(n, n, [&](int64_t b, int64_t e) { ReluSpan(x + b, y + b, e - b); });
  return info.Env().Undefined();
}

// reluGrad(dy, x, dx): dy where x > 0, else 0.
Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
  const float* dy = F32(info[0]);
  const int64_t n = Len(info[0]);
  const float* x = F32(info[1], n, "reluGrad x");
  float* dx = F32(info[2], n, "reluGrad dx");
  ParallelSpans(n, n, [&](int64_t b, int64_t e) { ReluGradSpan(dy + b, x + b, dx + b, e - b); });
  return info.Env().Undefined();
}

// reduceSum(outer, reduce, inner, scale, x, out): x viewed as [outer, reduce, inner], summed
// over the middle axis and multiplied by scale (1 for Sum, 1/reduce for Mean). Float partial
// sums over blocks of 64 rows (or 4096 elements), added up in double.
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  const int64_t outer = I64(info[0]), red = I64(info[1]), inner = I64(info[2]);
  NonNegative(info.Env(), {outer, red, inner}, "reduceSum");
  const double scale = info[3].As<Napi::Number>().DoubleValue();
  const float* x = F32(info[4], outer * red * inner, "reduceSum x");
  float* out = F32(info[5], outer * inner, "reduceSum out");
  if (inner == 1) {
    ParallelSpans(outer, outer * red, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        double s = 0;
        for (int64_t r0 = 0; r0 < red; r0 += 4096) s += SumSpan(x + o * red + r0, std::min<int64_t>(4096, red - r0));
        out[o] = static_cast<float>(s * scale);
      }
    });
    return info.Env().Undefined();
  }
  for (int64_t o = 0; o < outer; o++) {
    const float* base = x + o * red * inner;
    std::vector<double> acc(inner, 0.0);
    const int64_t blocks = (red + 63) / 64;
    auto sum_blocks = [&](int64_t b, int64_t e) {
      std::vector<float> part(inner);
      std::vector<double> local(inner, 0.0);
      for (int64_t blk = b; blk < e; blk++) {
        std::fill(part.begin(), part.end(), 0.f);
        AddRows(base, blk * 64, std::min(red, blk * 64 + 64), inner, part.data());
        for (int64_t i = 0; i < inner; i++) local[i] += part[i];
      }
#pragma omp critical
      for (int64_t i = 0; i < inner; i++) acc[i] += local[i];
    };
    ParallelSpans(blocks, red * inner, sum_blocks);
    for (int64_t i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(acc[i] * scale);
  }
  return info.Env().Undefined();
}

// broadcastMiddle(outer, reduce, inner, scale, src, out): out[o, r, i] = src[o, i] * scale
// (the gradient of a sum or mean over a contiguous block of axes).
Napi::Value BroadcastMiddle(const Napi::CallbackInfo& info) {
  const int64_t outer = I64(info[0]), red = I64(info[1]), inner = I64(info[2]);
  NonNegative(info.Env(), {outer, red, inner}, "broadcastMiddle");
  const float scale = Flt(info[3]);
  const float* src = F32(info[4], outer * inner, "broadcastMiddle src");
  float* out = F32(info[5], outer * red * inner, "broadcastMiddle out");
  ParallelSpans(outer * red, outer * red * inner, [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; row++) ScaleSpan(src + (row / red) * inner, scale, out + row * inner, inner);
  });
  return info.Env().Undefined();
}

// sparseSoftmaxXent(rows, classes, logits, labels:Int32Array, loss, softmax): per-row
// -log softmax(logits)[label]; keeps the softmax for the gradient. A label outside
// [0, classes) gives NaN, as TensorFlow does.
Napi::Value SparseSoftmaxXent(const Napi::CallbackInfo& info) {
  const int64_t rows = I64(info[0]), k = I64(info[1]);
  NonNegative(info.Env(), {rows, k}, "sparseSoftmaxXent");
  const float* logits = F32(info[2], rows * k, "sparseSoftmaxXent logits");
  const int32_t* labels = I32s(info[3], rows, "sparseSoftmaxXent labels");
  float* loss = F32(info[4], rows, "sparseSoftmaxXent loss");
  float* sm = F32(info[5], rows * k, "sparseSoftmaxXent softmax");
  ParallelSpans(rows, rows * k * 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* l = logits + r * k;
      float* p = sm + r * k;
      float mx = -INFINITY;
      for (int64_t j = 0; j < k; j++) mx = std::max(mx, l[j]);
      double sum = 0;
      for (int64_t j = 0; j < k; j++) sum += std::exp(static_cast<double>(l[j]) - mx);
      const double lse = std::log(sum);
      for (int64_t j = 0; j < k; j++) p[j] = static_cast<float>(std::exp(static_cast<double>(l[j]) - mx - lse));
      const int32_t y = labels[r];
      loss[r] = y >= 0 && y < k ? static_cast<float>(lse - (static_cast<double>(l[y]) - mx)) : NAN;
    }
  });
  return info.Env().Undefined();
}

// sparseSoftmaxXentGrad(rows, classes, softmax, labels, dloss, dlogits):
// dlogits = (softmax - onehot(label)) * dloss[row]
Napi::Value SparseSoftmaxXentGrad(const Napi::CallbackInfo& info) {
  const int64_t rows = I64(info[0]), k = I64(info[1]);
  NonNegative(info.Env(), {rows, k}, "sparseSoftmaxXentGrad");
  const float* sm = F32(info[2], rows * k, "sparseSoftmaxXentGrad softmax");
  const int32_t* labels = I32s(info[3], rows, "sparseSoftmaxXentGrad labels");
  const float* dloss = F32(info[4], rows, "sparseSoftmaxXentGrad dloss");
  float* d = F32(info[5], rows * k, "sparseSoftmaxXentGrad dlogits");
  ParallelSpans(rows, rows * k, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      ScaleSpan(sm + r * k, dloss[r], d + r * k, k);
      const int32_t y = labels[r];
      if (y >= 0 && y < k) d[r * k + y] -= dloss[r];
    }
  });
  return info.Env().Undefined();
}

// adamUpdate(var, m, v, g, newVar, newM, newV, lrT, beta1, beta2, eps): TF1's update
// (lrT already holds the bias corrections, epsilon outside the square root), one pass.
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  const float* w = F32(info[0]);
  const int64_t n = Len(info[0]);
  const float *m = F32(info[1], n, "adamUpdate m"), *v = F32(info[2], n, "adamUpdate s"), *g = F32(info[3], n, "adamUpdate g");
  float *nw = F32(info[4], n, "adamUpdate newV"), *nm = F32(info[5], n, "adamUpdate newM"), *nv = F32(info[6], n, "adamUpdate newS");
  const float lr = Flt(info[7]), b1 = Flt(info[8]), b2 = Flt(info[9]), eps = Flt(info[10]);
  ParallelSpans(n, n * 4, [&](int64_t b, int64_t e) {
    AdamSpan(w + b, m + b, v + b, g + b, nw + b, nm + b, nv + b, lr, b1, b2, eps, e - b);
  });
  return info.Env().Undefined();
}

// gatherUnitBytes(src: Uint8Array, rowLen, rows: Int32Array, dst): dst's row i = src's row
// rows[i] / 255: an input pipeline's batch of images picked from their file's bytes. A float
// division gives exactly Math.fround(byte / 255), what JavaScript writes, for every byte. One
// thread (50k pixels take microseconds; waking a team would cost more), the next row fetched
// while this one converts: the rows are scattered over a file far larger than the caches.
Napi::Value GatherUnitBytes(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "gatherUnitBytes src: expected a Uint8Array");
  }
  const auto bytes = info[0].As<Napi::Uint8Array>();
  const uint8_t* src = bytes.Data();
  const int64_t total = static_cast<int64_t>(bytes.ElementLength()), len = I64(info[1]);
  const int32_t* rows = I32s(info[2]);
  const int64_t n = Len(info[2]);
  float* dst = F32(info[3], n * len, "gatherUnitBytes dst");
  NonNegative(info.Env(), {len}, "gatherUnitBytes");
  for (int64_t i = 0; i < n; i++) {
    if (rows[i] < 0 || (static_cast<int64_t>(rows[i]) + 1) * len > total) {
      throw Napi::RangeError::New(info.Env(), "gatherUnitBytes: row " + std::to_string(rows[i]) + " is outside src");
    }
  }
  for (int64_t i = 0; i < n; i++) {
    if (i + 1 < n)
      for (int64_t k = 0; k < len; k += 64) __builtin_prefetch(src + rows[i + 1] * len + k);
    const uint8_t* from = src + rows[i] * len;
    float* to = dst + i * len;
    for (int64_t k = 0; k < len; k++) to[k] = static_cast<float>(from[k]) / 255.f;
  }
  return info.Env().Undefined();
}

}  // namespace

void InitElementwise(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "gatherUnitBytes", GatherUnitBytes);
  Export(env, exports, "relu", Relu);
  Export(env, exports, "reluGrad", ReluGrad);
  Export(env, exports, "reduceSum", ReduceSum);
  Export(env, exports, "broadcastMiddle", BroadcastMiddle);
  Export(env, exports, "sparseSoftmaxXent", SparseSoftmaxXent);
  Export(env, exports, "sparseSoftmaxXentGrad", SparseSoftmaxXentGrad);
  Export(env, exports, "adamUpdate", AdamUpdate);
}

}  // namespace tfe
