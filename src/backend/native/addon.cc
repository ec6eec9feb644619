// N-API addon: oneDNN primitives for the hot training kernels of the `native` tfjs backend.
// TypeScript hands over the cpu backend's Float32Arrays (NHWC activations, HWIO filters) and
// receives results written in place. Primitives are built once per shape and cached: building
// one costs more than running it. Filters are reordered into whatever layout oneDNN picks for
// the shape (blocked layouts run 2-3x faster than plain HWIO).
#include <napi.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

engine& Eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
stream& Strm() {
  static stream s(Eng());
  return s;
}

float* F32(const Napi::Value& v) {
  auto a = v.As<Napi::Float32Array>();
  return a.Data();
}

// ---------------------------------------------------------------- convolution

struct ConvShape {
  int n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  std::string Key() const {
    char buf[256];
    snprintf(buf, sizeof buf, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", n, ih, iw, ic, oh, ow, oc, kh,
             kw, sh, sw, dh, dw, pt, pl, pb, pr);
    return buf;
  }
};

// Reorders between a user buffer (plain layout) and a primitive's preferred layout, cached.
struct Relayout {
  bool needed = false;
  memory user, prim;
  reorder r;
  void Init(const memory::desc& user_md, const memory::desc& prim_md, bool to_prim) {
    needed = user_md != prim_md;
    if (!needed) return;
    user = memory(user_md, Eng(), nullptr);
    prim = memory(prim_md, Eng());
    r = to_prim ? reorder(user, prim) : reorder(prim, user);
  }
};

struct ConvPrims {
  ConvShape s;
  bool has_bias, relu;
  memory::desc src_md, dst_md, w_user_md, b_md;
  convolution_forward::primitive_desc fwd_pd;
  convolution_forward fwd;
  Relayout fwd_w;
  bool bwd_data_ready = false, bwd_w_ready = false;
  convolution_backward_data::primitive_desc bd_pd;
  convolution_backward_data bd;
  Relayout bd_w;
  convolution_backward_weights::primitive_desc bw_pd;
  convolution_backward_weights bw;
  Relayout bw_w;

  ConvPrims(const ConvShape& sh, bool bias, bool relu_) : s(sh), has_bias(bias), relu(relu_) {
    src_md = memory::desc({s.n, s.ic, s.ih, s.iw}, dt::f32, tag::nhwc);
    dst_md = memory::desc({s.n, s.oc, s.oh, s.ow}, dt::f32, tag::nhwc);
    w_user_md = memory::desc({s.oc, s.ic, s.kh, s.kw}, dt::f32, tag::hwio);
    b_md = memory::desc({s.oc}, dt::f32, tag::x);
    auto w_any = memory::desc({s.oc, s.ic, s.kh, s.kw}, dt::f32, tag::any);
    primitive_attr attr;
    if (relu) {
      post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    auto d = has_bias ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_md,
                                                  w_any, b_md, dst_md, Strides(), Dil(), PadL(), PadR())
                      : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_md,
                                                  w_any, dst_md, Strides(), Dil(), PadL(), PadR());
    fwd_pd = convolution_forward::primitive_desc(d, attr, Eng());
    fwd = convolution_forward(fwd_pd);
    fwd_w.Init(w_user_md, fwd_pd.weights_desc(), true);
  }
  memory::dims Strides() const { return {s.sh, s.sw}; }
  memory::dims Dil() const { return {s.dh - 1, s.dw - 1}; }  // oneDNN counts extra gaps
  memory::dims PadL() const { return {s.pt, s.pl}; }
  memory::dims PadR() const { return {s.pb, s.pr}; }

  void EnsureBwdData() {
    if (bwd_data_ready) return;
    auto w_any = memory::desc({s.oc, s.ic, s.kh, s.kw}, dt::f32, tag::any);
    auto d = convolution_backward_data::desc(algorithm::convolution_direct, src_md, w_any, dst_md, Strides(), Dil(),
                                             PadL(), PadR());
    bd_pd = convolution_backward_data::primitive_desc(d, Eng(), fwd_pd);
    bd = convolution_backward_data(bd_pd);
    bd_w.Init(w_user_md, bd_pd.weights_desc(), true);
    bwd_data_ready = true;
  }
  void EnsureBwdWeights() {
    if (bwd_w_ready) return;
    auto w_any = memory::desc({s.oc, s.ic, s.kh, s.kw}, dt::f32, tag::any);
    auto d = convolution_backward_weights::desc(algorithm::convolution_direct, src_md, w_any, dst_md, Strides(),
                                                Dil(), PadL(), PadR());
    bw_pd = convolution_backward_weights::primitive_desc(d, Eng(), fwd_pd);
    bw = convolution_backward_weights(bw_pd);
    bw_w.Init(w_user_md, bw_pd.diff_weights_desc(), false);
    bwd_w_ready = true;
  }
};

std::unordered_map<std::string, std::unique_ptr<ConvPrims>> g_convs;

ConvShape ReadShape(const Napi::Value& v) {
  auto a = v.As<Napi::Int32Array>();
  if (a.ElementLength() != 17) throw Napi::Error::New(v.Env(), "conv shape must have 17 ints");
  const int32_t* p = a.Data();
  return ConvShape{p[0], p[1], p[2],  p[3],  p[4],  p[5],  p[6],  p[7], p[8],
                   p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16]};
}

ConvPrims& GetConv(const ConvShape& s, bool bias, bool relu) {
  std::string key = s.Key() + (bias ? "b" : "") + (relu ? "r" : "");
  auto it = g_convs.find(key);
  if (it != g_convs.end()) return *it->second;
  auto p = std::make_unique<ConvPrims>(s, bias, relu);
  auto& ref = *p;
  g_convs.emplace(key, std::move(p));
  return ref;
}

memory Wrap(const memory::desc& md, void* ptr) { return memory(md, Eng(), ptr); }

// conv2dForward(shape, x, w, bias|null, relu, out)
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  auto s = ReadShape(info[0]);
  bool has_bias = !info[3].IsNull() && !info[3].IsUndefined();
  bool relu = info[4].As<Napi::Boolean>();
  auto& c = GetConv(s, has_bias, relu);
  memory w_user = Wrap(c.w_user_md, F32(info[2]));
  memory w = w_user;
  if (c.fwd_w.needed) {
    c.fwd_w.user.set_data_handle(F32(info[2]));
    c.fwd_w.r.execute(Strm(), c.fwd_w.user, c.fwd_w.prim);
    w = c.fwd_w.prim;
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, Wrap(c.src_md, F32(info[1]))},
                                       {DNNL_ARG_WEIGHTS, w},
                                       {DNNL_ARG_DST, Wrap(c.dst_md, F32(info[5]))}};
  if (has_bias) args.insert({DNNL_ARG_BIAS, Wrap(c.b_md, F32(info[3]))});
  c.fwd.execute(Strm(), args);
  Strm().wait();
  return info.Env().Undefined();
}

// conv2dBackpropInput(shape, dy, w, dx)
Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  auto s = ReadShape(info[0]);
  auto& c = GetConv(s, false, false);
  c.EnsureBwdData();
  memory w = Wrap(c.w_user_md, F32(info[2]));
  if (c.bd_w.needed) {
    c.bd_w.user.set_data_handle(F32(info[2]));
    c.bd_w.r.execute(Strm(), c.bd_w.user, c.bd_w.prim);
    w = c.bd_w.prim;
  }
  c.bd.execute(Strm(), {{DNNL_ARG_DIFF_DST, Wrap(c.dst_md, F32(info[1]))},
                        {DNNL_ARG_WEIGHTS, w},
                        {DNNL_ARG_DIFF_SRC, Wrap(c.src_md, F32(info[3]))}});
  Strm().wait();
  return info.Env().Undefined();
}

// conv2dBackpropFilter(shape, x, dy, dw)
Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  auto s = ReadShape(info[0]);
  auto& c = GetConv(s, false, false);
  c.EnsureBwdWeights();
  memory dw_user = Wrap(c.w_user_md, F32(info[3]));
  memory dw = c.bw_w.needed ? c.bw_w.prim : dw_user;
  c.bw.execute(Strm(), {{DNNL_ARG_SRC, Wrap(c.src_md, F32(info[1]))},
                        {DNNL_ARG_DIFF_DST, Wrap(c.dst_md, F32(info[2]))},
                        {DNNL_ARG_DIFF_WEIGHTS, dw}});
  if (c.bw_w.needed) {
    c.bw_w.user.set_data_handle(F32(info[3]));
    c.bw_w.r.execute(Strm(), c.bw_w.prim, c.bw_w.user);
  }
  Strm().wait();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- pooling

struct PoolPrims {
  memory::desc src_md, dst_md;
  pooling_forward::primitive_desc fwd_pd;
  pooling_forward fwd_inf, fwd_train;
  pooling_backward::primitive_desc bwd_pd;
  pooling_backward bwd;
  memory ws;
  bool is_max;
};
std::unordered_map<std::string, std::unique_ptr<PoolPrims>> g_pools;

// shape: n, ih, iw, c, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr. mode: 0 max, 1 average over
// valid inputs (tfjs's forward), 2 average over the whole window (tfjs's AvgPoolGrad divides so).
PoolPrims& GetPool(const Napi::Value& v, int mode) {
  const bool is_max = mode == 0;
  auto a = v.As<Napi::Int32Array>();
  const int32_t* p = a.Data();
  std::string key = std::to_string(mode);
  for (size_t i = 0; i < 14; i++) key += "," + std::to_string(p[i]);
  auto it = g_pools.find(key);
  if (it != g_pools.end()) return *it->second;
  auto pp = std::make_unique<PoolPrims>();
  pp->is_max = is_max;
  pp->src_md = memory::desc({p[0], p[3], p[1], p[2]}, dt::f32, tag::nhwc);
  pp->dst_md = memory::desc({p[0], p[3], p[4], p[5]}, dt::f32, tag::nhwc);
  auto alg = is_max ? algorithm::pooling_max
                    : mode == 1 ? algorithm::pooling_avg_exclude_padding : algorithm::pooling_avg_include_padding;
  memory::dims strides{p[8], p[9]}, kernel{p[6], p[7]}, pl{p[10], p[11]}, pr{p[12], p[13]};
  auto fd = pooling_forward::desc(prop_kind::forward_training, alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  pp->fwd_pd = pooling_forward::primitive_desc(fd, Eng());
  pp->fwd_train = pooling_forward(pp->fwd_pd);
  auto fi = pooling_forward::desc(prop_kind::forward_inference, alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  pp->fwd_inf = pooling_forward(pooling_forward::primitive_desc(fi, Eng()));
  auto bd = pooling_backward::desc(alg, pp->src_md, pp->dst_md, strides, kernel, pl, pr);
  pp->bwd_pd = pooling_backward::primitive_desc(bd, Eng(), pp->fwd_pd);
  pp->bwd = pooling_backward(pp->bwd_pd);
  if (is_max) pp->ws = memory(pp->fwd_pd.workspace_desc(), Eng());
  auto& ref = *pp;
  g_pools.emplace(key, std::move(pp));
  return ref;
}

// poolForward(shape, mode, x, y)
Napi::Value PoolForward(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], info[1].As<Napi::Number>().Int32Value());
  p.fwd_inf.execute(Strm(), {{DNNL_ARG_SRC, Wrap(p.src_md, F32(info[2]))}, {DNNL_ARG_DST, Wrap(p.dst_md, F32(info[3]))}});
  Strm().wait();
  return info.Env().Undefined();
}

// poolBackward(shape, mode, x, dy, dx, scratchY): max pooling recomputes its workspace from x.
Napi::Value PoolBackward(const Napi::CallbackInfo& info) {
  auto& p = GetPool(info[0], info[1].As<Napi::Number>().Int32Value());
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, Wrap(p.dst_md, F32(info[3]))},
                                       {DNNL_ARG_DIFF_SRC, Wrap(p.src_md, F32(info[4]))}};
  if (p.is_max) {
    p.fwd_train.execute(Strm(), {{DNNL_ARG_SRC, Wrap(p.src_md, F32(info[2]))},
                                 {DNNL_ARG_DST, Wrap(p.dst_md, F32(info[5]))},
                                 {DNNL_ARG_WORKSPACE, p.ws}});
    args.insert({DNNL_ARG_WORKSPACE, p.ws});
  }
  p.bwd.execute(Strm(), args);
  Strm().wait();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- batch norm (training)
// Plain loops over an NHWC tensor seen as [rows, C]: oneDNN's batch norm picks a slow
// reference implementation for this layout, and these passes are memory-bound anyway.

// bnForwardTraining(rows, c, eps, x, gamma, beta, y, mean, variance): batch statistics, biased variance.
Napi::Value BnForwardTraining(const Napi::CallbackInfo& info) {
  const int64_t rows = info[0].As<Napi::Number>().Int64Value();
  const int c = info[1].As<Napi::Number>().Int32Value();
  const float eps = info[2].As<Napi::Number>().FloatValue();
  const float* x = F32(info[3]);
  const float* gamma = F32(info[4]);
  const float* beta = F32(info[5]);
  float* y = F32(info[6]);
  float* mean = F32(info[7]);
  float* var = F32(info[8]);
  std::vector<double> sum(c, 0.0), sq(c, 0.0);
#pragma omp parallel
  {
    std::vector<double> ls(c, 0.0), lq(c, 0.0);
#pragma omp for nowait
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = x + r * c;
      for (int j = 0; j < c; j++) {
        ls[j] += xr[j];
        lq[j] += double(xr[j]) * xr[j];
      }
    }
#pragma omp critical
    for (int j = 0; j < c; j++) {
      sum[j] += ls[j];
      sq[j] += lq[j];
    }
  }
  std::vector<float> scale(c), shift(c);
  for (int j = 0; j < c; j++) {
    double m = sum[j] / rows;
    double v = std::max(0.0, sq[j] / rows - m * m);
    mean[j] = float(m);
    var[j] = float(v);
    scale[j] = float(gamma[j] / std::sqrt(v + eps));
    shift[j] = float(beta[j] - m * scale[j]);
  }
#pragma omp parallel for
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    for (int j = 0; j < c; j++) yr[j] = xr[j] * scale[j] + shift[j];
  }
  return info.Env().Undefined();
}

// bnBackward(rows, c, eps, x, dy, mean, variance, gamma, dx, dgamma, dbeta)
Napi::Value BnBackward(const Napi::CallbackInfo& info) {
  const int64_t rows = info[0].As<Napi::Number>().Int64Value();
  const int c = info[1].As<Napi::Number>().Int32Value();
  const float eps = info[2].As<Napi::Number>().FloatValue();
  const float* x = F32(info[3]);
  const float* dy = F32(info[4]);
  const float* mean = F32(info[5]);
  const float* var = F32(info[6]);
  const float* gamma = F32(info[7]);
  float* dx = F32(info[8]);
  float* dgamma = F32(info[9]);
  float* dbeta = F32(info[10]);
  std::vector<float> inv(c);
  for (int j = 0; j < c; j++) inv[j] = 1.f / std::sqrt(var[j] + eps);
  std::vector<double> sdy(c, 0.0), sdyx(c, 0.0);
#pragma omp parallel
  {
    std::vector<double> a(c, 0.0), b(c, 0.0);
#pragma omp for nowait
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = x + r * c;
      const float* dr = dy + r * c;
      for (int j = 0; j < c; j++) {
        a[j] += dr[j];
        b[j] += dr[j] * (xr[j] - mean[j]);
      }
    }
#pragma omp critical
    for (int j = 0; j < c; j++) {
      sdy[j] += a[j];
      sdyx[j] += b[j];
    }
  }
  // dx = gamma * inv / N * (N dy - sum(dy) - xhat * sum(dy xhat))
  std::vector<float> k1(c), k2(c), k3(c);
  for (int j = 0; j < c; j++) {
    dbeta[j] = float(sdy[j]);
    dgamma[j] = float(sdyx[j] * inv[j]);
    k1[j] = gamma[j] * inv[j];
    k2[j] = float(k1[j] * sdy[j] / rows);
    k3[j] = float(k1[j] * sdyx[j] * inv[j] * inv[j] / rows);
  }
#pragma omp parallel for
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    const float* dr = dy + r * c;
    float* o = dx + r * c;
    for (int j = 0; j < c; j++) o[j] = k1[j] * dr[j] - k2[j] - (xr[j] - mean[j]) * k3[j];
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- element-wise and reductions

// reduceSum(outer, reduce, inner, x, out): x viewed as [outer, reduce, inner], summed over the middle.
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  const int64_t outer = info[0].As<Napi::Number>().Int64Value();
  const int64_t red = info[1].As<Napi::Number>().Int64Value();
  const int64_t inner = info[2].As<Napi::Number>().Int64Value();
  const float* x = F32(info[3]);
  float* out = F32(info[4]);
  if (inner == 1) {
#pragma omp parallel for if (outer > 1)
    for (int64_t o = 0; o < outer; o++) {
      double s = 0;
      const float* xr = x + o * red;
      for (int64_t r = 0; r < red; r++) s += xr[r];
      out[o] = float(s);
    }
    return info.Env().Undefined();
  }
  for (int64_t o = 0; o < outer; o++) {
    float* dst = out + o * inner;
    std::vector<double> acc(inner, 0.0);
    const float* base = x + o * red * inner;
#pragma omp parallel
    {
      std::vector<double> local(inner, 0.0);
#pragma omp for nowait
      for (int64_t r = 0; r < red; r++) {
        const float* row = base + r * inner;
        for (int64_t i = 0; i < inner; i++) local[i] += row[i];
      }
#pragma omp critical
      for (int64_t i = 0; i < inner; i++) acc[i] += local[i];
    }
    for (int64_t i = 0; i < inner; i++) dst[i] = float(acc[i]);
  }
  return info.Env().Undefined();
}

// broadcastMiddle(outer, reduce, inner, scale, src, out): out[o, r, i] = src[o, i] * scale
// (the gradient of a mean or sum over a contiguous block of axes).
Napi::Value BroadcastMiddle(const Napi::CallbackInfo& info) {
  const int64_t outer = info[0].As<Napi::Number>().Int64Value();
  const int64_t red = info[1].As<Napi::Number>().Int64Value();
  const int64_t inner = info[2].As<Napi::Number>().Int64Value();
  const float scale = info[3].As<Napi::Number>().FloatValue();
  const float* src = F32(info[4]);
  float* out = F32(info[5]);
#pragma omp parallel for collapse(2) if (outer * red * inner > 65536)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t r = 0; r < red; r++) {
      const float* s = src + o * inner;
      float* d = out + (o * red + r) * inner;
      for (int64_t i = 0; i < inner; i++) d[i] = s[i] * scale;
    }
  return info.Env().Undefined();
}

// relu(x, y)
Napi::Value Relu(const Napi::CallbackInfo& info) {
  auto xa = info[0].As<Napi::Float32Array>();
  const float* x = xa.Data();
  float* y = F32(info[1]);
  const int64_t n = xa.ElementLength();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.f ? x[i] : 0.f;
  return info.Env().Undefined();
}

// reluGrad(dy, x, dx): dy where x > 0.
Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
  auto da = info[0].As<Napi::Float32Array>();
  const float* dy = da.Data();
  const float* x = F32(info[1]);
  float* dx = F32(info[2]);
  const int64_t n = da.ElementLength();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- fused Adam

// adamUpdate(var, m, v, g, lrT, beta1, beta2, eps): TF1's update, in place, one pass.
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  auto var = info[0].As<Napi::Float32Array>();
  float* w = var.Data();
  float* m = F32(info[1]);
  float* v = F32(info[2]);
  const float* g = F32(info[3]);
  float lr = info[4].As<Napi::Number>().FloatValue();
  float b1 = info[5].As<Napi::Number>().FloatValue();
  float b2 = info[6].As<Napi::Number>().FloatValue();
  float eps = info[7].As<Napi::Number>().FloatValue();
  size_t n = var.ElementLength();
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.f - b1) * gi;
    float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * mi / (std::sqrt(vi) + eps);
  }
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto v = dnnl::version();
  auto o = Napi::Object::New(info.Env());
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("cpuRuntime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  o.Set("cachedConvolutions", static_cast<double>(g_convs.size()));
  return o;
}

// The implementation oneDNN chose for a convolution forward (for benchmarks and the banner).
Napi::Value ConvImpl(const Napi::CallbackInfo& info) {
  auto s = ReadShape(info[0]);
  auto& c = GetConv(s, false, false);
  return Napi::String::New(info.Env(), c.fwd_pd.impl_info_str());
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2dForward", Napi::Function::New(env, Guard<Conv2dForward>));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Guard<Conv2dBackpropInput>));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Guard<Conv2dBackpropFilter>));
  exports.Set("poolForward", Napi::Function::New(env, Guard<PoolForward>));
  exports.Set("poolBackward", Napi::Function::New(env, Guard<PoolBackward>));
  exports.Set("bnForwardTraining", Napi::Function::New(env, Guard<BnForwardTraining>));
  exports.Set("bnBackward", Napi::Function::New(env, Guard<BnBackward>));
  exports.Set("adamUpdate", Napi::Function::New(env, Guard<AdamUpdate>));
  exports.Set("reduceSum", Napi::Function::New(env, Guard<ReduceSum>));
  exports.Set("relu", Napi::Function::New(env, Guard<Relu>));
  exports.Set("broadcastMiddle", Napi::Function::New(env, Guard<BroadcastMiddle>));
  exports.Set("reluGrad", Napi::Function::New(env, Guard<ReluGrad>));
  exports.Set("convImpl", Napi::Function::New(env, Guard<ConvImpl>));
  exports.Set("info", Napi::Function::New(env, Info));
  return exports;
}

}  // namespace

NODE_API_MODULE(tfjs_estimator_native, Init)
