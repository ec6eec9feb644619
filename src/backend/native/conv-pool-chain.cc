// A first layer's convolution -> batch norm -> relu -> max pooling in inference, one image at a
// time: the convolution's output goes into a per-thread buffer that stays in cache and is
// pooled from there, never written to the tensor. At evaluate's and predict's batch sizes that
// output is far larger than the caches (MNIST at batch 500: 43 MB), and writing it and reading
// it back for the pooling took longer than the convolution itself.
#include <vector>

#include "common.h"

namespace tfe {
namespace {

// convBnReluMaxPool(convShape, x, w, bias|null, activation, alpha, scale, shift, poolShape, y):
// y = maxPool(relu(conv(x) * scale + shift)) per channel, the same values as the four kernels
// one after the other. False (and y untouched) when the direct convolution does not take the
// shape (more than 4 input channels, groups, oneDNN asked for): the caller runs them in turn.
Napi::Value ConvBnReluMaxPool(const Napi::CallbackInfo& info) {
  const int32_t* cs = Params(info[0], kConvShapeLen, "convolution shape");
  int64_t n;
  const PoolGeom g = Geometry(info[8], &n);
  if (n != cs[kConvN] || g.ih != cs[kConvOh] || g.iw != cs[kConvOw] || g.c != cs[kConvOc]) {
    throw Napi::Error::New(info.Env(), "convBnReluMaxPool: the pooling's input is not the convolution's output");
  }
  if (cs[kConvGroups] != 1) return Napi::Boolean::New(info.Env(), false);
  const int64_t in_size = int64_t{cs[kConvIh]} * cs[kConvIw] * cs[kConvIc];
  const int64_t mid_size = g.ih * g.iw * g.c, out_size = g.oh * g.ow * g.c;
  const float* x = F32(info[1], n * in_size, "convBnReluMaxPool x");
  const float* w = F32(info[2], int64_t{cs[kConvKh]} * cs[kConvKw] * cs[kConvIc] * cs[kConvOc], "convBnReluMaxPool w");
  const float* bias = F32OrNull(info[3], cs[kConvOc], "convBnReluMaxPool bias");
  const float* scale = F32(info[6], g.c, "convBnReluMaxPool scale");
  const float* shift = F32(info[7], g.c, "convBnReluMaxPool shift");
  float* y = F32(info[9], n * out_size, "convBnReluMaxPool y");
  const ImageConvForward conv(cs, w, bias, I32(info[4]), Flt(info[5]));
  if (!conv.ok()) return Napi::Boolean::New(info.Env(), false);
  const int64_t work = n * mid_size * cs[kConvKh] * cs[kConvKw] * cs[kConvIc];
  ParallelSpans(n, work, [&](int64_t b, int64_t e) {
    static thread_local std::vector<float> mid;
    mid.resize(mid_size);
    for (int64_t img = b; img < e; img++) {
      conv.Run(x + img * in_size, mid.data());
      MaxPoolAffineReluImage(g, mid.data(), scale, shift, y + img * out_size);
    }
  });
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void InitConvPoolChain(Napi::Env env, Napi::Object exports) { Export(env, exports, "convBnReluMaxPool", ConvBnReluMaxPool); }

}  // namespace tfe
