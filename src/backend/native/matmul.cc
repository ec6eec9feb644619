// Batched matrix products: oneDNN's matmul with tfjs's transposes expressed as strides (no
// copies), an optional bias over the last axis and an activation post-op. Small products (a
// dense layer's gradients) run a plain loop on the calling thread instead: oneDNN's call
// overhead and a thread team cost more than the arithmetic there.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>
#include <unordered_map>

#include "common.h"

namespace tfe {
namespace {

using dnnl::memory;
using dt = memory::data_type;

struct MatmulPrims {
  memory::desc a_md, b_md, bias_md, c_md;
  dnnl::matmul prim;
};
std::unordered_map<std::string, std::unique_ptr<MatmulPrims>> g_matmuls;

// The shape array's fields: MatmulShapeField (op-codes.json); a batch of 1 broadcasts.
constexpr size_t kShapeLen = kMatmulShapeLen;

MatmulPrims& Get(const Napi::Value& shape, bool bias, int act, float alpha) {
  const int32_t* p = Params(shape, kShapeLen, "matmul shape");
  std::string key = std::to_string(bias) + "," + std::to_string(act) + "," + std::to_string(alpha);
  for (size_t i = 0; i < kShapeLen; i++) key += "," + std::to_string(p[i]);
  auto it = g_matmuls.find(key);
  if (it != g_matmuls.end()) return *it->second;
  const memory::dim ba = p[kMatmulBatchA], bb = p[kMatmulBatchB], m = p[kMatmulM], k = p[kMatmulK], n = p[kMatmulN];
  const bool ta = p[kMatmulTransposeA] != 0, tb = p[kMatmulTransposeB] != 0;
  auto mm = std::make_unique<MatmulPrims>();
  mm->a_md = memory::desc({ba, m, k}, dt::f32, ta ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1});
  mm->b_md = memory::desc({bb, k, n}, dt::f32, tb ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1});
  mm->c_md = memory::desc({std::max(ba, bb), m, n}, dt::f32, memory::dims{m * n, n, 1});
  mm->bias_md = memory::desc({1, 1, n}, dt::f32, memory::dims{n, n, 1});
  auto d = bias ? dnnl::matmul::desc(mm->a_md, mm->b_md, mm->bias_md, mm->c_md) : dnnl::matmul::desc(mm->a_md, mm->b_md, mm->c_md);
  mm->prim = dnnl::matmul(dnnl::matmul::primitive_desc(d, ActivationAttr(act, alpha), Eng()));
  auto& ref = *mm;
  g_matmuls.emplace(key, std::move(mm));
  return ref;
}

constexpr int64_t kSmall = 1 << 17;  // multiply-adds below which the plain loop wins

float Activate(int act, float alpha, float v) {
  switch (act) {
    case kRelu: return v < 0.f ? 0.f : v;
    case kRelu6: return std::min(std::max(v, 0.f), 6.f);
    case kElu: return v < 0.f ? std::expm1(v) : v;
    case kLeakyrelu: return v < 0.f ? alpha * v : v;
    case kSigmoid: return 1.f / (1.f + std::exp(-v));
    default: return v;
  }
}

// c = a b for one row-major [k, n] matrix b; a read through strides (it may be transposed).
TFE_VECTOR_CLONES void SmallGemm(const float* a, int64_t a_rs, int64_t a_cs, const float* __restrict b, float* __restrict c,
                                 int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; i++) {
    float* ci = c + i * n;
    for (int64_t j = 0; j < n; j++) ci[j] = 0.f;
    for (int64_t kk = 0; kk < k; kk++) {
      const float av = a[i * a_rs + kk * a_cs];
      const float* bk = b + kk * n;
      for (int64_t j = 0; j < n; j++) ci[j] += av * bk[j];
    }
  }
}

void SmallMatmul(const int32_t* p, const float* a, const float* b, const float* bias, int act, float alpha, float* c) {
  const int64_t ba = p[kMatmulBatchA], bb = p[kMatmulBatchB], m = p[kMatmulM], k = p[kMatmulK], n = p[kMatmulN];
  const bool ta = p[kMatmulTransposeA] != 0, tb = p[kMatmulTransposeB] != 0;
  const int64_t a_rs = ta ? 1 : k, a_cs = ta ? m : 1;
  std::vector<float> bt(tb ? k * n : 0);
  for (int64_t t = 0; t < std::max(ba, bb); t++) {
    const float* bm = b + (bb == 1 ? 0 : t) * k * n;
    if (tb && (t == 0 || bb != 1)) {  // b is stored [n, k]: make it [k, n] once per matrix
      for (int64_t j = 0; j < n; j++)
        for (int64_t kk = 0; kk < k; kk++) bt[kk * n + j] = bm[j * k + kk];
    }
    float* ct = c + t * m * n;
    SmallGemm(a + (ba == 1 ? 0 : t) * m * k, a_rs, a_cs, tb ? bt.data() : bm, ct, m, k, n);
    if (!bias && act == kLinear) continue;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) ct[i * n + j] = Activate(act, alpha, ct[i * n + j] + (bias ? bias[j] : 0.f));
  }
}

// matmul(shape, a, b, bias|null, activation, alpha, out)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const int32_t* p = Params(info[0], kShapeLen, "matmul shape");
  const int64_t ba = p[kMatmulBatchA], bb = p[kMatmulBatchB], m = p[kMatmulM], k = p[kMatmulK], n = p[kMatmulN];
  if (ba < 1 || bb < 1 || m < 0 || k < 0 || n < 0 || (ba != 1 && bb != 1 && ba != bb)) {
    throw Napi::Error::New(info.Env(), "matmul shape: batches must be equal or 1, sizes non-negative");
  }
  float* a = F32(info[1], ba * m * k, "matmul a");
  float* b = F32(info[2], bb * k * n, "matmul b");
  float* bias = F32OrNull(info[3], n, "matmul bias");
  float* out = F32(info[6], std::max(ba, bb) * m * n, "matmul out");
  if (std::max(ba, bb) * m * k * n <= kSmall) {
    SmallMatmul(p, a, b, bias, I32(info[4]), Flt(info[5]), out);
    return info.Env().Undefined();
  }
  auto& mm = Get(info[0], bias != nullptr, I32(info[4]), Flt(info[5]));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, Wrap(mm.a_md, a)},
                                       {DNNL_ARG_WEIGHTS, Wrap(mm.b_md, b)},
                                       {DNNL_ARG_DST, Wrap(mm.c_md, out)}};
  if (bias) args.insert({DNNL_ARG_BIAS, Wrap(mm.bias_md, bias)});
  mm.prim.execute(Strm(), args);
  Strm().wait();
  return info.Env().Undefined();
}

}  // namespace

void InitMatmul(Napi::Env env, Napi::Object exports) { Export(env, exports, "matmul", Matmul); }

}  // namespace tfe
