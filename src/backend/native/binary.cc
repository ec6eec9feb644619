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

template <int OP>
inline float Apply(float a, float b) {
  if (OP == kBinaryAdd) return a + b;
  if (OP == kBinarySub) return a - b;
  if (OP == kBinaryMultiply) return a * b;
  if (OP == kBinaryRealDiv) return a / b;
  if (OP == kBinarySquaredDifference) return (a - b) * (a - b);
  if (OP == kBinaryMaximum) return (a > b || a != a) ? a : b;  // NaN wins, as Math.max
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
    case kBinaryAdd: return PickRow<kBinaryAdd>(as, bs);
    case kBinarySub: return PickRow<kBinarySub>(as, bs);
    case kBinaryMultiply: return PickRow<kBinaryMultiply>(as, bs);
    case kBinaryRealDiv: return PickRow<kBinaryRealDiv>(as, bs);
    case kBinarySquaredDifference: return PickRow<kBinarySquaredDifference>(as, bs);
    case kBinaryMaximum: return PickRow<kBinaryMaximum>(as, bs);
    case kBinaryMinimum: return PickRow<kBinaryMinimum>(as, bs);
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
  // Each operand spans 1 + sum((shape - 1) * stride) elements (its own size: strides are its
  // row-major strides, 0 where it broadcasts); nothing is read when the output is empty.
  int64_t count = 1, a_len = 1, b_len = 1;
  for (int d = 0; d < rank; d++) {
    if (shape[d] < 0 || as[d] < 0 || bs[d] < 0) throw Napi::Error::New(info.Env(), "binary: negative shape or stride");
    count *= shape[d];
    a_len += static_cast<int64_t>(shape[d] - 1) * as[d];
    b_len += static_cast<int64_t>(shape[d] - 1) * bs[d];
  }
  if (rank > 0 && (as[rank - 1] > 1 || bs[rank - 1] > 1)) throw Napi::Error::New(info.Env(), "binary: the last dimension's strides must be 0 or 1");
  float* out = F32(info[6], count, "binary out");
  if (count == 0) return info.Env().Undefined();
  const float* a = F32(info[4], a_len, "binary a");
  const float* b = F32(info[5], b_len, "binary b");
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

template <int OP>
TFE_VECTOR_CLONES void UnarySpan(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    if (OP == kUnarySquare) y[i] = v * v;
    if (OP == kUnarySqrt) y[i] = std::sqrt(v);
    if (OP == kUnaryRsqrt) y[i] = 1.f / std::sqrt(v);
    if (OP == kUnaryNeg) y[i] = -v;
    if (OP == kUnaryAbs) y[i] = std::fabs(v);
    if (OP == kUnaryExp) y[i] = std::exp(v);
    if (OP == kUnaryLog) y[i] = std::log(v);
    if (OP == kUnarySigmoid) y[i] = 1.f / (1.f + std::exp(-v));
    if (OP == kUnaryTanh) y[i] = std::tanh(v);
  }
}

using UnaryFn = void (*)(const float*, float*, int64_t);

UnaryFn PickUnary(int op) {
  switch (op) {
    case kUnarySquare: return UnarySpan<kUnarySquare>;
    case kUnarySqrt: return UnarySpan<kUnarySqrt>;
    case kUnaryRsqrt: return UnarySpan<kUnaryRsqrt>;
    case kUnaryNeg: return UnarySpan<kUnaryNeg>;
    case kUnaryAbs: return UnarySpan<kUnaryAbs>;
    case kUnaryExp: return UnarySpan<kUnaryExp>;
    case kUnaryLog: return UnarySpan<kUnaryLog>;
    case kUnarySigmoid: return UnarySpan<kUnarySigmoid>;
    case kUnaryTanh: return UnarySpan<kUnaryTanh>;
    default: throw std::runtime_error("unknown unary op " + std::to_string(op));
  }
}

// unary(op, x, out)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const UnaryFn fn = PickUnary(I32(info[0]));
  const float* x = F32(info[1]);
  const int64_t n = Len(info[1]);
  float* y = F32(info[2], n, "unary out");
  ParallelSpans(n, n, [&](int64_t b, int64_t e) { fn(x + b, y + b, e - b); });
  return info.Env().Undefined();
}

// tile(inShape, reps, x, out): out[i] = x[i mod inShape] per dimension (tfjs's Tile).
Napi::Value Tile(const Napi::CallbackInfo& info) {
  const int rank = static_cast<int>(Len(info[0]));
  const int32_t* in = Params(info[0], rank, "tile shape");
  const int32_t* reps = Params(info[1], rank, "tile reps");
  int64_t in_count = 1, out_count = 1;
  for (int d = 0; d < rank; d++) {
    if (in[d] < 0 || reps[d] < 0) throw Napi::Error::New(info.Env(), "tile: negative shape or reps");
    in_count *= in[d];
    out_count *= static_cast<int64_t>(in[d]) * reps[d];
  }
  const float* x = F32(info[2], in_count, "tile x");
  float* out = F32(info[3], out_count, "tile out");
  if (out_count == 0) return info.Env().Undefined();
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
