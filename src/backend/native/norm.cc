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

// bnTrainBackwardPooled(poolShape, eps, x, dyPooled, ws, scale, shift, mean, variance, gamma,
// dx, dgamma, dbeta[, dxSums]): the gradient of batch norm -> relu -> max pooling in one kernel, where
// the relu and the pooling read x * scale + shift on the fly (maxPoolArgmax with scale, shift)
// and neither the batch norm's nor the relu's output was written. dy is the pooling's output
// gradient: the sums visit only the windows' maxima (x there is in the workspace); dx is one
// pass per image plus a scatter of dy while the image is in cache. Memory traffic: x read and
// dx written once, against five reads and two writes of full-size tensors for the three
// gradients one by one. dxSums, when given, gets dx summed per channel: the gradient of the
// bias of a convolution before the batch norm, without reading dx again.
Napi::Value TrainBackwardPooled(const Napi::CallbackInfo& info) {
  int64_t n;
  const PoolGeom g = Geometry(info[0], &n);
  const int c = static_cast<int>(g.c);
  const int64_t pixels = g.ih * g.iw, in_size = pixels * g.c, out_size = g.oh * g.ow * g.c, rows = n * pixels;
  const float eps = Flt(info[1]);
  const float* x = F32(info[2], n * in_size, "bnTrainBackwardPooled x");
  const float* dy = F32(info[3], n * out_size, "bnTrainBackwardPooled dy");
  const int32_t* ws = reinterpret_cast<const int32_t*>(F32(info[4], 2 * n * out_size, "bnTrainBackwardPooled workspace"));
  const char* per_channel = "bnTrainBackwardPooled per-channel argument";
  const float* scale = F32(info[5], c, per_channel);
  const float* shift = F32(info[6], c, per_channel);
  const float* mean = F32(info[7], c, per_channel);
  const float* var = F32(info[8], c, per_channel);
  const float* gamma = F32(info[9], c, per_channel);
  float* dx = F32(info[10], n * in_size, "bnTrainBackwardPooled dx");
  float* dgamma = F32(info[11], c, per_channel);
  float* dbeta = F32(info[12], c, per_channel);
  float* dx_sums = info.Length() > 13 ? F32OrNull(info[13], c, "bnTrainBackwardPooled dxSums") : nullptr;
  std::vector<double> sdy(c, 0.0), sdyx(c, 0.0), sdx(c, 0.0);
  ParallelSpans(n, n * in_size, [&](int64_t begin, int64_t end) {
    std::vector<float> a(c), b(c);
    std::vector<double> da(c, 0.0), db(c, 0.0);
    for (int64_t img = begin; img < end; img++) {
      std::fill(a.begin(), a.end(), 0.f);
      std::fill(b.begin(), b.end(), 0.f);
      PooledGradSums(g, dy + img * out_size, ws + 2 * img * out_size, scale, shift, mean, a.data(), b.data());
      for (int j = 0; j < c; j++) da[j] += a[j], db[j] += b[j];
    }
#pragma omp critical
    for (int j = 0; j < c; j++) sdy[j] += da[j], sdyx[j] += db[j];
  });
  const GradConstants k = GradientConstants(rows, c, eps, var, gamma, sdy, sdyx, dgamma, dbeta);
  ParallelSpans(n, n * in_size, [&](int64_t begin, int64_t end) {
    std::vector<float> part(c);
    std::vector<double> sums(c, 0.0);
    for (int64_t img = begin; img < end; img++) {
      const float* xi = x + img * in_size;
      float* dxi = dx + img * in_size;
      GradRowsWithoutDy(xi, mean, k.k0.data(), k.k3.data(), 0, pixels, c, dxi);
      const float* dyi = dy + img * out_size;
      const int32_t* wsi = ws + 2 * img * out_size;
      const float* wsx = reinterpret_cast<const float*>(wsi + out_size);
      for (int64_t o = 0; o < out_size; o += c)
        for (int j = 0; j < c; j++) {
          const int32_t at = wsi[o + j];
          const bool valid = static_cast<uint32_t>(at) < static_cast<uint64_t>(pixels);
          const bool pass = valid && AffineValue(wsx[o + j], scale[j], shift[j]) > 0.f;
          dxi[(valid ? at : 0) * static_cast<int64_t>(c) + j] += pass ? k.k1[j] * dyi[o + j] : 0.f;  // branch-free
        }
      if (dx_sums) {  // while the image is in cache: the per-channel sums of dx
        std::fill(part.begin(), part.end(), 0.f);
        ChannelSumRows(dxi, 0, pixels, c, part.data());
        for (int j = 0; j < c; j++) sums[j] += part[j];
      }
    }
    if (dx_sums) {
#pragma omp critical
      for (int j = 0; j < c; j++) sdx[j] += sums[j];
    }
  });
  if (dx_sums)
    for (int j = 0; j < c; j++) dx_sums[j] = static_cast<float>(sdx[j]);
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
  Export(env, exports, "bnTrainBackwardPooled", TrainBackwardPooled);
  Export(env, exports, "bnInference", Inference);
  Export(env, exports, "affine", AffinePass);
}

}  // namespace tfe
