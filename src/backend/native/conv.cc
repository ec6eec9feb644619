// Convolutions (plain and grouped/depthwise) over oneDNN: forward with bias and activation
// post-ops, backward data and backward weights. Activations are NHWC in the caller's buffers;
// weights are reordered on each call from tfjs's HWIO layout into the one oneDNN prefers for
// the shape (blocked layouts run 2-3x faster), which costs little next to the convolution.
#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "common.h"

namespace tfe {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// The shape array's fields: ConvShapeField (op-codes.json).
constexpr size_t kShapeLen = kConvShapeLen;
struct ConvShape {
  int n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
  // Elements of the NHWC input and output, and of the HWIO filter (per group: ic/groups inputs).
  int64_t SrcLen() const { return int64_t{n} * ih * iw * ic; }
  int64_t DstLen() const { return int64_t{n} * oh * ow * oc; }
  int64_t WeightsLen() const { return int64_t{kh} * kw * (groups > 0 ? ic / groups : 0) * oc; }
};

ConvShape ReadShape(const Napi::Value& v) {
  const int32_t* p = Params(v, kShapeLen, "convolution shape");
  return ConvShape{p[kConvN], p[kConvIh], p[kConvIw], p[kConvIc], p[kConvOh], p[kConvOw], p[kConvOc], p[kConvKh], p[kConvKw],
                   p[kConvSh], p[kConvSw], p[kConvDh], p[kConvDw], p[kConvPt], p[kConvPl], p[kConvPb], p[kConvPr], p[kConvGroups]};
}

std::string Key(const Napi::Value& v, const std::string& suffix) {
  const int32_t* p = Params(v, kShapeLen, "convolution shape");
  std::string k;
  for (size_t i = 0; i < kShapeLen; i++) k += std::to_string(p[i]) + ",";
  return k + suffix;
}

// Reorders between a caller's buffer (plain layout) and a primitive's preferred layout.
struct Relayout {
  bool needed = false;
  memory user, prim;
  dnnl::reorder r;
  void Init(const memory::desc& user_md, const memory::desc& prim_md, bool to_prim) {
    needed = user_md != prim_md;
    if (!needed) return;
    user = memory(user_md, Eng(), nullptr);
    prim = memory(prim_md, Eng());
    r = to_prim ? dnnl::reorder(user, prim) : dnnl::reorder(prim, user);
  }
  // The input to hand the primitive: the caller's buffer itself, or its reordered copy.
  memory In(const memory::desc& user_md, float* data) {
    if (!needed) return Wrap(user_md, data);
    user.set_data_handle(data);
    r.execute(Strm(), user, prim);
    return prim;
  }
  // Where the primitive writes an output: the caller's buffer itself, or the copy that Out
  // reorders into it afterwards.
  memory OutTarget(const memory::desc& user_md, float* data) { return needed ? prim : Wrap(user_md, data); }
  void Out(float* data) {
    if (!needed) return;
    user.set_data_handle(data);
    r.execute(Strm(), prim, user);
  }
};

// Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3, blocked activations) for 3x3 stride-1
// convolutions of whole 16-channel blocks: on the article's second layer (batch 64, 32 -> 64
// channels, 2 threads) forward 0.50 -> 0.34 ms and input gradient 0.54 -> 0.44 ms, plus
// 0.03 ms to reorder the activations from and to NHWC; errors ~1e-6 of the largest output
// (direct: ~4e-7). The filter gradient stays direct (0.49 vs 0.44 + reorders). Shapes the
// library declines run direct; TFJS_ESTIMATOR_WINOGRAD=0 turns it off.
bool WinogradWanted(const ConvShape& s) {
  static const bool on = [] {
    const char* v = std::getenv("TFJS_ESTIMATOR_WINOGRAD");
    return !v || std::atoi(v) != 0;
  }();
  return on && s.groups == 1 && s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
}

struct ConvPrims {
  ConvShape s;
  bool has_bias;
  bool wino = false;
  memory::desc src_md, dst_md, w_user_md, w_any_md, b_md;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  Relayout fwd_w, fwd_src, fwd_dst;
  bool bwd_data_ready = false;
  dnnl::convolution_backward_data bd;
  Relayout bd_w, bd_dy, bd_dx;
  bool bwd_w_ready = false;
  dnnl::convolution_backward_weights bw;
  Relayout bw_w;

  ConvPrims(const ConvShape& sh, bool bias, int act, float alpha) : s(sh), has_bias(bias) {
    src_md = memory::desc({s.n, s.ic, s.ih, s.iw}, dt::f32, tag::nhwc);
    dst_md = memory::desc({s.n, s.oc, s.oh, s.ow}, dt::f32, tag::nhwc);
    b_md = memory::desc({s.oc}, dt::f32, tag::x);
    if (s.groups == 1) {
      w_user_md = memory::desc({s.oc, s.ic, s.kh, s.kw}, dt::f32, tag::hwio);
      w_any_md = memory::desc({s.oc, s.ic, s.kh, s.kw}, dt::f32, tag::any);
    } else {
      // tfjs's depthwise filter [kh, kw, in, multiplier] as oneDNN's [groups, oc/g, ic/g, kh, kw].
      const int g = s.groups, m = s.oc / g, i = s.ic / g;
      w_user_md = memory::desc({g, m, i, s.kh, s.kw}, dt::f32,
                               memory::dims{m * i, 1, m, s.kw * s.ic * m, s.ic * m});
      w_any_md = memory::desc({g, m, i, s.kh, s.kw}, dt::f32, tag::any);
    }
    if (WinogradWanted(s)) {
      try {
        fwd_pd = FwdDesc(dnnl::algorithm::convolution_winograd, AnyLayout(src_md), AnyLayout(dst_md), act, alpha);
        wino = true;
      } catch (const dnnl::error&) {
        // not a shape (or post-op, or CPU) the Winograd kernel takes: direct below
      }
    }
    if (!wino) fwd_pd = FwdDesc(dnnl::algorithm::convolution_direct, src_md, dst_md, act, alpha);
    fwd = dnnl::convolution_forward(fwd_pd);
    fwd_w.Init(w_user_md, fwd_pd.weights_desc(), true);
    fwd_src.Init(src_md, fwd_pd.src_desc(), true);
    fwd_dst.Init(dst_md, fwd_pd.dst_desc(), false);
  }
  static memory::desc AnyLayout(const memory::desc& md) { return memory::desc(md.dims(), dt::f32, tag::any); }
  dnnl::convolution_forward::primitive_desc FwdDesc(dnnl::algorithm alg, const memory::desc& src, const memory::desc& dst, int act,
                                                    float alpha) const {
    auto d = has_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, w_any_md, b_md, dst, Strides(),
                                                        Dil(), PadL(), PadR())
                      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, w_any_md, dst, Strides(), Dil(),
                                                        PadL(), PadR());
    return dnnl::convolution_forward::primitive_desc(d, ActivationAttr(act, alpha), Eng());
  }
  // The hint for the direct gradients: the forward pass they belong to, in its direct form.
  dnnl::convolution_forward::primitive_desc DirectHint() const {
    return wino ? FwdDesc(dnnl::algorithm::convolution_direct, src_md, dst_md, kLinear, 0.f) : fwd_pd;
  }
  memory::dims Strides() const { return {s.sh, s.sw}; }
  memory::dims Dil() const { return {s.dh - 1, s.dw - 1}; }  // oneDNN counts the extra gaps
  memory::dims PadL() const { return {s.pt, s.pl}; }
  memory::dims PadR() const { return {s.pb, s.pr}; }

  void EnsureBwdData() {
    if (bwd_data_ready) return;
    dnnl::convolution_backward_data::primitive_desc pd;
    bool done = false;
    if (wino) {
      try {
        auto d = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_winograd, AnyLayout(src_md), w_any_md,
                                                       AnyLayout(dst_md), Strides(), Dil(), PadL(), PadR());
        pd = dnnl::convolution_backward_data::primitive_desc(d, Eng(), fwd_pd);
        done = true;
      } catch (const dnnl::error&) {
        // direct below
      }
    }
    if (!done) {
      auto d = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src_md, w_any_md, dst_md, Strides(),
                                                     Dil(), PadL(), PadR());
      pd = dnnl::convolution_backward_data::primitive_desc(d, Eng(), DirectHint());
    }
    bd = dnnl::convolution_backward_data(pd);
    bd_w.Init(w_user_md, pd.weights_desc(), true);
    bd_dy.Init(dst_md, pd.diff_dst_desc(), true);
    bd_dx.Init(src_md, pd.diff_src_desc(), false);
    bwd_data_ready = true;
  }
  // (oneDNN can add the bias gradient to this pass, but for one input channel that ran 2x
  // slower than a separate sum.)
  void EnsureBwdWeights() {
    if (bwd_w_ready) return;
    auto d = dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_md, w_any_md, dst_md,
                                                      Strides(), Dil(), PadL(), PadR());
    auto pd = dnnl::convolution_backward_weights::primitive_desc(d, Eng(), DirectHint());
    bw = dnnl::convolution_backward_weights(pd);
    bw_w.Init(w_user_md, pd.diff_weights_desc(), false);
    bwd_w_ready = true;
  }
};

std::unordered_map<std::string, std::unique_ptr<ConvPrims>> g_convs;

ConvPrims& GetConv(const Napi::Value& shape, bool bias, int act, float alpha) {
  std::string key = Key(shape, std::to_string(bias) + "," + std::to_string(act) + "," + std::to_string(alpha));
  auto it = g_convs.find(key);
  if (it != g_convs.end()) return *it->second;
  auto p = std::make_unique<ConvPrims>(ReadShape(shape), bias, act, alpha);
  auto& ref = *p;
  g_convs.emplace(key, std::move(p));
  return ref;
}

// conv2dForward(shape, x, w, bias|null, activation, alpha, out)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  const ConvShape s = ReadShape(info[0]);
  float* x = F32(info[1], s.SrcLen(), "conv2dForward x");
  float* w = F32(info[2], s.WeightsLen(), "conv2dForward w");
  float* bias = F32OrNull(info[3], s.oc, "conv2dForward bias");
  float* out = F32(info[6], s.DstLen(), "conv2dForward out");
  if (DirectConvForward(Params(info[0], kShapeLen, "convolution shape"), x, w, bias, I32(info[4]), Flt(info[5]), out)) {
    return info.Env().Undefined();
  }
  auto& c = GetConv(info[0], bias != nullptr, I32(info[4]), Flt(info[5]));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, c.fwd_src.In(c.src_md, x)},
                                       {DNNL_ARG_WEIGHTS, c.fwd_w.In(c.w_user_md, w)},
                                       {DNNL_ARG_DST, c.fwd_dst.OutTarget(c.dst_md, out)}};
  if (bias) args.insert({DNNL_ARG_BIAS, Wrap(c.b_md, bias)});
  c.fwd.execute(Strm(), args);
  c.fwd_dst.Out(out);
  Strm().wait();
  return info.Env().Undefined();
}

// conv2dBackpropInput(shape, dy, w, dx)
Napi::Value BackpropInput(const Napi::CallbackInfo& info) {
  const ConvShape s = ReadShape(info[0]);
  float* dy = F32(info[1], s.DstLen(), "conv2dBackpropInput dy");
  float* w = F32(info[2], s.WeightsLen(), "conv2dBackpropInput w");
  float* dx = F32(info[3], s.SrcLen(), "conv2dBackpropInput dx");
  auto& c = GetConv(info[0], false, kLinear, 0.f);
  c.EnsureBwdData();
  c.bd.execute(Strm(), {{DNNL_ARG_DIFF_DST, c.bd_dy.In(c.dst_md, dy)},
                        {DNNL_ARG_WEIGHTS, c.bd_w.In(c.w_user_md, w)},
                        {DNNL_ARG_DIFF_SRC, c.bd_dx.OutTarget(c.src_md, dx)}});
  c.bd_dx.Out(dx);
  Strm().wait();
  return info.Env().Undefined();
}

// conv2dBackpropFilter(shape, x, dy, dw)
Napi::Value BackpropFilter(const Napi::CallbackInfo& info) {
  const ConvShape s = ReadShape(info[0]);
  float* x = F32(info[1], s.SrcLen(), "conv2dBackpropFilter x");
  float* dy = F32(info[2], s.DstLen(), "conv2dBackpropFilter dy");
  float* dw_data = F32(info[3], s.WeightsLen(), "conv2dBackpropFilter dw");
  if (DirectConvFilterGrad(Params(info[0], kShapeLen, "convolution shape"), x, dy, dw_data)) return info.Env().Undefined();
  auto& c = GetConv(info[0], false, kLinear, 0.f);
  c.EnsureBwdWeights();
  memory dw_user = Wrap(c.w_user_md, dw_data);
  memory dw = c.bw_w.needed ? c.bw_w.prim : dw_user;
  c.bw.execute(Strm(), {{DNNL_ARG_SRC, Wrap(c.src_md, x)},
                        {DNNL_ARG_DIFF_DST, Wrap(c.dst_md, dy)},
                        {DNNL_ARG_DIFF_WEIGHTS, dw}});
  if (c.bw_w.needed) c.bw_w.r.execute(Strm(), c.bw_w.prim, dw_user);
  Strm().wait();
  return info.Env().Undefined();
}

// convImpl(shape): the implementation that runs the forward pass, "direct" (conv-direct.cc) or
// the one oneDNN chose (benchmarks, tests).
Napi::Value Impl(const Napi::CallbackInfo& info) {
  if (DirectConvApplies(Params(info[0], kShapeLen, "convolution shape"))) return Napi::String::New(info.Env(), "direct");
  auto& c = GetConv(info[0], false, kLinear, 0.f);
  return Napi::String::New(info.Env(), c.fwd_pd.impl_info_str());
}

// setConvDirect(mode): SetDirectConvMode (benchmarks against oneDNN in one process, tests).
Napi::Value SetDirect(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), SetDirectConvMode(I32(info[0]))); }

}  // namespace

size_t CachedConvolutions() { return g_convs.size(); }

void InitConv(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "conv2dForward", Forward);
  Export(env, exports, "conv2dBackpropInput", BackpropInput);
  Export(env, exports, "conv2dBackpropFilter", BackpropFilter);
  Export(env, exports, "convImpl", Impl);
  Export(env, exports, "setConvDirect", SetDirect);
}

}  // namespace tfe
