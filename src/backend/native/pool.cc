// 2-D pooling on NHWC buffers. Forward passes and average-pool gradients use oneDNN. The
// max-pool gradient has two forms: from oneDNN's workspace (the index of each window's
// maximum, one byte per output, written by a training forward pass: the layers' max pooling
// uses it), and a loop of our own for tfjs's MaxPoolGrad, which gets the input, not the
// workspace. Both take the first maximum of each window in row-major order, as tfjs's cpu
// kernel does.
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
  memory::desc src_md, dst_md, ws_md;
  dnnl::pooling_forward fwd, fwd_train;
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
  if (mode == kPoolMax) {
    pp->fwd_train = dnnl::pooling_forward(hint);
    pp->ws_md = hint.workspace_desc();
  }
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

// Floats that hold a max-pool workspace (opaque bytes to the caller).
int64_t WorkspaceFloats(const PoolPrims& p) { return static_cast<int64_t>((p.ws_md.get_size() + sizeof(float) - 1) / sizeof(float)); }

// maxPoolWorkspaceSize(shape): how many floats maxPoolTrain's workspace takes.
Napi::Value WorkspaceSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(WorkspaceFloats(GetPool(info[0], 0))));
}

// maxPoolTrain(shape, x, y, ws): the forward pass that also records each window's maximum.
Napi::Value MaxTrain(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], 0);
  CheckLen(info[1], Floats(p.src_md), "maxPoolTrain x");
  CheckLen(info[2], Floats(p.dst_md), "maxPoolTrain y");
  CheckLen(info[3], WorkspaceFloats(p), "maxPoolTrain workspace");
  p.fwd_train.execute(Strm(), {{DNNL_ARG_SRC, Wrap(p.src_md, F32(info[1]))},
                               {DNNL_ARG_DST, Wrap(p.dst_md, F32(info[2]))},
                               {DNNL_ARG_WORKSPACE, Wrap(p.ws_md, F32(info[3]))}});
  Strm().wait();
  return info.Env().Undefined();
}

// maxPoolBackwardWs(shape, dy, ws, dx): the gradient from maxPoolTrain's workspace.
Napi::Value MaxBackwardWs(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], 0);
  CheckLen(info[1], Floats(p.dst_md), "maxPoolBackwardWs dy");
  CheckLen(info[2], WorkspaceFloats(p), "maxPoolBackwardWs workspace");
  CheckLen(info[3], Floats(p.src_md), "maxPoolBackwardWs dx");
  p.bwd.execute(Strm(), {{DNNL_ARG_DIFF_DST, Wrap(p.dst_md, F32(info[1]))},
                         {DNNL_ARG_WORKSPACE, Wrap(p.ws_md, F32(info[2]))},
                         {DNNL_ARG_DIFF_SRC, Wrap(p.src_md, F32(info[3]))}});
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
  const int32_t* p = Params(info[0], kShapeLen, "pooling shape");
  const PoolGeom g{p[kPoolN] > 0 ? p[kPoolIh] : 0, p[kPoolIw], p[kPoolC], p[kPoolOh], p[kPoolOw], p[kPoolKh],
                   p[kPoolKw], p[kPoolSh], p[kPoolSw], p[kPoolPt], p[kPoolPl]};
  const int64_t n = p[kPoolN];
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

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "poolForward", Forward);
  Export(env, exports, "avgPoolBackward", AvgBackward);
  Export(env, exports, "maxPoolBackward", MaxBackward);
  Export(env, exports, "maxPoolWorkspaceSize", WorkspaceSize);
  Export(env, exports, "maxPoolTrain", MaxTrain);
  Export(env, exports, "maxPoolBackwardWs", MaxBackwardWs);
}

}  // namespace tfe
