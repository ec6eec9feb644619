// Element-wise kernels and reductions (elementwise.cc): relu and its gradient (which batch norm
// may absorb), Sum and Mean over runs of axes and the Mean's gradient, softmax, sparse softmax
// cross-entropy with its gradient, and Adam's update.
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE, MEAN_GRAD, RELU_GRAD, SPARSE_XENT, SPARSE_XENT_GRAD } from '../../custom-kernels';
import type { NativeAddon } from '../addon';
import type { NativeBackend } from '../index';
import { f32, i32, isF32, kernel, KernelContext, POOL_CHANNELS, size } from './common';

/** [outer, reduced, inner] sizes when the axes form one contiguous block, else undefined. */
function reductionView(shape: number[], axis: number | number[] | undefined): [number, number, number] | undefined {
  const axes = tf.util.parseAxisParam(axis ?? [...shape.keys()], shape).sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return undefined;
  return [
    size(shape.slice(0, axes[0])),
    size(shape.slice(axes[0], axes[axes.length - 1] + 1)),
    size(shape.slice(axes[axes.length - 1] + 1)),
  ];
}

function reducedShape(shape: number[], axis: number | number[] | undefined, keepDims: boolean): number[] {
  const axes = new Set(tf.util.parseAxisParam(axis ?? [...shape.keys()], shape));
  return keepDims ? shape.map((d, i) => (axes.has(i) ? 1 : d)) : shape.filter((_, i) => !axes.has(i));
}

/**
 * Sums x over the given axes into out, times scale: one pass per run of adjacent axes, the
 * last run first ([A,B,C,D] over axes 0 and 2: over C, then over A).
 */
function reduceSum(addon: NativeAddon, b: NativeBackend, x: tf.TensorInfo, axes: number[], scale: number, out: Float32Array): void {
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
}

/** Whether axes are exactly 0 .. rank - 2 (every axis but the channels). */
function allButLast(axes: number[], rank: number): boolean {
  return rank >= 2 && axes.length === rank - 1 && [...axes].sort((p, q) => p - q).every((ax, i) => ax === i);
}

export function elementwiseKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon, fallback } = ctx;
  return [
    kernel('Reshape', (args) => {
      // The cpu kernel reads the input's entry (for complex tensors), which would compute a
      // pending output: the batch norm before a relu in inference goes through a reshape.
      const x = args.inputs.x!;
      if (!args.backend.pendingOf(x.dataId)) return ctx.cpu('Reshape', args);
      const n = size(x.shape);
      const shape = tf.util.inferFromImplicitShape((args.attrs as { shape: number[] }).shape, n);
      if (size(shape) !== n) return ctx.cpu('Reshape', args); // its error message
      args.backend.incRef(x.dataId);
      return { dataId: x.dataId, shape, dtype: x.dtype };
    }),
    kernel('Relu', (args) => {
      const x = args.inputs.x!;
      if (!isF32(x)) return fallback('Relu', args);
      const p = args.backend.pendingOf(x.dataId);
      if (p?.kind === 'affine') {
        // relu(batch norm) is left pending too: a max pooling after it computes it on the fly,
        // anyone else in one pass; the batch norm output itself is never written.
        const { rows, channels, src, from, scale, shift } = p;
        return args.backend.deferred(x.shape, { kind: 'affineRelu', rows, channels, src, from, scale, shift });
      }
      const o = args.backend.output(x.shape);
      addon.relu(f32(args.backend, x), o.values);
      return o.info;
    }),
    kernel(RELU_GRAD, (args) => {
      const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      const b = args.backend;
      const [pd, px] = [b.pendingOf(dy.dataId), b.pendingOf(x.dataId)];
      // (Channels compared: a reshape between them keeps the pending values but may regroup them.)
      if (pd?.kind === 'poolScatter' && px?.kind === 'affineRelu' && px.channels === pd.shape[POOL_CHANNELS]) {
        // batch norm -> relu -> max pooling, none of whose outputs was written: the batch norm
        // gradient reading this works from the pooled dy and the pooling's argmax alone.
        const { shape, dy: pooledDy, ws } = pd;
        return b.deferred(x.shape, { kind: 'poolReluGrad', shape, dy: pooledDy, ws, src: px.src, scale: px.scale, shift: px.shift });
      }
      // Left pending: a batch norm gradient reading it masks dy in its own passes.
      return b.deferred(x.shape, { kind: 'reluGrad', dy: f32(b, dy), reluOut: f32(b, x) });
    }),
    ...(['Sum', 'Mean'] as const).map((name) =>
      kernel(name, (args) => {
        const { x } = args.inputs;
        const a = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
        if (!x || !isF32(x) || size(x.shape) === 0) return fallback(name, args);
        const axes = tf.util.parseAxisParam(a.axis ?? [...x.shape.keys()], x.shape);
        const count = axes.reduce((p, ax) => p * x.shape[ax], 1);
        const o = args.backend.output(reducedShape(x.shape, a.axis, a.keepDims));
        const known = name === 'Sum' && allButLast(axes, x.shape.length) ? args.backend.channelSumsOf(x.dataId) : undefined;
        if (known) {
          o.values.set(known); // summed by the kernel that wrote x
          return o.info;
        }
        if (axes.length === 0) {
          o.values.set(f32(args.backend, x));
          return o.info;
        }
        reduceSum(addon, args.backend, x, axes, name === 'Mean' ? 1 / count : 1, o.values);
        return o.info;
      }),
    ),
    kernel('Softmax', (args) => {
      const x = args.inputs.logits;
      const dim = (args.attrs as { dim: number }).dim;
      const last = x ? x.shape.length - 1 : -1;
      if (!x || !isF32(x) || last < 0 || (dim !== -1 && dim !== last) || size(x.shape) === 0) return fallback('Softmax', args);
      // One loop: the cpu backend composes max, subtract, exp, sum and divide, five kernels
      // with their own tensors (0.2 ms for the article CNN's [64, 10] probabilities).
      const classes = x.shape[last];
      const src = f32(args.backend, x);
      const o = args.backend.output(x.shape);
      const y = o.values;
      for (let r = 0; r < src.length; r += classes) {
        let max = -Infinity;
        for (let j = r; j < r + classes; j++) if (src[j] > max) max = src[j];
        let sum = 0;
        for (let j = r; j < r + classes; j++) sum += y[j] = Math.exp(src[j] - max);
        for (let j = r; j < r + classes; j++) y[j] /= sum;
      }
      return o.info;
    }),
    kernel(MEAN_GRAD, (args) => {
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
    kernel(SPARSE_XENT, (args) => {
      const { logits, labels } = args.inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = logits.shape;
      const b = args.backend;
      const loss = b.output([rows]);
      const softmax = b.output(logits.shape);
      addon.sparseSoftmaxXent(rows, classes, f32(b, logits), i32(b, labels), loss.values, softmax.values);
      return [loss.info, softmax.info];
    }),
    kernel(SPARSE_XENT_GRAD, (args) => {
      const { softmax, labels, dloss } = args.inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = softmax.shape;
      const b = args.backend;
      const d = b.output(softmax.shape);
      addon.sparseSoftmaxXentGrad(rows, classes, f32(b, softmax), i32(b, labels), f32(b, dloss), d.values);
      return d.info;
    }),
    kernel(ADAM_UPDATE, (args) => {
      const { v, m, s, g, lr, beta1Power, beta2Power } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const a = args.attrs as { lr?: number; beta1: number; beta2: number; epsilon: number };
      // Fresh outputs (not in place): the step's tape may still hold the old values.
      const b = args.backend;
      // The rate: a number, or a scalar tensor (a copy to read here, on the CPU).
      let lrT = lr ? f32(b, lr)[0] : a.lr!;
      // With the beta powers it is the base rate: lr_t as the optimizer computes it on a CPU backend.
      if (beta1Power && beta2Power) lrT = (lrT * Math.sqrt(1 - f32(b, beta2Power)[0])) / (1 - f32(b, beta1Power)[0]);
      else if (beta1Power || beta2Power) throw new Error('Adam update: give both beta powers or neither.');
      const nv = b.output(v!.shape);
      const nm = b.output(v!.shape);
      const ns = b.output(v!.shape);
      addon.adamUpdate(f32(b, v!), f32(b, m!), f32(b, s!), f32(b, g!), nv.values, nm.values, ns.values, lrT, a.beta1, a.beta2, a.epsilon);
      return [nv.info, nm.info, ns.info];
    }),
  ];
}
