// The `native` backend's kernels over the addon. Each reads the backend's Float32Arrays in place
// and writes into a recycled output buffer; cases the addon does not cover (NCHW, non-float
// inputs, prelu, unusual broadcasts) go to the cpu kernel of the same name.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './addon';
import type { NativeBackend } from './index';
import { ADAM_UPDATE, BN_TRAIN, BN_TRAIN_GRAD, CONV2D, MAX_POOL, MAX_POOL_GRAD, MEAN_GRAD, RELU_GRAD, SPARSE_XENT, SPARSE_XENT_GRAD } from '../custom-kernels';
import type { MaxPoolAttrs } from '../custom-kernels';

type Inputs = Record<string, tf.TensorInfo | undefined>;
type KernelArgs = { inputs: Inputs; backend: NativeBackend; attrs?: tf.NamedAttrMap };
type Conv2DInfo = tf.backend_util.Conv2DInfo;
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

/** Activation codes shared with the addon (common.h). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };

const size = (shape: number[]): number => shape.reduce((a, c) => a * c, 1);

// A float32 tensor's values are not always a Float32Array: the cpu backend's Cast from int32
// or bool to float32 keeps the integer array under the new dtype. Such inputs are converted.
function f32(b: NativeBackend, t: tf.TensorInfo): Float32Array {
  const v = b.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

function i32(b: NativeBackend, t: tf.TensorInfo): Int32Array {
  const v = b.data.get(t.dataId).values;
  return v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>);
}

function isF32(...ts: Array<tf.TensorInfo | undefined>): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

function convShape(c: Conv2DInfo, groups = 1): Int32Array {
  const p = c.padInfo;
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth, c.outChannels,
    c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth,
    p.top, p.left, p.bottom, p.right, groups,
  ]);
}

function poolShape(c: Conv2DInfo): Int32Array {
  const p = c.padInfo;
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth,
    c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth, p.top, p.left, p.bottom, p.right,
  ]);
}

/** Shapes oneDNN can take: padding non-negative on every side, nothing empty. */
function paddingOk(c: Conv2DInfo): boolean {
  const p = c.padInfo;
  return p.top >= 0 && p.left >= 0 && p.bottom >= 0 && p.right >= 0 && c.dilationHeight >= 1 && c.dilationWidth >= 1 && size(c.inShape) > 0 && size(c.outShape) > 0;
}

/** [outer, reduced, inner] sizes when the axes form one contiguous block, else undefined. */
function reductionView(shape: number[], axis: number | number[] | undefined): [number, number, number] | undefined {
  const axes = tf.util.parseAxisParam(axis ?? [...shape.keys()], shape).sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return undefined;
  return [size(shape.slice(0, axes[0])), size(shape.slice(axes[0], axes[axes.length - 1] + 1)), size(shape.slice(axes[axes.length - 1] + 1))];
}

function reducedShape(shape: number[], axis: number | number[] | undefined, keepDims: boolean): number[] {
  const axes = new Set(tf.util.parseAxisParam(axis ?? [...shape.keys()], shape));
  return keepDims ? shape.map((d, i) => (axes.has(i) ? 1 : d)) : shape.filter((_, i) => !axes.has(i));
}

/** A bias the addon can add: float32 with one value per output channel. */
function channelBias(bias: tf.TensorInfo | undefined, channels: number): boolean {
  return !bias || (isF32(bias) && size(bias.shape) === channels && (bias.shape.length === 0 ? channels === 1 : bias.shape[bias.shape.length - 1] === channels));
}

/** Binary operation codes shared with the addon (binary.cc). */
const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4, Maximum: 5, Minimum: 6 };

/** Unary operation codes shared with the addon (binary.cc). */
const UNARY_OPS: Record<string, number> = { Square: 0, Sqrt: 1, Rsqrt: 2, Neg: 3, Abs: 4, Exp: 5, Log: 6, Sigmoid: 7, Tanh: 8 };

/** Below this many output elements the cpu backend's own loops are as fast as a native call. */
const SMALL = 4096;

/**
 * Broadcasting a op b as few dimensions as possible: size-1 dimensions dropped and runs of
 * dimensions merged where both operands are laid out contiguously (or both constant) across
 * them, so that [N,H,W,C] op [C] becomes [NHW, C] with b's strides [0, 1].
 */
export function broadcastPlan(aShape: number[], bShape: number[]): { outShape: number[]; shape: number[]; as: number[]; bs: number[] } {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const rank = outShape.length;
  const stridesOf = (s: number[]) => {
    const own = s.map((_, i) => size(s.slice(i + 1)));
    return outShape.map((d, i) => {
      const j = i - (rank - s.length);
      return j < 0 || s[j] === 1 ? 0 : own[j];
    });
  };
  const [sa, sb] = [stridesOf(aShape), stridesOf(bShape)];
  const shape: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  outShape.forEach((d, i) => {
    if (d === 1) return;
    const last = shape.length - 1;
    if (last >= 0 && as[last] === sa[i] * d && bs[last] === sb[i] * d) {
      shape[last] *= d;
      as[last] = sa[i];
      bs[last] = sb[i];
    } else {
      shape.push(d);
      as.push(sa[i]);
      bs.push(sb[i]);
    }
  });
  return { outShape, shape, as, bs };
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: Rounding;
  activation?: string;
  leakyreluAlpha?: number;
}

const fallbackCounts = new Map<string, number>();

/** How often each native kernel handed its arguments to the cpu kernel (tests check it is 0). */
export function nativeFallbacks(reset = false): Record<string, number> {
  const r = Object.fromEntries(fallbackCounts);
  if (reset) fallbackCounts.clear();
  return r;
}

export function nativeKernels(addon: NativeAddon, cpu: (name: string) => tf.KernelFunc): tf.KernelConfig[] {
  const fallback = (name: string, args: KernelArgs) => {
    fallbackCounts.set(name, (fallbackCounts.get(name) ?? 0) + 1);
    return cpu(name)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  };
  const k = (kernelName: string, fn: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig => ({
    kernelName,
    backendName: 'native',
    kernelFunc: fn as unknown as tf.KernelFunc,
  });

  /** Forward convolution (plain or depthwise) with optional bias and activation; undefined = not ours. */
  const convForward = (args: KernelArgs, depthwise: boolean): tf.TensorInfo | undefined => {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs;
    const act = a.activation ?? 'linear';
    if (!x || !filter || a.dataFormat === 'NCHW' || !isF32(x, filter) || preluActivationWeights || !(act in ACTIVATIONS)) return undefined;
    const c = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise, 'channelsLast');
    if (!paddingOk(c) || !channelBias(bias, c.outChannels)) return undefined;
    const o = args.backend.output(c.outShape);
    const b = args.backend;
    addon.conv2dForward(convShape(c, depthwise ? c.inChannels : 1), f32(b, x), f32(b, filter), bias ? f32(b, bias) : null, ACTIVATIONS[act], a.leakyreluAlpha ?? 0.2, o.values);
    return o.info;
  };

  const convBackpropInput = (args: KernelArgs, depthwise: boolean): tf.TensorInfo | undefined => {
    const { dy, filter } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
    if (!dy || !filter || a.dataFormat === 'NCHW' || !isF32(dy, filter)) return undefined;
    const c = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise, 'channelsLast');
    if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape)) return undefined;
    const o = args.backend.output(a.inputShape);
    addon.conv2dBackpropInput(convShape(c, depthwise ? c.inChannels : 1), f32(args.backend, dy), f32(args.backend, filter), o.values);
    return o.info;
  };

  const convBackpropFilter = (args: KernelArgs, depthwise: boolean): tf.TensorInfo | undefined => {
    const { x, dy } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
    if (!x || !dy || a.dataFormat === 'NCHW' || !isF32(x, dy)) return undefined;
    const c = tf.backend_util.computeConv2DInfo(x.shape as Shape4, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise, 'channelsLast');
    if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape)) return undefined;
    const o = args.backend.output(a.filterShape);
    addon.conv2dBackpropFilter(convShape(c, depthwise ? c.inChannels : 1), f32(args.backend, x), f32(args.backend, dy), o.values);
    return o.info;
  };

  const matmul = (args: KernelArgs): tf.TensorInfo | undefined => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const at = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
    const act = at.activation ?? 'linear';
    if (!a || !b || !isF32(a, b) || preluActivationWeights || !(act in ACTIVATIONS) || a.shape.length < 2 || b.shape.length < 2) return undefined;
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const [batchA, batchB] = [size(outerA), size(outerB)];
    // Same batch shape, or one side without a batch to broadcast; other broadcasts go to cpu.
    let outer: number[];
    if (tf.util.arraysEqual(outerA, outerB)) outer = outerA;
    else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
    else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
    else return undefined;
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const [m, kA] = at.transposeA ? [ca, ra] : [ra, ca];
    const [kB, n] = at.transposeB ? [cb, rb] : [rb, cb];
    if (kA !== kB || !channelBias(bias, n) || m * n === 0 || kA === 0) return undefined;
    const o = args.backend.output([...outer, m, n]);
    const be = args.backend;
    addon.matmul(Int32Array.from([batchA, batchB, m, kA, n, at.transposeA ? 1 : 0, at.transposeB ? 1 : 0]), f32(be, a), f32(be, b), bias ? f32(be, bias) : null, ACTIVATIONS[act], at.leakyreluAlpha ?? 0.2, o.values);
    return o.info;
  };

  const binary = (name: string) =>
    k(name, (args) => {
      const { a, b } = args.inputs;
      if (!a || !b || !isF32(a, b)) return fallback(name, args);
      const plan = broadcastPlan(a.shape, b.shape);
      if (size(plan.outShape) < SMALL) return cpu(name)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
      const o = args.backend.output(plan.outShape);
      addon.binary(BINARY_OPS[name], Int32Array.from(plan.shape), Int32Array.from(plan.as), Int32Array.from(plan.bs), f32(args.backend, a), f32(args.backend, b), o.values);
      return o.info;
    });

  /**
   * Sums x over the given axes into out, times scale: one pass per run of adjacent axes, the
   * last run first ([A,B,C,D] over axes 0 and 2: over C, then over A).
   */
  const reduceSum = (b: NativeBackend, x: tf.TensorInfo, axes: number[], scale: number, out: Float32Array) => {
    const runs: number[][] = [];
    for (const ax of [...axes].sort((p, q) => p - q)) {
      const run = runs[runs.length - 1];
      if (run && run[run.length - 1] === ax - 1) run.push(ax);
      else runs.push([ax]);
    }
    let shape = x.shape.slice();
    let src = f32(b, x);
    const temps: tf.TensorInfo[] = [];
    for (let r = runs.length - 1; r >= 0; r--) {
      const [first, last] = [runs[r][0], runs[r][runs[r].length - 1]];
      const outer = size(shape.slice(0, first));
      const reduce = size(shape.slice(first, last + 1));
      const inner = size(shape.slice(last + 1));
      const tmp = r === 0 ? undefined : b.output([outer * inner]);
      if (tmp) temps.push(tmp.info);
      const values = tmp ? tmp.values : out;
      addon.reduceSum(outer, reduce, inner, r === 0 ? scale : 1, src, values);
      shape = [...shape.slice(0, first), ...shape.slice(last + 1)];
      src = values;
    }
    for (const t of temps) b.disposeIntermediateTensorInfo(t);
  };

  const ours = (name: string, depthwise: boolean, fn: (args: KernelArgs, depthwise: boolean) => tf.TensorInfo | undefined) =>
    k(name, (args) => fn(args, depthwise) ?? fallback(name, args));

  return [
    ours('Conv2D', false, convForward),
    ours('FusedConv2D', false, convForward),
    ours('DepthwiseConv2dNative', true, convForward),
    ours('FusedDepthwiseConv2D', true, convForward),
    ours('Conv2DBackpropInput', false, convBackpropInput),
    ours('DepthwiseConv2dNativeBackpropInput', true, convBackpropInput),
    ours('Conv2DBackpropFilter', false, convBackpropFilter),
    ours('DepthwiseConv2dNativeBackpropFilter', true, convBackpropFilter),
    ours('BatchMatMul', false, matmul),
    ours('_FusedMatMul', false, matmul),
    ...Object.keys(BINARY_OPS).map(binary),
    ...Object.keys(UNARY_OPS).map((name) =>
      k(name, (args) => {
        const x = args.inputs.x!;
        if (!isF32(x)) return fallback(name, args);
        if (size(x.shape) < SMALL) return cpu(name)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
        const o = args.backend.output(x.shape);
        addon.unary(UNARY_OPS[name], f32(args.backend, x), o.values);
        return o.info;
      }),
    ),
    k('Tile', (args) => {
      const x = args.inputs.x!;
      const reps = (args.attrs as unknown as { reps: number[] }).reps;
      if (!isF32(x) || x.shape.length === 0) return fallback('Tile', args);
      const outShape = x.shape.map((d, i) => d * reps[i]);
      if (size(outShape) < SMALL) return cpu('Tile')(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
      const o = args.backend.output(outShape);
      addon.tile(Int32Array.from(x.shape), Int32Array.from(reps), f32(args.backend, x), o.values);
      return o.info;
    }),
    k(CONV2D, (args) => {
      const out = convForward(args, false);
      if (!out) throw new Error(`${CONV2D}: unsupported arguments (the conv2d helper should have used tf.fused.conv2d)`);
      return out;
    }),
    ...(['MaxPool', 'AvgPool'] as const).map((name) =>
      k(name, (args) => {
        const { x } = args.inputs;
        const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
        if (!x || !isF32(x) || x.shape.length !== 4) return fallback(name, args);
        const c = tf.backend_util.computePool2DInfo(x.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
        if (!paddingOk(c) || size(c.outShape) === 0 || (c.filterWidth === 1 && c.filterHeight === 1 && tf.util.arraysEqual(c.inShape, c.outShape))) return fallback(name, args);
        const o = args.backend.output(c.outShape);
        addon.poolForward(poolShape(c), name === 'MaxPool' ? 0 : 1, f32(args.backend, x), o.values);
        return o.info;
      }),
    ),
    k('MaxPoolGrad', (args) => {
      const { dy, input } = args.inputs;
      const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
      if (!dy || !input || !isF32(dy, input)) return fallback('MaxPoolGrad', args);
      const c = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape)) return fallback('MaxPoolGrad', args);
      const o = args.backend.output(input.shape);
      addon.maxPoolBackward(poolShape(c), f32(args.backend, input), f32(args.backend, dy), o.values);
      return o.info;
    }),
    k(MAX_POOL, (args) => {
      const x = args.inputs.x!;
      const a = args.attrs as unknown as MaxPoolAttrs;
      const c = tf.backend_util.computePool2DInfo(x.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      if (!paddingOk(c)) throw new Error(`${MAX_POOL}: unsupported arguments (the maxPool helper should have used tf.maxPool)`);
      const b = args.backend;
      const shape = poolShape(c);
      const y = b.output(c.outShape);
      const ws = b.output([addon.maxPoolWorkspaceSize(shape)]);
      addon.maxPoolTrain(shape, f32(b, x), y.values, ws.values);
      return [y.info, ws.info];
    }),
    k(MAX_POOL_GRAD, (args) => {
      const { dy, workspace } = args.inputs as Record<string, tf.TensorInfo>;
      const a = args.attrs as unknown as MaxPoolAttrs;
      const c = tf.backend_util.computePool2DInfo(a.inShape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      const b = args.backend;
      const dx = b.output(a.inShape);
      addon.maxPoolBackwardWs(poolShape(c), f32(b, dy), f32(b, workspace), dx.values);
      return dx.info;
    }),
    k('AvgPoolGrad', (args) => {
      const { dy, input } = args.inputs;
      const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
      if (!dy || !input || !isF32(dy, input)) return fallback('AvgPoolGrad', args);
      const c = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape) || size(c.outShape) === 0) return fallback('AvgPoolGrad', args);
      const o = args.backend.output(input.shape);
      // tfjs's AvgPoolGrad spreads over the whole window, padding included (its forward does not).
      addon.avgPoolBackward(poolShape(c), 2, f32(args.backend, dy), o.values);
      return o.info;
    }),
    ...(['Sum', 'Mean'] as const).map((name) =>
      k(name, (args) => {
        const { x } = args.inputs;
        const a = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
        if (!x || !isF32(x) || size(x.shape) === 0) return fallback(name, args);
        const axes = tf.util.parseAxisParam(a.axis ?? [...x.shape.keys()], x.shape);
        const count = axes.reduce((p, ax) => p * x.shape[ax], 1);
        const o = args.backend.output(reducedShape(x.shape, a.axis, a.keepDims));
        if (axes.length === 0) {
          o.values.set(f32(args.backend, x));
          return o.info;
        }
        reduceSum(args.backend, x, axes, name === 'Mean' ? 1 / count : 1, o.values);
        return o.info;
      }),
    ),
    k(MEAN_GRAD, (args) => {
      const dy = args.inputs.dy!;
      const a = args.attrs as unknown as { shape: number[]; axis: number[]; scale: number };
      const view = reductionView(a.shape, a.axis);
      if (view) {
        const o = args.backend.output(a.shape);
        addon.broadcastMiddle(view[0], view[1], view[2], a.scale, f32(args.backend, dy), o.values);
        return o.info;
      }
      // Scattered axes: broadcast with tfjs ops (rare: the global mean of a CNN is contiguous).
      const kept = a.shape.map((s, i) => (a.axis.includes(i) ? 1 : s));
      const r = tf.tidy(() => tf.mul(tf.reshape(tf.engine().makeTensorFromTensorInfo(dy), kept), tf.fill(a.shape, a.scale)));
      tf.keep(r);
      return { dataId: r.dataId, shape: r.shape, dtype: r.dtype };
    }),
    k('Relu', (args) => {
      const x = args.inputs.x!;
      if (!isF32(x)) return fallback('Relu', args);
      const o = args.backend.output(x.shape);
      const p = args.backend.pendingOf(x.dataId);
      if (p?.kind === 'affine') {
        // Batch norm + relu in one pass; the batch norm output itself stays uncomputed.
        addon.affine(p.rows, p.channels, p.src, p.scale, p.shift, true, o.values);
        return o.info;
      }
      addon.relu(f32(args.backend, x), o.values);
      return o.info;
    }),
    k(RELU_GRAD, (args) => {
      const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      // Left pending: a batch norm gradient reading it masks dy in its own passes.
      return args.backend.deferred(x.shape, { kind: 'reluGrad', dy: f32(args.backend, dy), reluOut: f32(args.backend, x) });
    }),
    k('FusedBatchNorm', (args) => {
      const { x, mean, variance, offset, scale } = args.inputs;
      const eps = (args.attrs as { varianceEpsilon: number }).varianceEpsilon;
      if (!x || !mean || !variance || !isF32(x, mean, variance, offset, scale) || x.shape.length === 0) return fallback('FusedBatchNorm', args);
      const ch = x.shape[x.shape.length - 1];
      // Parameters of one value per channel (or a single value); other broadcasts go to cpu.
      if (![mean, variance, offset, scale].every((t) => !t || size(t.shape) === ch || size(t.shape) === 1) || ch === 0) return fallback('FusedBatchNorm', args);
      const b = args.backend;
      const o = b.output(x.shape);
      addon.bnInference(size(x.shape) / ch, ch, eps, f32(b, x), f32(b, mean), f32(b, variance), offset ? f32(b, offset) : null, scale ? f32(b, scale) : null, o.values);
      return o.info;
    }),
    k(BN_TRAIN, (args) => {
      const { x, scale, offset } = args.inputs as Record<string, tf.TensorInfo>;
      const eps = (args.attrs as { epsilon: number }).epsilon;
      const ch = x.shape[x.shape.length - 1];
      const b = args.backend;
      const rows = size(x.shape) / ch;
      const src = f32(b, x);
      const mean = b.output([ch]);
      const variance = b.output([ch]);
      const [a, s] = [new Float32Array(ch), new Float32Array(ch)];
      addon.bnTrainForward(rows, ch, eps, src, f32(b, scale), f32(b, offset), null, mean.values, variance.values, a, s);
      // y's pass waits for its reader: a relu after it computes relu(y) in that one pass.
      const y = b.deferred(x.shape, { kind: 'affine', rows, channels: ch, src, scale: a, shift: s });
      return [y, mean.info, variance.info];
    }),
    k(BN_TRAIN_GRAD, (args) => {
      const { x, dy, mean, variance, scale } = args.inputs as Record<string, tf.TensorInfo>;
      const eps = (args.attrs as { epsilon: number }).epsilon;
      const ch = x.shape[x.shape.length - 1];
      const b = args.backend;
      const dx = b.output(x.shape);
      const dscale = b.output([ch]);
      const doffset = b.output([ch]);
      const p = b.pendingOf(dy.dataId);
      // After a relu: its gradient's mask is applied on the fly (one kernel for both).
      const [d, mask] = p?.kind === 'reluGrad' ? [p.dy, p.reluOut] : [f32(b, dy), null];
      addon.bnTrainBackward(size(x.shape) / ch, ch, eps, f32(b, x), d, f32(b, mean), f32(b, variance), f32(b, scale), dx.values, dscale.values, doffset.values, mask);
      return [dx.info, dscale.info, doffset.info];
    }),
    k(SPARSE_XENT, (args) => {
      const { logits, labels } = args.inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = logits.shape;
      const b = args.backend;
      const loss = b.output([rows]);
      const softmax = b.output(logits.shape);
      addon.sparseSoftmaxXent(rows, classes, f32(b, logits), i32(b, labels), loss.values, softmax.values);
      return [loss.info, softmax.info];
    }),
    k(SPARSE_XENT_GRAD, (args) => {
      const { softmax, labels, dloss } = args.inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = softmax.shape;
      const b = args.backend;
      const d = b.output(softmax.shape);
      addon.sparseSoftmaxXentGrad(rows, classes, f32(b, softmax), i32(b, labels), f32(b, dloss), d.values);
      return d.info;
    }),
    k(ADAM_UPDATE, (args) => {
      const { v, m, s, g } = args.inputs as Record<string, tf.TensorInfo>;
      const a = args.attrs as { lr: number; beta1: number; beta2: number; epsilon: number };
      // Fresh outputs (not in place): the step's tape may still hold the old values.
      const b = args.backend;
      const nv = b.output(v.shape);
      const nm = b.output(v.shape);
      const ns = b.output(v.shape);
      addon.adamUpdate(f32(b, v), f32(b, m), f32(b, s), f32(b, g), nv.values, nm.values, ns.values, a.lr, a.beta1, a.beta2, a.epsilon);
      return [nv.info, nm.info, ns.info];
    }),
  ];
}
