// Direct convolutions for few input channels (ic <= 4: a network's first layer on images),
// forward and filter gradient. oneDNN's kernels vectorise over input channels, which such a
// layer barely has: MNIST's 64x28x28x1 -> 32 ran at 17 GFLOP/s in training. Here the vectors
// run over output channels: an output pixel is the bias plus, for each filter tap (ky, kx, c),
// one input value broadcast times a vector of the tap's weights. By default only the shapes
// where this measured faster than oneDNN come here (MakePlan).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common.h"

namespace tfe {
namespace {

// Float vectors of L lanes (GCC vector extensions). Each instruction set gets its own width:
// vectors wider than the target's registers are split through the stack (see pool.cc). (GCC
// drops vector_size on an alias template, hence one typedef per width.)
typedef float F4 __attribute__((vector_size(16)));
typedef float F8 __attribute__((vector_size(32)));
typedef float F16 __attribute__((vector_size(64)));
template <int L>
struct VecOf;
template <>
struct VecOf<4> {
  using type = F4;
};
template <>
struct VecOf<8> {
  using type = F8;
};
template <>
struct VecOf<16> {
  using type = F16;
};
template <int L>
using Vec = typename VecOf<L>::type;

template <int L>
__attribute__((always_inline)) inline Vec<L> Ld(const float* p) {
  Vec<L> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <int L>
__attribute__((always_inline)) inline void St(float* p, Vec<L> v) {
  std::memcpy(p, &v, sizeof v);
}

// One call's geometry. The kernels see channels padded to ocp, a multiple of the lanes: the
// filter and bias are repacked so, and rows of an output (dy) whose oc is not are staged.
struct Plan {
  int64_t n, ih, iw, ic, oh, ow, oc, ocp;
  int64_t pt, pl, ph, pw;    // padding; the rows and columns the windows span from it
  bool copy;                 // windows reach outside x: each image goes into a zero-padded copy
  int64_t rowStep, colStep;  // floats from one output row's (column's) window to the next
  std::vector<int32_t> off;  // each tap's offset from its window's corner, in HWIO order
  const float* w = nullptr;  // [taps][ocp]
  const float* b = nullptr;  // [ocp]
  int act = kLinear;
  float alpha = 0.f;
};

template <int L>
__attribute__((always_inline)) inline Vec<L> Activate(Vec<L> v, int act, float alpha) {
  using V = Vec<L>;
  switch (act) {
    case kRelu: return v < V{} ? V{} : v;
    case kRelu6: v = v < V{} ? V{} : v; return v > V{} + 6.f ? V{} + 6.f : v;
    case kLeakyrelu: return v < V{} ? v * alpha : v;
    default: return v;  // linear; elu and sigmoid are applied to the row afterwards
  }
}

// PW neighbouring output pixels, NV vectors of channels: PW*NV accumulators in registers, each
// weight vector loaded once for the PW pixels. src: the first pixel's window corner; w, b, out:
// at the block's first channel.
template <int L, int NV, int PW>
__attribute__((always_inline)) inline void FwdPixels(const Plan& p, const float* src, const float* w, const float* b,
                                                     float* out) {
  using V = Vec<L>;
  V acc[PW][NV];
  for (int q = 0; q < PW; q++)
    for (int j = 0; j < NV; j++) acc[q][j] = Ld<L>(b + j * L);
  const int32_t* off = p.off.data();
  const int64_t taps = static_cast<int64_t>(p.off.size());
  for (int64_t t = 0; t < taps; t++) {
    const float* s = src + off[t];
    V wv[NV];
    for (int j = 0; j < NV; j++) wv[j] = Ld<L>(w + t * p.ocp + j * L);
    for (int q = 0; q < PW; q++) {
      // vector * scalar: one broadcast (V{} + s would add 0: not s for -0; {s, s, ...} became
      // one masked insert per lane, GCC 12 building it outside the target function).
      const float xs = s[q * p.colStep];
      for (int j = 0; j < NV; j++) acc[q][j] += wv[j] * xs;
    }
  }
  for (int q = 0; q < PW; q++)
    for (int j = 0; j < NV; j++) St<L>(out + q * p.ocp + j * L, Activate<L>(acc[q][j], p.act, p.alpha));
}

// PW pixels at a time, then one by one.
template <int L, int NV, int PW>
__attribute__((always_inline)) inline void FwdBlock(const Plan& p, const float* src, int64_t c0, float* out) {
  const float *w = p.w + c0, *b = p.b + c0;
  int64_t x = 0;
  for (; x + PW <= p.ow; x += PW) FwdPixels<L, NV, PW>(p, src + x * p.colStep, w, b, out + x * p.ocp + c0);
  for (; x < p.ow; x++) FwdPixels<L, NV, 1>(p, src + x * p.colStep, w, b, out + x * p.ocp + c0);
}

// One output row (ow pixels of ocp channels) from its first window's corner. Accumulator blocks
// sized to the registers: 4 vectors x 6 pixels of AVX-512's 32, else 2 x 4 (8 pixels instead
// of 4 ran no faster): each weight vector loaded once per block, each input once per vector.
template <int L>
__attribute__((always_inline)) inline void FwdRowT(const Plan& p, const float* src, float* out) {
  constexpr bool wide = L == 16;
  for (int64_t c0 = 0; c0 < p.ocp;) {
    if (wide && p.ocp - c0 >= 4 * L) {
      FwdBlock<L, 4, 6>(p, src, c0, out);
      c0 += 4 * L;
    } else if (p.ocp - c0 >= 2 * L) {
      FwdBlock<L, 2, 4>(p, src, c0, out);
      c0 += 2 * L;
    } else {
      FwdBlock<L, 1, 4>(p, src, c0, out);
      c0 += L;
    }
  }
  const int64_t len = p.ow * p.ocp;
  if (p.act == kElu)
    for (int64_t i = 0; i < len; i++) out[i] = out[i] >= 0.f ? out[i] : std::expm1(out[i]);
  if (p.act == kSigmoid)
    for (int64_t i = 0; i < len; i++) out[i] = 1.f / (1.f + std::exp(-out[i]));
}

// The filter gradient of G taps over one row: dy's vectors loaded once per pixel for the G
// taps, the G*NV sums in registers (added to acc, the thread's [taps][ocp] sums, at the end).
template <int L, int NV, int G>
__attribute__((always_inline)) inline void GradTaps(const Plan& p, const float* src, const float* dy, const int32_t* off,
                                                    float* acc) {
  using V = Vec<L>;
  V a[G][NV] = {};
  for (int64_t x = 0; x < p.ow; x++) {
    const float* s = src + x * p.colStep;
    V d[NV];
    for (int j = 0; j < NV; j++) d[j] = Ld<L>(dy + x * p.ocp + j * L);
    for (int g = 0; g < G; g++) {
      const float xs = s[off[g]];
      for (int j = 0; j < NV; j++) a[g][j] += d[j] * xs;
    }
  }
  for (int g = 0; g < G; g++)
    for (int j = 0; j < NV; j++) St<L>(acc + g * p.ocp + j * L, Ld<L>(acc + g * p.ocp + j * L) + a[g][j]);
}

template <int L, int NV>
__attribute__((always_inline)) inline void GradBlock(const Plan& p, const float* src, const float* dy, float* acc) {
  const int64_t taps = static_cast<int64_t>(p.off.size());
  for (int64_t t0 = 0; t0 < taps; t0 += 9) {
    const int32_t* off = p.off.data() + t0;
    float* a = acc + t0 * p.ocp;
    switch (std::min<int64_t>(9, taps - t0)) {
      case 1: GradTaps<L, NV, 1>(p, src, dy, off, a); break;
      case 2: GradTaps<L, NV, 2>(p, src, dy, off, a); break;
      case 3: GradTaps<L, NV, 3>(p, src, dy, off, a); break;
      case 4: GradTaps<L, NV, 4>(p, src, dy, off, a); break;
      case 5: GradTaps<L, NV, 5>(p, src, dy, off, a); break;
      case 6: GradTaps<L, NV, 6>(p, src, dy, off, a); break;
      case 7: GradTaps<L, NV, 7>(p, src, dy, off, a); break;
      case 8: GradTaps<L, NV, 8>(p, src, dy, off, a); break;
      default: GradTaps<L, NV, 9>(p, src, dy, off, a); break;
    }
  }
}

// NVMAX: vectors of channels at once; 9 taps x 2 vectors fit AVX-512's 32 registers, not
// AVX2's 16.
template <int L, int NVMAX>
__attribute__((always_inline)) inline void GradRowT(const Plan& p, const float* src, const float* dy, float* acc) {
  for (int64_t c0 = 0; c0 < p.ocp;) {
    if (NVMAX >= 2 && p.ocp - c0 >= 2 * L) {
      GradBlock<L, 2>(p, src, dy + c0, acc + c0);
      c0 += 2 * L;
    } else {
      GradBlock<L, 1>(p, src, dy + c0, acc + c0);
      c0 += L;
    }
  }
}

using FwdRowFn = void (*)(const Plan&, const float*, float*);
using GradRowFn = void (*)(const Plan&, const float*, const float*, float*);

// One copy per instruction set, picked at run time. Fused multiply-adds here (the build says
// -ffp-contract=off for recomputed relu masks; nothing recomputes a convolution's output).
#define TFE_FMA_OK optimize("fp-contract=fast")
__attribute__((TFE_FMA_OK)) void FwdRow4(const Plan& p, const float* s, float* o) { FwdRowT<4>(p, s, o); }
__attribute__((TFE_FMA_OK)) void GradRow4(const Plan& p, const float* s, const float* d, float* a) {
  GradRowT<4, 1>(p, s, d, a);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx512f"), TFE_FMA_OK)) void FwdRow16(const Plan& p, const float* s, float* o) {
  FwdRowT<16>(p, s, o);
}
__attribute__((target("avx512f"), TFE_FMA_OK)) void GradRow16(const Plan& p, const float* s, const float* d, float* a) {
  GradRowT<16, 2>(p, s, d, a);
}
__attribute__((target("avx2,fma"), TFE_FMA_OK)) void FwdRow8(const Plan& p, const float* s, float* o) { FwdRowT<8>(p, s, o); }
__attribute__((target("avx2,fma"), TFE_FMA_OK)) void GradRow8(const Plan& p, const float* s, const float* d, float* a) {
  GradRowT<8, 1>(p, s, d, a);
}
#endif

struct Isa {
  int lanes;
  FwdRowFn fwd;
  GradRowFn grad;
};

// TFJS_ESTIMATOR_CONV_DIRECT_LANES=8 or 4 picks the AVX2 or SSE copy on any CPU (to test them).
const Isa& PickIsa() {
  static const Isa isa = [] {
    const char* v = std::getenv("TFJS_ESTIMATOR_CONV_DIRECT_LANES");
    const int want = v ? std::atoi(v) : 16;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (want >= 16 && __builtin_cpu_supports("avx512f")) return Isa{16, FwdRow16, GradRow16};
    if (want >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa{8, FwdRow8, GradRow8};
#endif
    return Isa{4, FwdRow4, GradRow4};
  }();
  return isa;
}

// setConvDirect's mode: 0 oneDNN only, 1 direct where faster, 2 direct for every ic <= 4. The
// first value comes from TFJS_ESTIMATOR_CONV_DIRECT (1 when unset).
int g_mode = [] {
  const char* v = std::getenv("TFJS_ESTIMATOR_CONV_DIRECT");
  return v ? std::atoi(v) : 1;
}();

// The plan for a shape array (op-codes.json, shapes.conv), or false when oneDNN should run it.
// Auto: one input channel and output channels in whole vectors, at least 2 (AVX-512: oc 32, 48,
// ...): there the direct kernels ran faster than oneDNN; with 2-4 input channels, or 8 or 16
// output channels, oneDNN was as fast or faster (oc 8: filter gradient 0.17 vs 0.31 ms).
// Always: every ic <= 4 (tests; `always`: a caller that has no oneDNN path, ImageFilterGrad).
bool MakePlan(const int32_t* s, int lanes, Plan* p, bool always = false) {
  if ((g_mode == 0 && !always) || s[kConvGroups] != 1 || s[kConvIc] > 4 || s[kConvIc] < 1 || s[kConvN] < 1 || s[kConvOh] < 1 ||
      s[kConvOw] < 1 || s[kConvOc] < 1)
    return false;
  if (g_mode == 1 && !always && (s[kConvIc] != 1 || s[kConvOc] % lanes != 0 || s[kConvOc] < 2 * lanes)) return false;
  p->n = s[kConvN], p->ih = s[kConvIh], p->iw = s[kConvIw], p->ic = s[kConvIc];
  p->oh = s[kConvOh], p->ow = s[kConvOw], p->oc = s[kConvOc];
  p->ocp = (p->oc + lanes - 1) / lanes * lanes;
  const int64_t kh = s[kConvKh], kw = s[kConvKw], sh = s[kConvSh], sw = s[kConvSw], dh = s[kConvDh], dw = s[kConvDw];
  p->pt = s[kConvPt], p->pl = s[kConvPl];
  p->ph = (p->oh - 1) * sh + (kh - 1) * dh + 1;
  p->pw = (p->ow - 1) * sw + (kw - 1) * dw + 1;
  p->copy = p->pt != 0 || p->pl != 0 || p->ph > p->ih || p->pw > p->iw;
  const int64_t rowLen = (p->copy ? p->pw : p->iw) * p->ic;
  p->rowStep = sh * rowLen;
  p->colStep = sw * p->ic;
  p->off.clear();
  for (int64_t y = 0; y < kh; y++)
    for (int64_t x = 0; x < kw; x++)
      for (int64_t c = 0; c < p->ic; c++) p->off.push_back(static_cast<int32_t>(y * dh * rowLen + x * dw * p->ic + c));
  return true;
}

// Image i's windows: x itself, or its copy into buf with the padding's zeros around it.
const float* Image(const Plan& p, const float* x, int64_t i, std::vector<float>& buf) {
  const float* img = x + i * p.ih * p.iw * p.ic;
  if (!p.copy) return img;
  buf.assign(p.ph * p.pw * p.ic, 0.f);
  const int64_t c0 = std::max<int64_t>(0, p.pl), c1 = std::min(p.pw, p.iw + p.pl);
  for (int64_t r = 0; r < p.ph; r++) {
    const int64_t y = r - p.pt;
    if (y < 0 || y >= p.ih || c1 <= c0) continue;
    std::memcpy(buf.data() + (r * p.pw + c0) * p.ic, img + (y * p.iw + c0 - p.pl) * p.ic, sizeof(float) * (c1 - c0) * p.ic);
  }
  return buf.data();
}

// Rows of oc channels <-> rows of ocp channels (when they differ).
void Unpad(const Plan& p, const float* from, float* to) {
  for (int64_t x = 0; x < p.ow; x++) std::memcpy(to + x * p.oc, from + x * p.ocp, sizeof(float) * p.oc);
}
void Pad(const Plan& p, const float* from, float* to) {
  for (int64_t x = 0; x < p.ow; x++) {
    std::memcpy(to + x * p.ocp, from + x * p.oc, sizeof(float) * p.oc);
    std::memset(to + x * p.ocp + p.oc, 0, sizeof(float) * (p.ocp - p.oc));
  }
}

// The filter and bias repacked to ocp channels (zeros beyond oc) into wp and bp, and the plan
// pointed at them with the activation.
void Repack(Plan* p, const float* w, const float* bias, int act, float alpha, std::vector<float>* wp, std::vector<float>* bp) {
  const int64_t taps = static_cast<int64_t>(p->off.size());
  wp->assign(taps * p->ocp, 0.f);
  bp->assign(p->ocp, 0.f);
  for (int64_t t = 0; t < taps; t++) std::memcpy(wp->data() + t * p->ocp, w + t * p->oc, sizeof(float) * p->oc);
  if (bias) std::memcpy(bp->data(), bias, sizeof(float) * p->oc);
  p->w = wp->data(), p->b = bp->data(), p->act = act, p->alpha = alpha;
}

}  // namespace

bool DirectConvForward(const int32_t* shape, const float* x, const float* w, const float* bias, int act, float alpha,
                       float* out) {
  const Isa& isa = PickIsa();
  Plan p;
  if (!MakePlan(shape, isa.lanes, &p)) return false;
  const int64_t taps = static_cast<int64_t>(p.off.size());
  std::vector<float> wp, bp;
  Repack(&p, w, bias, act, alpha, &wp, &bp);
  const bool staged = p.ocp != p.oc;
  ParallelSpans(p.n * p.oh, p.n * p.oh * p.ow * p.oc * taps, [&](int64_t begin, int64_t end) {
    static thread_local std::vector<float> pad, row;
    if (staged) row.resize(p.ow * p.ocp);
    const float* img = nullptr;
    for (int64_t r = begin, cur = -1; r < end; r++) {
      const int64_t i = r / p.oh;
      if (i != cur) img = Image(p, x, cur = i, pad);
      float* o = out + r * p.ow * p.oc;
      // The next row's output lines, fetched while this row computes: the output (5.5 MB for the
      // article's first layer) is rarely in cache: into 16 rotating outputs, 0.88 ms without this,
      // 0.70 with (min of 360 calls); into one output, reused, 0.41 and 0.46.
      if (r + 1 < end)
        for (int64_t k = 0; k < p.ow * p.oc; k += 16) __builtin_prefetch(o + p.ow * p.oc + k, 1, 3);
      isa.fwd(p, img + (r % p.oh) * p.rowStep, staged ? row.data() : o);
      if (staged) Unpad(p, row.data(), o);
    }
  });
  return true;
}

bool DirectConvFilterGrad(const int32_t* shape, const float* x, const float* dy, float* dw) {
  const Isa& isa = PickIsa();
  Plan p;
  if (!MakePlan(shape, isa.lanes, &p)) return false;
  const int64_t taps = static_cast<int64_t>(p.off.size()), len = taps * p.ocp;
  // One [taps][ocp] sum per thread (whole cache lines apart), added up in thread order: the
  // same result on every run.
  const int threads = omp_get_max_threads();
  const int64_t stride = (len + 15) / 16 * 16;
  std::vector<float> sums(threads * stride, 0.f);
  const bool staged = p.ocp != p.oc;
  ParallelSpans(p.n * p.oh, p.n * p.oh * p.ow * p.oc * taps, [&](int64_t begin, int64_t end) {
    static thread_local std::vector<float> pad, row;
    if (staged) row.resize(p.ow * p.ocp);
    float* acc = sums.data() + omp_get_thread_num() * stride;
    const float* img = nullptr;
    for (int64_t r = begin, cur = -1; r < end; r++) {
      const int64_t i = r / p.oh;
      if (i != cur) img = Image(p, x, cur = i, pad);
      const float* d = dy + r * p.ow * p.oc;
      if (staged) Pad(p, d, row.data());
      isa.grad(p, img + (r % p.oh) * p.rowStep, staged ? row.data() : d, acc);
    }
  });
  for (int t = 1; t < threads; t++)
    for (int64_t i = 0; i < len; i++) sums[i] += sums[t * stride + i];
  for (int64_t t = 0; t < taps; t++) std::memcpy(dw + t * p.oc, sums.data() + t * p.ocp, sizeof(float) * p.oc);
  return true;
}

// ImageFilterGrad: the plan and instruction set of DirectConvFilterGrad, fed one image at a time.
struct ImageFilterGrad::Impl {
  Plan p;
  const Isa* isa;
};

ImageFilterGrad::ImageFilterGrad(const int32_t* shape) : impl_(std::make_unique<Impl>()) {
  impl_->isa = &PickIsa();
  if (!MakePlan(shape, impl_->isa->lanes, &impl_->p, /*always=*/true)) impl_.reset();
}

ImageFilterGrad::~ImageFilterGrad() = default;

int64_t ImageFilterGrad::AccumulatorSize() const { return static_cast<int64_t>(impl_->p.off.size()) * impl_->p.ocp; }

void ImageFilterGrad::Add(const float* image, const float* dy, float* acc) const {
  const Plan& p = impl_->p;
  static thread_local std::vector<float> pad, row;
  const bool staged = p.ocp != p.oc;
  if (staged) row.resize(p.ow * p.ocp);
  const float* img = Image(p, image, 0, pad);
  for (int64_t oy = 0; oy < p.oh; oy++) {
    const float* d = dy + oy * p.ow * p.oc;
    if (staged) Pad(p, d, row.data());
    impl_->isa->grad(p, img + oy * p.rowStep, staged ? row.data() : d, acc);
  }
}

void ImageFilterGrad::Write(const float* acc, float* dw) const {
  const Plan& p = impl_->p;
  for (int64_t t = 0; t < static_cast<int64_t>(p.off.size()); t++) std::memcpy(dw + t * p.oc, acc + t * p.ocp, sizeof(float) * p.oc);
}

// ImageConvForward: DirectConvForward's plan, kernel and repacked filter, one image at a time.
struct ImageConvForward::Impl {
  Plan p;
  const Isa* isa;
  std::vector<float> wp, bp;
};

ImageConvForward::ImageConvForward(const int32_t* shape, const float* w, const float* bias, int act, float alpha)
    : impl_(std::make_unique<Impl>()) {
  impl_->isa = &PickIsa();
  // Every ic <= 4 (not only where the direct kernel beats oneDNN on its own: here it saves
  // writing the output), except where oneDNN was asked for (mode 0).
  if (g_mode == 0 || !MakePlan(shape, impl_->isa->lanes, &impl_->p, /*always=*/true)) {
    impl_.reset();
    return;
  }
  Repack(&impl_->p, w, bias, act, alpha, &impl_->wp, &impl_->bp);
}

ImageConvForward::~ImageConvForward() = default;

void ImageConvForward::Run(const float* image, float* out) const {
  const Plan& p = impl_->p;
  static thread_local std::vector<float> pad, row;
  const bool staged = p.ocp != p.oc;
  if (staged) row.resize(p.ow * p.ocp);
  const float* img = Image(p, image, 0, pad);
  for (int64_t oy = 0; oy < p.oh; oy++) {
    float* o = out + oy * p.ow * p.oc;
    impl_->isa->fwd(p, img + oy * p.rowStep, staged ? row.data() : o);
    if (staged) Unpad(p, row.data(), o);
  }
}

bool DirectConvApplies(const int32_t* shape) {
  Plan p;
  return MakePlan(shape, PickIsa().lanes, &p);
}

int SetDirectConvMode(int mode) {
  const int was = g_mode;
  if (mode >= 0 && mode <= 2) g_mode = mode;
  return was;
}

}  // namespace tfe
