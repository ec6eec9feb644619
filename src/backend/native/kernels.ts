// The `native` backend's kernels over oneDNN. Each reads the cpu backend's Float32Arrays in
// place and writes a fresh output; shapes oneDNN can't take here (NCHW, non-float inputs,
// activations other than relu) go to the cpu kernel of the same name.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon';
import { ADAM_UPDATE, BN_TRAIN, BN_TRAIN_GRAD, MEAN_GRAD, RELU_GRAD } from '../custom-kernels';

type Backend = MathBackendCPU;
// Kernels check which optional inputs (bias, prelu weights) are present themselves.
type Inputs = Record<string, tf.TensorInfo>;
type KernelArgs = { inputs: Inputs; backend: Backend; attrs?: tf.NamedAttrMap };

function f32(b: Backend, t: tf.TensorInfo): Float32Array {
  const v = b.data.get(t.dataId).values;
  // The cpu backend may keep a float32 tensor in another typed array (a cast from int32 does):
  // native code needs real float32 storage.
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

function isF32(...ts: Array<tf.TensorInfo | undefined>): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

function out(b: Backend, shape: number[]): { info: tf.TensorInfo; values: Float32Array } {
  const values = new Float32Array(shape.reduce((a, c) => a * c, 1));
  return { info: b.makeTensorInfo(shape, 'float32', values), values };
}

function convShape(c: tf.backend_util.Conv2DInfo): Int32Array {
  const p = c.padInfo;
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth, c.outChannels,
    c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth,
    p.top, p.left, p.bottom, p.right,
  ]);
}

function poolShape(c: tf.backend_util.Conv2DInfo): Int32Array {
  const p = c.padInfo;
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth,
    c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth, p.top, p.left, p.bottom, p.right,
  ]);
}

/** Padding oneDNN can express: non-negative and consistent with the output size. */
function paddingOk(c: tf.backend_util.Conv2DInfo): boolean {
  const p = c.padInfo;
  return p.top >= 0 && p.left >= 0 && p.bottom >= 0 && p.right >= 0 && c.dilationHeight >= 1 && c.dilationWidth >= 1;
}

/** [outer, reduced, inner] sizes when the axes form one contiguous block, else undefined. */
function reductionView(shape: number[], axis: number | number[] | undefined): [number, number, number] | undefined {
  const axes = tf.util.parseAxisParam(axis ?? [...shape.keys()], shape).sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return undefined;
  const prod = (a: number[]) => a.reduce((p, q) => p * q, 1);
  return [prod(shape.slice(0, axes[0])), prod(shape.slice(axes[0], axes[axes.length - 1] + 1)), prod(shape.slice(axes[axes.length - 1] + 1))];
}

function reducedShape(shape: number[], axis: number | number[] | undefined, keepDims: boolean): number[] {
  const axes = new Set(tf.util.parseAxisParam(axis ?? [...shape.keys()], shape));
  return keepDims ? shape.map((d, i) => (axes.has(i) ? 1 : d)) : shape.filter((_, i) => !axes.has(i));
}

export function nativeKernels(addon: NativeAddon, cpu: (name: string) => tf.KernelFunc): tf.KernelConfig[] {
  const fallback = (name: string, args: KernelArgs) => cpu(name)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const k = (kernelName: string, fn: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig => ({
    kernelName,
    backendName: 'native',
    kernelFunc: fn as unknown as tf.KernelFunc,
  });

  return [
    k('Conv2D', (args) => {
      const { x, filter } = args.inputs;
      const a = args.attrs as unknown as { strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dilations: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
      if (a.dataFormat === 'NCHW' || !isF32(x, filter)) return fallback('Conv2D', args);
      const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode, false, 'channelsLast');
      if (!paddingOk(c)) return fallback('Conv2D', args);
      const o = out(args.backend, c.outShape);
      addon.conv2dForward(convShape(c), f32(args.backend, x), f32(args.backend, filter), null, false, o.values);
      return o.info;
    }),
    k('FusedConv2D', (args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs;
      const a = args.attrs as unknown as { strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dilations: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil'; activation: string };
      const act = a.activation ?? 'linear';
      const outChannels = filter.shape[3];
      const biasOk = !bias || (bias.shape.reduce((p, q) => p * q, 1) === outChannels && isF32(bias));
      if (a.dataFormat === 'NCHW' || !isF32(x, filter) || preluActivationWeights || !biasOk || (act !== 'linear' && act !== 'relu')) {
        return fallback('FusedConv2D', args);
      }
      const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode, false, 'channelsLast');
      if (!paddingOk(c)) return fallback('FusedConv2D', args);
      const o = out(args.backend, c.outShape);
      addon.conv2dForward(convShape(c), f32(args.backend, x), f32(args.backend, filter), bias ? f32(args.backend, bias) : null, act === 'relu', o.values);
      return o.info;
    }),
    k('Conv2DBackpropInput', (args) => {
      const { dy, filter } = args.inputs;
      const a = args.attrs as unknown as { inputShape: [number, number, number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
      if (a.dataFormat === 'NCHW' || !isF32(dy, filter)) return fallback('Conv2DBackpropInput', args);
      const c = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
      if (!paddingOk(c)) return fallback('Conv2DBackpropInput', args);
      const o = out(args.backend, a.inputShape);
      addon.conv2dBackpropInput(convShape(c), f32(args.backend, dy), f32(args.backend, filter), o.values);
      return o.info;
    }),
    k('Conv2DBackpropFilter', (args) => {
      const { x, dy } = args.inputs;
      const a = args.attrs as unknown as { filterShape: [number, number, number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
      if (a.dataFormat === 'NCHW' || !isF32(x, dy)) return fallback('Conv2DBackpropFilter', args);
      const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
      if (!paddingOk(c)) return fallback('Conv2DBackpropFilter', args);
      const o = out(args.backend, a.filterShape);
      addon.conv2dBackpropFilter(convShape(c), f32(args.backend, x), f32(args.backend, dy), o.values);
      return o.info;
    }),
    ...(['MaxPool', 'AvgPool'] as const).map((name) =>
      k(name, (args) => {
        const { x } = args.inputs;
        const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
        if (!isF32(x) || x.shape.length !== 4) return fallback(name, args);
        const c = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
        if (!paddingOk(c) || (c.filterWidth === 1 && c.filterHeight === 1 && tf.util.arraysEqual(c.inShape, c.outShape))) return fallback(name, args);
        const o = out(args.backend, c.outShape);
        addon.poolForward(poolShape(c), name === 'MaxPool' ? 0 : 1, f32(args.backend, x), o.values);
        return o.info;
      }),
    ),
    ...(['MaxPoolGrad', 'AvgPoolGrad'] as const).map((name) =>
      k(name, (args) => {
        const { dy, input } = args.inputs;
        const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
        if (!isF32(dy, input)) return fallback(name, args);
        const c = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
        if (!paddingOk(c)) return fallback(name, args);
        const o = out(args.backend, input.shape);
        const scratch = name === 'MaxPoolGrad' ? new Float32Array(c.outShape.reduce((p, q) => p * q, 1)) : new Float32Array(0);
        // tfjs's AvgPoolGrad spreads over the whole window, padding included (its forward does not).
        addon.poolBackward(poolShape(c), name === 'MaxPoolGrad' ? 0 : 2, f32(args.backend, input), f32(args.backend, dy), o.values, scratch);
        return o.info;
      }),
    ),
    ...(['Sum', 'Mean'] as const).map((name) =>
      k(name, (args) => {
        const { x } = args.inputs;
        const a = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
        const view = isF32(x) ? reductionView(x.shape, a.axis) : undefined;
        if (!view || view[1] === 0) return fallback(name, args);
        const o = out(args.backend, reducedShape(x.shape, a.axis, a.keepDims));
        addon.reduceSum(view[0], view[1], view[2], f32(args.backend, x), o.values);
        if (name === 'Mean') for (let i = 0; i < o.values.length; i++) o.values[i] /= view[1];
        return o.info;
      }),
    ),
    k(MEAN_GRAD, (args) => {
      const { dy } = args.inputs;
      const a = args.attrs as unknown as { shape: number[]; axis: number[]; scale: number };
      const view = reductionView(a.shape, a.axis);
      const o = out(args.backend, a.shape);
      if (view) {
        addon.broadcastMiddle(view[0], view[1], view[2], a.scale, f32(args.backend, dy), o.values);
        return o.info;
      }
      // Scattered axes: broadcast with tfjs ops (rare: the global mean of a CNN is contiguous).
      args.backend.disposeIntermediateTensorInfo(o.info);
      const kept = a.shape.map((s, i) => (a.axis.includes(i) ? 1 : s));
      const r = tf.tidy(() => tf.mul(tf.reshape(tf.engine().makeTensorFromTensorInfo(dy), kept), tf.fill(a.shape, a.scale)));
      const info = { dataId: r.dataId, shape: r.shape, dtype: r.dtype };
      tf.keep(r);
      return info;
    }),
    k('Relu', (args) => {
      const { x } = args.inputs;
      if (!isF32(x)) return fallback('Relu', args);
      const o = out(args.backend, x.shape);
      addon.relu(f32(args.backend, x), o.values);
      return o.info;
    }),
    k(RELU_GRAD, (args) => {
      const { dy, x } = args.inputs;
      const o = out(args.backend, x.shape);
      addon.reluGrad(f32(args.backend, dy), f32(args.backend, x), o.values);
      return o.info;
    }),
    k(BN_TRAIN, (args) => {
      const { x, scale, offset } = args.inputs;
      const eps = (args.attrs as { epsilon: number }).epsilon;
      const ch = x.shape[x.shape.length - 1];
      const rows = x.shape.reduce((p, q) => p * q, 1) / ch;
      const y = out(args.backend, x.shape);
      const mean = out(args.backend, [ch]);
      const variance = out(args.backend, [ch]);
      addon.bnForwardTraining(rows, ch, eps, f32(args.backend, x), f32(args.backend, scale), f32(args.backend, offset), y.values, mean.values, variance.values);
      return [y.info, mean.info, variance.info];
    }),
    k(BN_TRAIN_GRAD, (args) => {
      const { x, dy, mean, variance, scale } = args.inputs;
      const eps = (args.attrs as { epsilon: number }).epsilon;
      const ch = x.shape[x.shape.length - 1];
      const rows = x.shape.reduce((p, q) => p * q, 1) / ch;
      const dx = out(args.backend, x.shape);
      const dscale = out(args.backend, [ch]);
      const doffset = out(args.backend, [ch]);
      addon.bnBackward(rows, ch, eps, f32(args.backend, x), f32(args.backend, dy), f32(args.backend, mean), f32(args.backend, variance), f32(args.backend, scale), dx.values, dscale.values, doffset.values);
      return [dx.info, dscale.info, doffset.info];
    }),
    k(ADAM_UPDATE, (args) => {
      const { v, m, s, g } = args.inputs;
      const a = args.attrs as { lr: number; beta1: number; beta2: number; epsilon: number };
      // Fresh outputs (not in place): the step's tape may still hold the old values.
      const nv = out(args.backend, v.shape);
      const nm = out(args.backend, v.shape);
      const ns = out(args.backend, v.shape);
      nv.values.set(f32(args.backend, v));
      nm.values.set(f32(args.backend, m));
      ns.values.set(f32(args.backend, s));
      addon.adamUpdate(nv.values, nm.values, ns.values, f32(args.backend, g), a.lr, a.beta1, a.beta2, a.epsilon);
      return [nv.info, nm.info, ns.info];
    }),
  ];
}
