// Batch normalisation over the last axis of an NHWC tensor seen as [rows, C]: training forward
// (batch statistics), its gradient, and inference with given statistics. Memory-bound loops:
// each pass streams the tensor once; oneDNN's own batch norm picks a slow reference
// implementation for plain NHWC here.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"

namespace tfe {
namespace {

constexpr int64_t kChunk = 64;  // rows summed in float before adding into double

// a[j] += x[r, j] - k[j] ; b[j] += (x[r, j] - k[j])^2 over rows [r0, r1)
TFE_VECTOR_CLONES void ShiftedSums(const float* __restrict x, const float* __restrict k, int64_t r0, int64_t r1, int c,
                                   float* __restrict a, float* __restrict b) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * c;
    for (int j = 0; j < c; j++) {
      const float d = xr[j] - k[j];
      a[j] += d;
      b[j] += d * d;
    }
  }
}

// a[j] += dy[r, j] ; b[j] += dy[r, j] (x[r, j] - mean[j]) over rows [r0, r1)
TFE_VECTOR_CLONES void GradSums(const float* __restrict x, const float* __restrict dy, const float* __restrict mean,
                                int64_t r0, int64_t r1, int c, float* __restrict a, float* __restrict b) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * c;
    const float* dr = dy + r * c;
    for (int j = 0; j < c; j++) {
      a[j] += dr[j];
      b[j] += dr[j] * (xr[j] - mean[j]);
    }
  }
}

// The same with dy masked by a following relu: dy[r, j] where relu_out[r, j] > 0, else 0.
TFE_VECTOR_CLONES void GradSumsMasked(const float* __restrict x, const float* __restrict dy, const float* __restrict m,
                                      const float* __restrict mean, int64_t r0, int64_t r1, int c, float* __restrict a,
                                      float* __restrict b) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * c;
    const float* dr = dy + r * c;
    const float* mr = m + r * c;
    for (int j = 0; j < c; j++) {
      const float g = dr[j];  // loaded unconditionally: a select, not a branch, so it vectorizes
      const float d = mr[j] > 0.f ? g : 0.f;
      a[j] += d;
      b[j] += d * (xr[j] - mean[j]);
    }
  }
}

// y[r, j] = x[r, j] * scale[j] + shift[j]
TFE_VECTOR_CLONES void AffineRows(const float* __restrict x, const float* __restrict scale, const float* __restrict shift,
                                  int64_t r0, int64_t r1, int c, float* __restrict y) {
  for (int64_t r = r0; r < r1; r++)
    for (int j = 0; j < c; j++) y[r * c + j] = AffineValue(x[r * c + j], scale[j], shift[j]);
}

// y[r, j] = max(0, x[r, j] * scale[j] + shift[j]) (NaN stays NaN, as tfjs's relu)
TFE_VECTOR_CLONES void AffineReluRows(const float* __restrict x, const float* __restrict scale, const float* __restrict shift,
                                      int64_t r0, int64_t r1, int c, float* __restrict y) {
  for (int64_t r = r0; r < r1; r++)
    for (int j = 0; j < c; j++) {
      const float v = AffineValue(x[r * c + j], scale[j], shift[j]);
      y[r * c + j] = v < 0.f ? 0.f : v;
    }
}

// dx[r, j] = k1[j] dy[r, j] + k0[j] - (x[r, j] - mean[j]) k3[j]
TFE_VECTOR_CLONES void GradRows(const float* __restrict x, const float* __restrict dy, const float* __restrict mean,
                                const float* __restrict k1, const float* __restrict k0, const float* __restrict k3, int64_t r0,
                                int64_t r1, int c, float* __restrict dx) {
  for (int64_t r = r0; r < r1; r++)
    for (int j = 0; j < c; j++) dx[r * c + j] = k1[j] * dy[r * c + j] + k0[j] - (x[r * c + j] - mean[j]) * k3[j];
}

// The same with dy masked as in GradSumsMasked.
TFE_VECTOR_CLONES void GradRowsMasked(const float* __restrict x, const float* __restrict dy, const float* __restrict m,
                                      const float* __restrict mean, const float* __restrict k1, const float* __restrict k0,
                                      const float* __restrict k3, int64_t r0, int64_t r1, int c, float* __restrict dx) {
  for (int64_t r = r0; r < r1; r++)
    for (int j = 0; j < c; j++) {
      const float g = dy[r * c + j];
      const float d = m[r * c + j] > 0.f ? g : 0.f;
      dx[r * c + j] = k1[j] * d + k0[j] - (x[r * c + j] - mean[j]) * k3[j];
    }
}

// Per-channel double sums s0, s1 from sums(r0, r1, a, b), which adds rows [r0, r1) into float a, b.
template <typename Sums>
void ChannelSums(int64_t rows, int c, Sums sums, std::vector<double>& s0, std::vector<double>& s1) {
  s0.assign(c, 0.0);
  s1.assign(c, 0.0);
  ParallelSpans(rows, rows * c, [&](int64_t begin, int64_t end) {
    std::vector<float> a(c), b(c);
    std::vector<double> da(c, 0.0), db(c, 0.0);
    for (int64_t r0 = begin; r0 < end; r0 += kChunk) {
      std::fill(a.begin(), a.end(), 0.f);
      std::fill(b.begin(), b.end(), 0.f);
      sums(r0, std::min(end, r0 + kChunk), a.data(), b.data());
      for (int j = 0; j < c; j++) {
        da[j] += a[j];
        db[j] += b[j];
      }
    }
#pragma omp critical
    for (int j = 0; j < c; j++) {
      s0[j] += da[j];
      s1[j] += db[j];
    }
  });
}

void Affine(int64_t rows, int c, const float* x, const float* scale, const float* shift, float* y) {
  ParallelSpans(rows, rows * c, [&](int64_t b, int64_t e) { AffineRows(x, scale, shift, b, e, c, y); });
}

// rows and channels as numbers from the caller; negative ones would make every length check pass.
void CheckRowsChannels(const Napi::CallbackInfo& info, const char* what) {
  if (I64(info[0]) < 0 || I32(info[1]) < 0) throw Napi::Error::New(info.Env(), std::string(what) + ": negative rows or channels");
}

// bnTrainForward(rows, c, eps, x, gamma, beta, y|null, mean, variance[, scale, shift]): batch
// statistics with the biased variance (as tf.moments); sums are shifted by the first row for
// accuracy. y = x * scale + shift per channel; with y null only the statistics and scale,
// shift are computed (the affine pass is left to affine(), possibly fused with relu).
Napi::Value TrainForward(const Napi::CallbackInfo& info) {
  CheckRowsChannels(info, "bnTrainForward");
  const int64_t rows = I64(info[0]);
  const int c = I32(info[1]);
  const float eps = Flt(info[2]);
  CheckLen(info[3], rows * c, "bnTrainForward x");
  for (int i : {4, 5, 7, 8}) CheckLen(info[i], c, "bnTrainForward per-channel argument");
  const float* x = F32(info[3]);
  const float* gamma = F32(info[4]);
  const float* beta = F32(info[5]);
  float* y = F32OrNull(info[6]);
  if (y) CheckLen(info[6], rows * c, "bnTrainForward y");
  float* mean = F32(info[7]);
  float* var = F32(info[8]);
  const bool want_affine = info.Length() > 10;
  if (want_affine) CheckLen(info[9], c, "bnTrainForward scale"), CheckLen(info[10], c, "bnTrainForward shift");
  if (rows == 0 || c == 0) return info.Env().Undefined();
  std::vector<float> k(x, x + c);
  std::vector<double> s, q;
  ChannelSums(
      rows, c, [&](int64_t r0, int64_t r1, float* a, float* b) { ShiftedSums(x, k.data(), r0, r1, c, a, b); }, s, q);
  std::vector<float> scale(c), shift(c);
  for (int j = 0; j < c; j++) {
    const double m = s[j] / rows;
    const double v = std::max(0.0, q[j] / rows - m * m);
    mean[j] = static_cast<float>(k[j] + m);
    var[j] = static_cast<float>(v);
    scale[j] = static_cast<float>(gamma[j] / std::sqrt(v + eps));
    shift[j] = static_cast<float>(beta[j] - (k[j] + m) * static_cast<double>(scale[j]));
  }
  if (want_affine) {
    std::copy(scale.begin(), scale.end(), F32(info[9]));
    std::copy(shift.begin(), shift.end(), F32(info[10]));
  }
  if (y) Affine(rows, c, x, scale.data(), shift.data(), y);
  return info.Env().Undefined();
}

// affine(rows, c, x, scale, shift, relu, y): y = x * scale + shift per channel, then relu if asked.
Napi::Value AffinePass(const Napi::CallbackInfo& info) {
  CheckRowsChannels(info, "affine");
  const int64_t rows = I64(info[0]);
  const int c = I32(info[1]);
  CheckLen(info[2], rows * c, "affine x");
  CheckLen(info[3], c, "affine scale");
  CheckLen(info[4], c, "affine shift");
  CheckLen(info[6], rows * c, "affine y");
  const float* x = F32(info[2]);
  const float* scale = F32(info[3]);
  const float* shift = F32(info[4]);
  float* y = F32(info[6]);
  if (info[5].ToBoolean().Value()) {
    ParallelSpans(rows, rows * c, [&](int64_t b, int64_t e) { AffineReluRows(x, scale, shift, b, e, c, y); });
  } else {
    Affine(rows, c, x, scale, shift, y);
  }
  return info.Env().Undefined();
}

// dx[r, j] = k0[j] - (x[r, j] - mean[j]) k3[j]: the part of the gradient that is not dy's.
TFE_VECTOR_CLONES void GradRowsWithoutDy(const float* __restrict x, const float* __restrict mean, const float* __restrict k0,
                                         const float* __restrict k3, int64_t r0, int64_t r1, int c, float* __restrict dx) {
  for (int64_t r = r0; r < r1; r++)
    for (int j = 0; j < c; j++) dx[r * c + j] = k0[j] - (x[r * c + j] - mean[j]) * k3[j];
}

// a[j] += x[r, j] over rows [r0, r1)
TFE_VECTOR_CLONES void ChannelSumRows(const float* __restrict x, int64_t r0, int64_t r1, int c, float* __restrict a) {
  for (int64_t r = r0; r < r1; r++)
    for (int j = 0; j < c; j++) a[j] += x[r * c + j];
}

// The per-channel constants of a batch norm gradient, dx = k1 dy + k0 - (x - mean) k3, from the
// sums of dy and of dy (x - mean); also writes dgamma and dbeta.
struct GradConstants {
  std::vector<float> k1, k0, k3;
};
GradConstants GradientConstants(int64_t rows, int c, float eps, const float* var, const float* gamma, const std::vector<double>& sdy,
                                const std::vector<double>& sdyx, float* dgamma, float* dbeta) {
  GradConstants k{std::vector<float>(c), std::vector<float>(c), std::vector<float>(c)};
  for (int j = 0; j < c; j++) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[j]) + eps);
    dbeta[j] = static_cast<float>(sdy[j]);
    dgamma[j] = static_cast<float>(sdyx[j] * inv);
    const double g = gamma[j] * inv;
    k.k1[j] = static_cast<float>(g);
    k.k0[j] = static_cast<float>(-g * sdy[j] / rows);
    k.k3[j] = static_cast<float>(g * sdyx[j] * inv * inv / rows);
  }
  return k;
}

// The pooled gradient's contributions to the sums of one image: dy of each window's maximum,
// where the relu before the pooling let it through (x * scale + shift > 0), with x there
// taken from the workspace (maxPoolArgmax). Branch-free: the mask is a coin toss per element.
TFE_VECTOR_CLONES void PooledGradSums(const PoolGeom& g, const float* __restrict dy, const int32_t* __restrict ws,
                                      const float* __restrict scale, const float* __restrict shift, const float* __restrict mean,
                                      float* __restrict a, float* __restrict b) {
  const int64_t c = g.c, out_size = g.oh * g.ow * g.c, pixels = g.ih * g.iw;
  const float* wsx = reinterpret_cast<const float*>(ws + out_size);
  for (int64_t o = 0; o < out_size; o += c)
    for (int64_t j = 0; j < c; j++) {
      const bool valid = static_cast<uint32_t>(ws[o + j]) < static_cast<uint64_t>(pixels);
      const float xv = wsx[o + j];
      const float d = valid && AffineValue(xv, scale[j], shift[j]) > 0.f ? dy[o + j] : 0.f;
      a[j] += d;
      b[j] += d * (xv - mean[j]);
    }
}

// bnTrainBackward(rows, c, eps, x, dy, mean, variance, gamma, dx, dgamma, dbeta[, reluOut]):
// with reluOut, dy is the gradient of relu(batch norm) and is masked by reluOut > 0 on the fly
// (batch norm + relu backward in one kernel).
Napi::Value TrainBackward(const Napi::CallbackInfo& info) {
  CheckRowsChannels(info, "bnTrainBackward");
  const int64_t rows = I64(info[0]);
  const int c = I32(info[1]);
  const float eps = Flt(info[2]);
  for (int i : {3, 4, 8}) CheckLen(info[i], rows * c, "bnTrainBackward x, dy, dx");
  for (int i : {5, 6, 7, 9, 10}) CheckLen(info[i], c, "bnTrainBackward per-channel argument");
  const float* mask = info.Length() > 11 ? F32OrNull(info[11]) : nullptr;
  if (mask) CheckLen(info[11], rows * c, "bnTrainBackward reluOut");
  const float* x = F32(info[3]);
  const float* dy = F32(info[4]);
  const float* mean = F32(info[5]);
  const float* var = F32(info[6]);
  const float* gamma = F32(info[7]);
  float* dx = F32(info[8]);
  float* dgamma = F32(info[9]);
  float* dbeta = F32(info[10]);
  std::vector<double> sdy, sdyx;
  ChannelSums(
      rows, c,
      [&](int64_t r0, int64_t r1, float* a, float* b) {
        if (mask) {
          GradSumsMasked(x, dy, mask, mean, r0, r1, c, a, b);
        } else {
          GradSums(x, dy, mean, r0, r1, c, a, b);
        }
      },
      sdy, sdyx);
  // dx = gamma inv / N (N dy - sum(dy) - xhat sum(dy xhat)) = k1 dy + k0 - (x - mean) k3
  const GradConstants k = GradientConstants(rows, c, eps, var, gamma, sdy, sdyx, dgamma, dbeta);
  ParallelSpans(rows, rows * c, [&](int64_t b, int64_t e) {
    if (mask) {
      GradRowsMasked(x, dy, mask, mean, k.k1.data(), k.k0.data(), k.k3.data(), b, e, c, dx);
    } else {
      GradRows(x, dy, mean, k.k1.data(), k.k0.data(), k.k3.data(), b, e, c, dx);
    }
  });
  return info.Env().Undefined();
}

// The chain batch norm -> relu -> max pooling, where the relu and the pooling read
// x * scale + shift on the fly (maxPoolArgmax with scale, shift) and neither the batch norm's
// nor the relu's output was written, has its gradient in two parts:
//  - bnPooledGradStats: the sums over the windows' maxima only (x there is in the pooling's
//    workspace), giving dgamma, dbeta and the constants of dx = k1 dy + k0 - (x - mean) k3;
//  - dx, one image at a time while the image is in cache: the part without dy, then dy
//    scattered to each window's argmax where the relu let it through; written out by
//    bnPooledDx, or consumed at once by the filter gradient of the convolution before the
//    batch norm (bnPooledDxFilterGrad: dx is then never written at all).
// Memory traffic: x read once, dx written once or not at all, against five reads and two
// writes of full-size tensors for the three gradients one by one.

// The chain's arguments shared by the entry points.
struct PooledChain {
  PoolGeom g;
  int64_t n;
  const float *dy, *scale, *shift, *mean, *k1, *k0, *k3;
  const int32_t* ws;
  int64_t InSize() const { return g.ih * g.iw * g.c; }
  int64_t OutSize() const { return g.oh * g.ow * g.c; }
};

// Reads poolShape at info[0]; dy, ws, scale, shift, mean, k (k1 | k0 | k3, 3 c) at the given positions.
PooledChain ReadChain(const Napi::CallbackInfo& info, const char* what, int dy_at, int ws_at, int affine_at, int k_at) {
  PooledChain ch{};
  ch.g = Geometry(info[0], &ch.n);
  const int64_t c = ch.g.c;
  const std::string w(what);
  ch.dy = F32(info[dy_at], ch.n * ch.OutSize(), (w + " dy").c_str());
  ch.ws = reinterpret_cast<const int32_t*>(F32(info[ws_at], 2 * ch.n * ch.OutSize(), (w + " workspace").c_str()));
  const std::string per_channel = w + " per-channel argument";
  ch.scale = F32(info[affine_at], c, per_channel.c_str());
  ch.shift = F32(info[affine_at + 1], c, per_channel.c_str());
  ch.mean = F32(info[affine_at + 2], c, per_channel.c_str());
  if (k_at >= 0) {
    const float* k = F32(info[k_at], 3 * c, (w + " constants").c_str());
    ch.k1 = k, ch.k0 = k + c, ch.k3 = k + 2 * c;
  }
  return ch;
}

// For one pooled pixel's c channels: what each adds to dx (k1 dy where the relu let it through)
// and where (its argmax; channel j of pixel 0, adding zero, where there is none). Vectorises;
// the scatter that follows is a plain loop.
TFE_VECTOR_CLONES void PooledContributions(const int32_t* __restrict at, const float* __restrict xv, const float* __restrict dy,
                                           const float* __restrict scale, const float* __restrict shift, const float* __restrict k1,
                                           int c, int64_t pixels, float* __restrict add, int64_t* __restrict index) {
  for (int j = 0; j < c; j++) {
    const bool valid = static_cast<uint32_t>(at[j]) < static_cast<uint64_t>(pixels);
    const bool pass = valid && AffineValue(xv[j], scale[j], shift[j]) > 0.f;
    add[j] = pass ? k1[j] * dy[j] : 0.f;
    index[j] = (valid ? at[j] : 0) * static_cast<int64_t>(c) + j;
  }
}

// One image's dx of the chain into dxi; its per-channel sums are added into sums (when given).
void PooledDxImage(const PooledChain& ch, int64_t img, const float* __restrict xi, float* __restrict dxi, float* __restrict sums) {
  const PoolGeom& g = ch.g;
  const int c = static_cast<int>(g.c);
  const int64_t pixels = g.ih * g.iw, out_size = ch.OutSize();
  GradRowsWithoutDy(xi, ch.mean, ch.k0, ch.k3, 0, pixels, c, dxi);
  const float* dyi = ch.dy + img * out_size;
  const int32_t* wsi = ch.ws + 2 * img * out_size;
  const float* wsx = reinterpret_cast<const float*>(wsi + out_size);
  std::vector<float> add(c);
  std::vector<int64_t> index(c);
  for (int64_t o = 0; o < out_size; o += c) {
    PooledContributions(wsi + o, wsx + o, dyi + o, ch.scale, ch.shift, ch.k1, c, pixels, add.data(), index.data());
    for (int j = 0; j < c; j++) dxi[index[j]] += add[j];
  }
  if (sums) ChannelSumRows(dxi, 0, pixels, c, sums);
}

// bnPooledGradStats(poolShape, eps, dy, ws, scale, shift, mean, variance, gamma, dgamma, dbeta, k):
// the sums pass; k gets k1 | k0 | k3 (3 c).
Napi::Value PooledGradStats(const Napi::CallbackInfo& info) {
  const PooledChain ch = ReadChain(info, "bnPooledGradStats", 2, 3, 4, -1);
  const int c = static_cast<int>(ch.g.c);
  const char* per_channel = "bnPooledGradStats per-channel argument";
  const float eps = Flt(info[1]);
  const float* var = F32(info[7], c, per_channel);
  const float* gamma = F32(info[8], c, per_channel);
  float* dgamma = F32(info[9], c, per_channel);
  float* dbeta = F32(info[10], c, per_channel);
  float* k = F32(info[11], 3 * c, "bnPooledGradStats constants");
  std::vector<double> sdy(c, 0.0), sdyx(c, 0.0);
  ParallelSpans(ch.n, ch.n * ch.InSize(), [&](int64_t begin, int64_t end) {
    std::vector<float> a(c), b(c);
    std::vector<double> da(c, 0.0), db(c, 0.0);
    for (int64_t img = begin; img < end; img++) {
      std::fill(a.begin(), a.end(), 0.f);
      std::fill(b.begin(), b.end(), 0.f);
      PooledGradSums(ch.g, ch.dy + img * ch.OutSize(), ch.ws + 2 * img * ch.OutSize(), ch.scale, ch.shift, ch.mean, a.data(),
                     b.data());
      for (int j = 0; j < c; j++) da[j] += a[j], db[j] += b[j];
    }
#pragma omp critical
    for (int j = 0; j < c; j++) sdy[j] += da[j], sdyx[j] += db[j];
  });
  const GradConstants gc = GradientConstants(ch.n * ch.g.ih * ch.g.iw, c, eps, var, gamma, sdy, sdyx, dgamma, dbeta);
  std::copy(gc.k1.begin(), gc.k1.end(), k);
  std::copy(gc.k0.begin(), gc.k0.end(), k + c);
  std::copy(gc.k3.begin(), gc.k3.end(), k + 2 * c);
  return info.Env().Undefined();
}

// Per-thread float sums of c channels, added in double across a thread's images and then
// across threads (critical section): per-channel reductions over a batch.
struct ChannelTotals {
  explicit ChannelTotals(int64_t c) : total(c, 0.0) {}
  std::vector<double> total;
  void Add(const std::vector<double>& part) {
#pragma omp critical
    for (size_t j = 0; j < total.size(); j++) total[j] += part[j];
  }
  void Write(float* out) const {
    for (size_t j = 0; j < total.size(); j++) out[j] = static_cast<float>(total[j]);
  }
};

// bnPooledDx(poolShape, x, dy, ws, scale, shift, mean, k, dx, dxSums|null): dx written out
// (and summed per channel when dxSums is given).
Napi::Value PooledDx(const Napi::CallbackInfo& info) {
  const PooledChain ch = ReadChain(info, "bnPooledDx", 2, 3, 4, 7);
  const int64_t c = ch.g.c, in_size = ch.InSize();
  const float* x = F32(info[1], ch.n * in_size, "bnPooledDx x");
  float* dx = F32(info[8], ch.n * in_size, "bnPooledDx dx");
  float* dx_sums = F32OrNull(info[9], c, "bnPooledDx dxSums");
  ChannelTotals totals(c);
  ParallelSpans(ch.n, ch.n * in_size, [&](int64_t begin, int64_t end) {
    std::vector<float> part(c);
    std::vector<double> mine(c, 0.0);
    for (int64_t img = begin; img < end; img++) {
      std::fill(part.begin(), part.end(), 0.f);
      PooledDxImage(ch, img, x + img * in_size, dx + img * in_size, dx_sums ? part.data() : nullptr);
      for (int64_t j = 0; j < c; j++) mine[j] += part[j];
    }
    totals.Add(mine);
  });
  if (dx_sums) totals.Write(dx_sums);
  return info.Env().Undefined();
}

// bnPooledDxFilterGrad(poolShape, convShape, images, x, dy, ws, scale, shift, mean, k, dw, dxSums):
// the filter gradient of the convolution images -> x (the batch norm's input) straight from the
// chain's dx, computed per image in a scratch buffer and never written out; dxSums gets dx
// summed per channel (the convolution's bias gradient). For few input channels (a first
// layer): the per-image loop is a plain direct convolution gradient.
Napi::Value PooledDxFilterGrad(const Napi::CallbackInfo& info) {
  const PooledChain ch = ReadChain(info, "bnPooledDxFilterGrad", 4, 5, 6, 9);
  const int32_t* p = Params(info[1], kConvShapeLen, "convolution shape");
  const int64_t c = ch.g.c, in_size = ch.InSize();
  if (p[kConvN] != ch.n || p[kConvOh] != ch.g.ih || p[kConvOw] != ch.g.iw || p[kConvOc] != c || p[kConvGroups] != 1 ||
      p[kConvDh] != 1 || p[kConvDw] != 1) {
    throw Napi::Error::New(info.Env(), "bnPooledDxFilterGrad: the convolution's output is not the batch norm's input");
  }
  const ImageFilterGrad grad(p);
  if (!grad.ok()) throw Napi::Error::New(info.Env(), "bnPooledDxFilterGrad: only for 1 to 4 input channels, one group");
  const int64_t img_size = int64_t{p[kConvIh]} * p[kConvIw] * p[kConvIc];
  const int64_t dw_size = int64_t{p[kConvKh]} * p[kConvKw] * p[kConvIc] * c;
  const float* images = F32(info[2], ch.n * img_size, "bnPooledDxFilterGrad images");
  const float* x = F32(info[3], ch.n * in_size, "bnPooledDxFilterGrad x");
  float* dw = F32(info[10], dw_size, "bnPooledDxFilterGrad dw");
  float* dx_sums = F32(info[11], c, "bnPooledDxFilterGrad dxSums");
  ChannelTotals acc_totals(grad.AccumulatorSize()), sum_totals(c);
  ParallelSpans(ch.n, ch.n * in_size, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(in_size), acc(grad.AccumulatorSize(), 0.f), part(c);
    std::vector<double> sums_mine(c, 0.0);
    for (int64_t img = begin; img < end; img++) {
      std::fill(part.begin(), part.end(), 0.f);
      PooledDxImage(ch, img, x + img * in_size, scratch.data(), part.data());
      grad.Add(images + img * img_size, scratch.data(), acc.data());
      for (int64_t j = 0; j < c; j++) sums_mine[j] += part[j];
    }
    acc_totals.Add(std::vector<double>(acc.begin(), acc.end()));
    sum_totals.Add(sums_mine);
  });
  std::vector<float> total(grad.AccumulatorSize());
  acc_totals.Write(total.data());
  grad.Write(total.data(), dw);
  sum_totals.Write(dx_sums);
  return info.Env().Undefined();
}

// bnInference(rows, c, eps, x, mean, variance, offset|null, scale|null, y): each of mean,
// variance, offset, scale has c elements or one.
Napi::Value Inference(const Napi::CallbackInfo& info) {
  CheckRowsChannels(info, "bnInference");
  const int64_t rows = I64(info[0]);
  const int c = I32(info[1]);
  const float eps = Flt(info[2]);
  const float* x = F32(info[3], rows * c, "bnInference x");
  float* y = F32(info[8], rows * c, "bnInference y");
  const char* names[] = {"bnInference mean", "bnInference variance", "bnInference offset", "bnInference scale"};
  for (int i = 4; i <= 7; i++) {
    if (info[i].IsNull() || info[i].IsUndefined()) continue;
    F32(info[i]);
    if (Len(info[i]) != 1) CheckLen(info[i], c, names[i - 4]);  // one value per channel, or one for all
  }
  auto at = [](const Napi::Value& v, int j, float dflt) -> float {
    if (v.IsNull() || v.IsUndefined()) return dflt;
    return F32(v)[Len(v) == 1 ? 0 : j];
  };
  std::vector<float> scale(c), shift(c);
  for (int j = 0; j < c; j++) {
    const double s = at(info[7], j, 1.f) / std::sqrt(static_cast<double>(at(info[5], j, 0.f)) + eps);
    scale[j] = static_cast<float>(s);
    shift[j] = static_cast<float>(at(info[6], j, 0.f) - at(info[4], j, 0.f) * s);
  }
  Affine(rows, c, x, scale.data(), shift.data(), y);
  return info.Env().Undefined();
}

}  // namespace

void InitNorm(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "bnTrainForward", TrainForward);
  Export(env, exports, "bnTrainBackward", TrainBackward);
  Export(env, exports, "bnPooledGradStats", PooledGradStats);
  Export(env, exports, "bnPooledDx", PooledDx);
  Export(env, exports, "bnPooledDxFilterGrad", PooledDxFilterGrad);
  Export(env, exports, "bnInference", Inference);
  Export(env, exports, "affine", AffinePass);
}

}  // namespace tfe
