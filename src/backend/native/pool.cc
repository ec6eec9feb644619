// 2-D pooling on NHWC buffers. Forward passes and average-pool gradients use oneDNN. Max
// pooling in training (the layers' max pooling) is a loop of our own that also writes each
// window's argmax (the workspace), optionally reading relu(x * scale + shift) instead of x so
// that a batch norm + relu before it is never written out; its gradient scatters dy to the
// argmax, optionally masked by that relu. tfjs's MaxPoolGrad, which gets the input and no
// workspace, searches each window again. All take the first maximum of each window in
// row-major order, as tfjs's cpu kernel does.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>

#include "common.h"

namespace tfe {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// The shape array's fields: PoolShapeField (op-codes.json).
constexpr size_t kShapeLen = kPoolShapeLen;

struct PoolPrims {
  memory::desc src_md, dst_md;
  dnnl::pooling_forward fwd;
  dnnl::pooling_backward bwd;
};
std::unordered_map<std::string, std::unique_ptr<PoolPrims>> g_pools;

// mode (PoolMode): max, average over valid inputs (tfjs's forward), average over the whole
// window (tfjs's AvgPoolGrad divides so).
PoolPrims& GetPool(const Napi::Value& v, int mode) {
  const int32_t* p = Params(v, kShapeLen, "pooling shape");
  if (mode != kPoolMax && mode != kPoolAvgValid && mode != kPoolAvgWindow) {
    throw Napi::Error::New(v.Env(), "pooling: unknown mode " + std::to_string(mode));
  }
  std::string key = std::to_string(mode);
  for (size_t i = 0; i < kShapeLen; i++) key += "," + std::to_string(p[i]);
  auto it = g_pools.find(key);
  if (it != g_pools.end()) return *it->second;
  auto pp = std::make_unique<PoolPrims>();
  pp->src_md = memory::desc({p[kPoolN], p[kPoolC], p[kPoolIh], p[kPoolIw]}, dt::f32, tag::nhwc);
  pp->dst_md = memory::desc({p[kPoolN], p[kPoolC], p[kPoolOh], p[kPoolOw]}, dt::f32, tag::nhwc);
  auto alg = mode == kPoolMax        ? dnnl::algorithm::pooling_max
             : mode == kPoolAvgValid ? dnnl::algorithm::pooling_avg_exclude_padding
                         : dnnl::algorithm::pooling_avg_include_padding;
  memory::dims strides{p[kPoolSh], p[kPoolSw]}, kernel{p[kPoolKh], p[kPoolKw]}, pl{p[kPoolPt], p[kPoolPl]}, pr{p[kPoolPb], p[kPoolPr]};
  auto fi = dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  pp->fwd = dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(fi, Eng()));
  auto ft = dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  auto hint = dnnl::pooling_forward::primitive_desc(ft, Eng());
  auto bd = dnnl::pooling_backward::desc(alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  pp->bwd = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(bd, Eng(), hint));
  auto& ref = *pp;
  g_pools.emplace(key, std::move(pp));
  return ref;
}

// Elements of a pooling input or output.
int64_t Floats(const memory::desc& md) { return static_cast<int64_t>(md.get_size() / sizeof(float)); }

// poolForward(shape, mode, x, y)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], I32(info[1]));
  float* x = F32(info[2], Floats(p.src_md), "poolForward x");
  float* y = F32(info[3], Floats(p.dst_md), "poolForward y");
  p.fwd.execute(Strm(), {{DNNL_ARG_SRC, Wrap(p.src_md, x)}, {DNNL_ARG_DST, Wrap(p.dst_md, y)}});
  Strm().wait();
  return info.Env().Undefined();
}

// avgPoolBackward(shape, mode, dy, dx)
Napi::Value AvgBackward(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], I32(info[1]));
  float* dy = F32(info[2], Floats(p.dst_md), "avgPoolBackward dy");
  float* dx = F32(info[3], Floats(p.src_md), "avgPoolBackward dx");
  p.bwd.execute(Strm(), {{DNNL_ARG_DIFF_DST, Wrap(p.dst_md, dy)}, {DNNL_ARG_DIFF_SRC, Wrap(p.src_md, dx)}});
  Strm().wait();
  return info.Env().Undefined();
}




// The max-pool gradient of one image: for each window and each block of 8 channels, the first
// maximum per channel (strictly greater wins, row-major order), then dy added at that
// position. All channels of a window are handled together, so each pixel's cache lines are
// used whole; 8 contiguous channels make both passes plain vector operations.
TFE_VECTOR_CLONES void MaxPoolGradImage(const PoolGeom& g, const float* __restrict x, const float* __restrict dy,
                                        float* __restrict dx) {
  const F8 zero = {};
  const int64_t full = g.c / 8 * 8;
  std::memset(dx, 0, sizeof(float) * g.ih * g.iw * g.c);
  for (int64_t y = 0; y < g.oh; y++) {
    const int64_t h0 = y * g.sh - g.pt, hs = std::max<int64_t>(0, h0), he = std::min<int64_t>(g.ih, h0 + g.kh);
    for (int64_t xo = 0; xo < g.ow; xo++) {
      const int64_t w0 = xo * g.sw - g.pl, ws = std::max<int64_t>(0, w0), we = std::min<int64_t>(g.iw, w0 + g.kw);
      const float* dyo = dy + (y * g.ow + xo) * g.c;
      for (int64_t c0 = 0; c0 < full; c0 += 8) {
        F8 best = zero - std::numeric_limits<float>::infinity();
        I8 at = I8{} - 1;
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = ws; w < we; w++) {
            const int32_t pos = static_cast<int32_t>(h * g.iw + w);
            const F8 v = Load(x + pos * g.c + c0);
            const I8 gt = v > best;
            best = gt ? v : best;
            at = gt ? (I8{} + pos) : at;
          }
        const F8 grad = Load(dyo + c0);
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = ws; w < we; w++) {
            const int32_t pos = static_cast<int32_t>(h * g.iw + w);
            float* d = dx + pos * g.c + c0;
            Store(d, Load(d) + (at == pos ? grad : zero));
          }
      }
      for (int64_t j = full; j < g.c; j++) {  // channels past the last block of 8
        float best = -std::numeric_limits<float>::infinity();
        int64_t at = -1;
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = ws; w < we; w++) {
            const float v = x[(h * g.iw + w) * g.c + j];
            if (v > best) best = v, at = h * g.iw + w;
          }
        if (at >= 0) dx[at * g.c + j] += dyo[j];
      }
    }
  }
}

// maxPoolBackward(shape, x, dy, dx). Work is split over images: windows overlap in space.
Napi::Value MaxBackward(const Napi::CallbackInfo& info) {
  int64_t n;
  const PoolGeom g = Geometry(info[0], &n);
  const int64_t in_size = g.ih * g.iw * g.c, out_size = g.oh * g.ow * g.c;
  CheckLen(info[1], n * in_size, "maxPoolBackward x");
  CheckLen(info[2], n * out_size, "maxPoolBackward dy");
  CheckLen(info[3], n * in_size, "maxPoolBackward dx");
  const float* x = F32(info[1]);
  const float* dy = F32(info[2]);
  float* dx = F32(info[3]);
  ParallelSpans(n, n * in_size, [&](int64_t b, int64_t e) {
    for (int64_t img = b; img < e; img++) MaxPoolGradImage(g, x + img * in_size, dy + img * out_size, dx + img * in_size);
  });
  return info.Env().Undefined();
}


// Where a relu(x * scale + shift) that was never written out is read back: per channel.
struct AffineRelu {
  const float* scale;
  const float* shift;
};

// One image's max pooling in training: y = the first maximum of each window (row-major). The
// image's workspace holds, per output element, its input pixel (h * iw + w, int32) and then,
// in a second block of the same size, the input value there (x, before any affine): enough for
// the gradients of the pooling, of a relu before it and of a batch norm before that, without
// reading x again. With `a`, the values pooled are relu(x * scale + shift): the batch norm +
// relu before the pooling computed on the fly.
template <bool kAffine, typename V, typename IV, int L>
inline __attribute__((always_inline)) void MaxPoolArgmaxImageT(const PoolGeom& g, const float* __restrict x, AffineRelu a,
                                                               float* __restrict y, int32_t* __restrict ws) {
  const int64_t full = g.c / L * L, out_size = g.oh * g.ow * g.c;
  auto load = [](const float* q) {
    V v;
    std::memcpy(&v, q, sizeof v);
    return v;
  };
  float* wsx = ws ? reinterpret_cast<float*>(ws + out_size) : nullptr;  // no workspace: inference
  for (int64_t oy = 0; oy < g.oh; oy++) {
    const int64_t h0 = oy * g.sh - g.pt, hs = std::max<int64_t>(0, h0), he = std::min<int64_t>(g.ih, h0 + g.kh);
    for (int64_t ox = 0; ox < g.ow; ox++) {
      const int64_t w0 = ox * g.sw - g.pl, wst = std::max<int64_t>(0, w0), we = std::min<int64_t>(g.iw, w0 + g.kw);
      const int64_t o = (oy * g.ow + ox) * g.c;
      for (int64_t c0 = 0; c0 < full; c0 += L) {
        V best = V{} - std::numeric_limits<float>::infinity(), raw{};
        IV at = IV{} - 1;
        V sc{}, sh{};
        if (kAffine) sc = load(a.scale + c0), sh = load(a.shift + c0);
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = wst; w < we; w++) {
            const int32_t pos = static_cast<int32_t>(h * g.iw + w);
            const V xv = load(x + pos * g.c + c0);
            V v = xv;
            if (kAffine) {
              v = xv * sc + sh;  // AffineValue, lane-wise
              v = v < V{} ? V{} : v;
            }
            const IV gt = v > best;
            best = gt ? v : best;
            raw = gt ? xv : raw;
            at = gt ? (IV{} + pos) : at;
          }
        std::memcpy(y + o + c0, &best, sizeof best);
        if (ws) {
          std::memcpy(wsx + o + c0, &raw, sizeof raw);
          std::memcpy(ws + o + c0, &at, sizeof at);
        }
      }
      for (int64_t j = full; j < g.c; j++) {  // channels past the last full vector
        float best = -std::numeric_limits<float>::infinity(), raw = 0.f;
        int32_t at = -1;
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = wst; w < we; w++) {
            const float xv = x[(h * g.iw + w) * g.c + j];
            float v = xv;
            if (kAffine) {
              v = AffineValue(xv, a.scale[j], a.shift[j]);
              v = v < 0.f ? 0.f : v;
            }
            if (v > best) best = v, raw = xv, at = static_cast<int32_t>(h * g.iw + w);
          }
        y[o + j] = best;
        if (ws) wsx[o + j] = raw, ws[o + j] = at;
      }
    }
  }
}

typedef float F16 __attribute__((vector_size(64)));
typedef int32_t I16 __attribute__((vector_size(64)));
// 16 lanes where the CPU has AVX-512 registers, 8 elsewhere (see F8 in common.h).
template <bool kAffine>
__attribute__((target("avx512f"))) void MaxPoolArgmaxImage16(const PoolGeom& g, const float* x, AffineRelu a, float* y, int32_t* ws) {
  MaxPoolArgmaxImageT<kAffine, F16, I16, 16>(g, x, a, y, ws);
}
template <bool kAffine>
TFE_VECTOR_CLONES void MaxPoolArgmaxImage8(const PoolGeom& g, const float* x, AffineRelu a, float* y, int32_t* ws) {
  MaxPoolArgmaxImageT<kAffine, F8, I8, 8>(g, x, a, y, ws);
}
template <bool kAffine>
void MaxPoolArgmaxImage(const PoolGeom& g, const float* x, AffineRelu a, float* y, int32_t* ws) {
  static const bool wide = __builtin_cpu_supports("avx512f");
  if (wide) {
    MaxPoolArgmaxImage16<kAffine>(g, x, a, y, ws);
  } else {
    MaxPoolArgmaxImage8<kAffine>(g, x, a, y, ws);
  }
}

// One image's max-pool gradient from its workspace: dx = 0, then dy added at each window's
// argmax; with `a`, only where x * scale + shift > 0 there (the gradient of the relu before it).
void MaxPoolScatterImage(const PoolGeom& g, const float* __restrict dy, const int32_t* __restrict ws, const AffineRelu* a,
                         float* __restrict dx) {
  std::memset(dx, 0, sizeof(float) * g.ih * g.iw * g.c);
  const int64_t out_size = g.oh * g.ow * g.c, pixels = g.ih * g.iw;
  const float* wsx = reinterpret_cast<const float*>(ws + out_size);
  for (int64_t o = 0; o < out_size; o += g.c)
    for (int64_t j = 0; j < g.c; j++) {
      // at outside the image: no maximum (an empty window), or not a workspace of this shape.
      const int32_t at = ws[o + j];
      const bool valid = static_cast<uint32_t>(at) < static_cast<uint64_t>(pixels);
      // Branch-free: whether a relu let a value through is a coin toss per element.
      const bool pass = valid && (!a || AffineValue(wsx[o + j], a->scale[j], a->shift[j]) > 0.f);
      dx[(valid ? at : 0) * g.c + j] += pass ? dy[o + j] : 0.f;
    }
}

// The workspace: two int32/float blocks per image of the output's size, carried in a
// Float32Array (the backend's tensors are float32 buffers).
int32_t* Workspace(const Napi::Value& v, int64_t need, const char* what) { return reinterpret_cast<int32_t*>(F32(v, need, what)); }

// An optional relu(x * scale + shift) before the pooling: scale and shift both given or both null.
bool OptionalAffine(const Napi::Value& scale, const Napi::Value& shift, int64_t c, const char* what, AffineRelu* a) {
  const bool has = !scale.IsNull() && !scale.IsUndefined();
  if (has != (!shift.IsNull() && !shift.IsUndefined())) {
    throw Napi::Error::New(scale.Env(), std::string(what) + ": scale and shift must both be given or both be null");
  }
  if (has) *a = AffineRelu{F32(scale, c, what), F32(shift, c, what)};
  return has;
}

// maxPoolArgmax(shape, x, scale|null, shift|null, y, ws|null): max pooling with each window's
// argmax and input value in ws (twice y's length; null in inference); with scale and shift, of
// relu(x * scale + shift) per channel.
Napi::Value MaxArgmax(const Napi::CallbackInfo& info) {
  int64_t n;
  const PoolGeom g = Geometry(info[0], &n);
  const int64_t in_size = g.ih * g.iw * g.c, out_size = g.oh * g.ow * g.c;
  const float* x = F32(info[1], n * in_size, "maxPoolArgmax x");
  AffineRelu a{nullptr, nullptr};
  const bool affine = OptionalAffine(info[2], info[3], g.c, "maxPoolArgmax scale, shift", &a);
  float* y = F32(info[4], n * out_size, "maxPoolArgmax y");
  const bool with_ws = !info[5].IsNull() && !info[5].IsUndefined();
  int32_t* ws = with_ws ? Workspace(info[5], 2 * n * out_size, "maxPoolArgmax workspace") : nullptr;
  ParallelSpans(n, n * in_size, [&](int64_t b, int64_t e) {
    for (int64_t img = b; img < e; img++) {
      int32_t* wsi = ws ? ws + 2 * img * out_size : nullptr;
      if (affine) {
        MaxPoolArgmaxImage<true>(g, x + img * in_size, a, y + img * out_size, wsi);
      } else {
        MaxPoolArgmaxImage<false>(g, x + img * in_size, a, y + img * out_size, wsi);
      }
    }
  });
  return info.Env().Undefined();
}

// maxPoolScatter(shape, dy, ws, dx[, scale, shift]): the gradient from maxPoolArgmax's
// workspace; with scale and shift, masked where x * scale + shift <= 0 (a relu's gradient).
Napi::Value MaxScatter(const Napi::CallbackInfo& info) {
  int64_t n;
  const PoolGeom g = Geometry(info[0], &n);
  const int64_t in_size = g.ih * g.iw * g.c, out_size = g.oh * g.ow * g.c;
  const float* dy = F32(info[1], n * out_size, "maxPoolScatter dy");
  const int32_t* ws = Workspace(info[2], 2 * n * out_size, "maxPoolScatter workspace");
  float* dx = F32(info[3], n * in_size, "maxPoolScatter dx");
  AffineRelu a{nullptr, nullptr};
  const bool masked = info.Length() > 4 && OptionalAffine(info[4], info[5], g.c, "maxPoolScatter scale, shift", &a);
  ParallelSpans(n, n * in_size, [&](int64_t b, int64_t e) {
    for (int64_t img = b; img < e; img++)
      MaxPoolScatterImage(g, dy + img * out_size, ws + 2 * img * out_size, masked ? &a : nullptr, dx + img * in_size);
  });
  return info.Env().Undefined();
}

}  // namespace

void MaxPoolAffineReluImage(const PoolGeom& g, const float* x, const float* scale, const float* shift, float* y) {
  MaxPoolArgmaxImage<true>(g, x, AffineRelu{scale, shift}, y, nullptr);
}

PoolGeom Geometry(const Napi::Value& shape, int64_t* n) {
  const int32_t* p = Params(shape, kShapeLen, "pooling shape");
  *n = p[kPoolN];
  return PoolGeom{p[kPoolN] > 0 ? p[kPoolIh] : 0, p[kPoolIw], p[kPoolC], p[kPoolOh], p[kPoolOw], p[kPoolKh],
                  p[kPoolKw], p[kPoolSh], p[kPoolSw], p[kPoolPt], p[kPoolPl]};
}

void InitPool(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "poolForward", Forward);
  Export(env, exports, "avgPoolBackward", AvgBackward);
  Export(env, exports, "maxPoolBackward", MaxBackward);
  Export(env, exports, "maxPoolArgmax", MaxArgmax);
  Export(env, exports, "maxPoolScatter", MaxScatter);
}

}  // namespace tfe
