// Element-wise binary operations with NumPy-style broadcasting, unary maths, and Tile. tfjs's cpu backend
// walks broadcast operands with per-element index arithmetic, hundreds of times slower than a
// loop: this is what makes tf.moments/tf.batchNorm gradients and per-channel arithmetic slow
// there. TypeScript collapses the shapes first, so the innermost loop here is long and each
// operand is either contiguous or constant along it.
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"

namespace tfe {
namespace {

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kSquaredDifference = 4, kMaximum = 5, kMinimum = 6 };

template <int OP>
inline float Apply(float a, float b) {
  if (OP == kAdd) return a + b;
  if (OP == kSub) return a - b;
  if (OP == kMul) return a * b;
  if (OP == kDiv) return a / b;
  if (OP == kSquaredDifference) return (a - b) * (a - b);
  if (OP == kMaximum) return (a > b || a != a) ? a : b;  // NaN wins, as Math.max
  return (a < b || a != a) ? a : b;
}

// One innermost row; AS/BS: 1 when the operand advances along the row, 0 when it is constant.
template <int OP, int AS, int BS>
TFE_VECTOR_CLONES void Row(const float* __restrict a, const float* __restrict b, float* __restrict o, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = Apply<OP>(a[AS * i], b[BS * i]);
}

using RowFn = void (*)(const float*, const float*, float*, int64_t);

template <int OP>
RowFn PickRow(int as, int bs) {
  if (as && bs) return Row<OP, 1, 1>;
  if (as) return Row<OP, 1, 0>;
  if (bs) return Row<OP, 0, 1>;
  return Row<OP, 0, 0>;
}

RowFn Pick(int op, int as, int bs) {
  switch (op) {
    case kAdd: return PickRow<kAdd>(as, bs);
    case kSub: return PickRow<kSub>(as, bs);
    case kMul: return PickRow<kMul>(as, bs);
    case kDiv: return PickRow<kDiv>(as, bs);
    case kSquaredDifference: return PickRow<kSquaredDifference>(as, bs);
    case kMaximum: return PickRow<kMaximum>(as, bs);
    case kMinimum: return PickRow<kMinimum>(as, bs);
    default: throw std::runtime_error("unknown binary op " + std::to_string(op));
  }
}

// Offsets of row `row` (an index over all dimensions but the last) in both operands.
void RowOffsets(int64_t row, int rank, const int32_t* shape, const int32_t* as, const int32_t* bs, int64_t& ao,
                int64_t& bo) {
  ao = bo = 0;
  for (int d = rank - 2; d >= 0; d--) {
    const int64_t i = row % shape[d];
    row /= shape[d];
    ao += i * as[d];
    bo += i * bs[d];
  }
}

// binary(op, shape, aStrides, bStrides, a, b, out): out[idx] = a[idx . aStrides] op b[idx . bStrides]
// for every idx in shape (strides in elements, 0 along broadcast dimensions; the last
// dimension's strides are 0 or 1).
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int op = I32(info[0]);
  const int rank = static_cast<int>(Len(info[1]));
  const int32_t* shape = Params(info[1], rank, "binary shape");
  const int32_t* as = Params(info[2], rank, "binary a strides");
  const int32_t* bs = Params(info[3], rank, "binary b strides");
  const float* a = F32(info[4]);
  const float* b = F32(info[5]);
  float* out = F32(info[6]);
  if (rank == 0) {
    Pick(op, 0, 0)(a, b, out, 1);
    return info.Env().Undefined();
  }
  const int64_t n = shape[rank - 1];
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; d++) rows *= shape[d];
  const RowFn row_fn = Pick(op, as[rank - 1], bs[rank - 1]);
  ParallelSpans(rows, rows * n, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t ao, bo;
      RowOffsets(r, rank, shape, as, bs, ao, bo);
      row_fn(a + ao, b + bo, out + r * n, n);
    }
  });
  return info.Env().Undefined();
}

enum UnaryOp { kSquare = 0, kSqrt = 1, kRsqrt = 2, kNeg = 3, kAbs = 4, kExp = 5, kLog = 6, kSigmoid = 7, kTanh = 8 };

template <int OP>
TFE_VECTOR_CLONES void UnarySpan(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    if (OP == kSquare) y[i] = v * v;
    if (OP == kSqrt) y[i] = std::sqrt(v);
    if (OP == kRsqrt) y[i] = 1.f / std::sqrt(v);
    if (OP == kNeg) y[i] = -v;
    if (OP == kAbs) y[i] = std::fabs(v);
    if (OP == kExp) y[i] = std::exp(v);
    if (OP == kLog) y[i] = std::log(v);
    if (OP == kSigmoid) y[i] = 1.f / (1.f + std::exp(-v));
    if (OP == kTanh) y[i] = std::tanh(v);
  }
}

using UnaryFn = void (*)(const float*, float*, int64_t);

UnaryFn PickUnary(int op) {
  switch (op) {
    case kSquare: return UnarySpan<kSquare>;
    case kSqrt: return UnarySpan<kSqrt>;
    case kRsqrt: return UnarySpan<kRsqrt>;
    case kNeg: return UnarySpan<kNeg>;
    case kAbs: return UnarySpan<kAbs>;
    case kExp: return UnarySpan<kExp>;
    case kLog: return UnarySpan<kLog>;
    case kSigmoid: return UnarySpan<kSigmoid>;
    case kTanh: return UnarySpan<kTanh>;
    default: throw std::runtime_error("unknown unary op " + std::to_string(op));
  }
}

// unary(op, x, out)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const UnaryFn fn = PickUnary(I32(info[0]));
  const int64_t n = Len(info[1]);
  const float* x = F32(info[1]);
  float* y = F32(info[2]);
  ParallelSpans(n, n, [&](int64_t b, int64_t e) { fn(x + b, y + b, e - b); });
  return info.Env().Undefined();
}

// tile(inShape, reps, x, out): out[i] = x[i mod inShape] per dimension (tfjs's Tile).
Napi::Value Tile(const Napi::CallbackInfo& info) {
  const int rank = static_cast<int>(Len(info[0]));
  const int32_t* in = Params(info[0], rank, "tile shape");
  const int32_t* reps = Params(info[1], rank, "tile reps");
  const float* x = F32(info[2]);
  float* out = F32(info[3]);
  if (rank == 0) {
    out[0] = x[0];
    return info.Env().Undefined();
  }
  std::vector<int64_t> oshape(rank), istride(rank);
  for (int d = 0; d < rank; d++) oshape[d] = static_cast<int64_t>(in[d]) * reps[d];
  istride[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) istride[d] = istride[d + 1] * in[d + 1];
  const int64_t last_in = in[rank - 1], last_out = oshape[rank - 1];
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; d++) rows *= oshape[d];
  ParallelSpans(rows, rows * last_out, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t rem = r, src = 0;
      for (int d = rank - 2; d >= 0; d--) {
        const int64_t i = rem % oshape[d];
        rem /= oshape[d];
        src += (i % in[d]) * istride[d];
      }
      float* o = out + r * last_out;
      for (int64_t k = 0; k < last_out; k += last_in) std::memcpy(o + k, x + src, last_in * sizeof(float));
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitBinary(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "binary", Binary);
  Export(env, exports, "unary", Unary);
  Export(env, exports, "tile", Tile);
}

}  // namespace tfe
