// 2-D pooling on NHWC buffers. Forward passes and average-pool gradients use oneDNN; the
// max-pool gradient is a loop of our own: tfjs hands MaxPoolGrad the input, not oneDNN's
// workspace, and recomputing that workspace costs a whole extra forward pass. The loop finds
// the first maximum of each window in row-major order, as tfjs's cpu kernel does.
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

// n, ih, iw, c, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr
constexpr size_t kShapeLen = 14;

struct PoolPrims {
  memory::desc src_md, dst_md;
  dnnl::pooling_forward fwd;
  dnnl::pooling_backward bwd;
};
std::unordered_map<std::string, std::unique_ptr<PoolPrims>> g_pools;

// mode: 0 max, 1 average over valid inputs (tfjs's forward), 2 average over the whole window
// (tfjs's AvgPoolGrad divides so).
PoolPrims& GetPool(const Napi::Value& v, int mode) {
  const int32_t* p = Params(v, kShapeLen, "pooling shape");
  std::string key = std::to_string(mode);
  for (size_t i = 0; i < kShapeLen; i++) key += "," + std::to_string(p[i]);
  auto it = g_pools.find(key);
  if (it != g_pools.end()) return *it->second;
  auto pp = std::make_unique<PoolPrims>();
  pp->src_md = memory::desc({p[0], p[3], p[1], p[2]}, dt::f32, tag::nhwc);
  pp->dst_md = memory::desc({p[0], p[3], p[4], p[5]}, dt::f32, tag::nhwc);
  auto alg = mode == 0   ? dnnl::algorithm::pooling_max
             : mode == 1 ? dnnl::algorithm::pooling_avg_exclude_padding
                         : dnnl::algorithm::pooling_avg_include_padding;
  memory::dims strides{p[8], p[9]}, kernel{p[6], p[7]}, pl{p[10], p[11]}, pr{p[12], p[13]};
  auto fi = dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  pp->fwd = dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(fi, Eng()));
  if (mode != 0) {
    auto ft = dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
    auto hint = dnnl::pooling_forward::primitive_desc(ft, Eng());
    auto bd = dnnl::pooling_backward::desc(alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
    pp->bwd = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(bd, Eng(), hint));
  }
  auto& ref = *pp;
  g_pools.emplace(key, std::move(pp));
  return ref;
}

// poolForward(shape, mode, x, y)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], I32(info[1]));
  p.fwd.execute(Strm(), {{DNNL_ARG_SRC, Wrap(p.src_md, F32(info[2]))}, {DNNL_ARG_DST, Wrap(p.dst_md, F32(info[3]))}});
  Strm().wait();
  return info.Env().Undefined();
}

// avgPoolBackward(shape, mode, dy, dx)
Napi::Value AvgBackward(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], I32(info[1]));
  p.bwd.execute(Strm(), {{DNNL_ARG_DIFF_DST, Wrap(p.dst_md, F32(info[2]))}, {DNNL_ARG_DIFF_SRC, Wrap(p.src_md, F32(info[3]))}});
  Strm().wait();
  return info.Env().Undefined();
}

struct PoolGeom {
  int64_t ih, iw, c, oh, ow;
  int kh, kw, sh, sw, pt, pl;
};

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

// The max-pool gradient of one image over channels [c0, c0 + 8): each window's first maximum
// (strictly greater wins, row-major order) per channel, then dy added at that position. The
// 8 channels are contiguous, so both passes are plain vector operations.
TFE_VECTOR_CLONES void MaxPoolGradBlock8(const PoolGeom& g, const float* __restrict x, const float* __restrict dy,
                                          float* __restrict dx) {
  const F8 zero = {};
  for (int64_t r = 0; r < g.ih * g.iw; r++) Store(dx + r * g.c, zero);
  for (int64_t y = 0; y < g.oh; y++) {
    const int64_t h0 = y * g.sh - g.pt, hs = std::max<int64_t>(0, h0), he = std::min<int64_t>(g.ih, h0 + g.kh);
    for (int64_t xo = 0; xo < g.ow; xo++) {
      const int64_t w0 = xo * g.sw - g.pl, ws = std::max<int64_t>(0, w0), we = std::min<int64_t>(g.iw, w0 + g.kw);
      F8 best = zero - std::numeric_limits<float>::infinity();
      I8 at = I8{} - 1;
      for (int64_t h = hs; h < he; h++)
        for (int64_t w = ws; w < we; w++) {
          const int32_t pos = static_cast<int32_t>(h * g.iw + w);
          const F8 v = Load(x + pos * g.c);
          const I8 gt = v > best;
          best = gt ? v : best;
          at = gt ? (I8{} + pos) : at;
        }
      const F8 grad = Load(dy + (y * g.ow + xo) * g.c);
      for (int64_t h = hs; h < he; h++)
        for (int64_t w = ws; w < we; w++) {
          const int32_t pos = static_cast<int32_t>(h * g.iw + w);
          float* d = dx + pos * g.c;
          Store(d, Load(d) + (at == pos ? grad : zero));
        }
    }
  }
}

// The same for a last block narrower than 8 channels.
void MaxPoolGradBlockN(const PoolGeom& g, const float* x, const float* dy, float* dx, int cw) {
  for (int64_t r = 0; r < g.ih * g.iw; r++)
    for (int j = 0; j < cw; j++) dx[r * g.c + j] = 0.f;
  for (int64_t y = 0; y < g.oh; y++) {
    const int64_t h0 = y * g.sh - g.pt, hs = std::max<int64_t>(0, h0), he = std::min<int64_t>(g.ih, h0 + g.kh);
    for (int64_t xo = 0; xo < g.ow; xo++) {
      const int64_t w0 = xo * g.sw - g.pl, ws = std::max<int64_t>(0, w0), we = std::min<int64_t>(g.iw, w0 + g.kw);
      for (int j = 0; j < cw; j++) {
        float best = -std::numeric_limits<float>::infinity();
        int64_t at = -1;
        for (int64_t h = hs; h < he; h++)
          for (int64_t w = ws; w < we; w++) {
            const float v = x[(h * g.iw + w) * g.c + j];
            if (v > best) best = v, at = h * g.iw + w;
          }
        if (at >= 0) dx[at * g.c + j] += dy[(y * g.ow + xo) * g.c + j];
      }
    }
  }
}

// maxPoolBackward(shape, x, dy, dx). Work is split over (image, block of 8 channels):
// windows overlap in space, never across channels.
Napi::Value MaxBackward(const Napi::CallbackInfo& info) {
  const int32_t* p = Params(info[0], kShapeLen, "pooling shape");
  const PoolGeom g{p[0] > 0 ? p[1] : 0, p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
  const int64_t n = p[0];
  const float* x = F32(info[1]);
  const float* dy = F32(info[2]);
  float* dx = F32(info[3]);
  constexpr int W = 8;
  const int64_t blocks = (g.c + W - 1) / W;
  ParallelSpans(n * blocks, n * g.ih * g.iw * g.c, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const int64_t img = t / blocks, c0 = (t % blocks) * W;
      const float* xi = x + img * g.ih * g.iw * g.c + c0;
      const float* dyi = dy + img * g.oh * g.ow * g.c + c0;
      float* dxi = dx + img * g.ih * g.iw * g.c + c0;
      if (g.c - c0 >= W) {
        MaxPoolGradBlock8(g, xi, dyi, dxi);
      } else {
        MaxPoolGradBlockN(g, xi, dyi, dxi, static_cast<int>(g.c - c0));
      }
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "poolForward", Forward);
  Export(env, exports, "avgPoolBackward", AvgBackward);
  Export(env, exports, "maxPoolBackward", MaxBackward);
}

}  // namespace tfe
