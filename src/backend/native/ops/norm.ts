// Batch normalization (norm.cc): inference, and the training pair whose output and gradient are
// left pending so that a relu (and a max pooling) next to them runs in the same pass.
import * as tf from '@tensorflow/tfjs';
import { BN_MOVING_AVERAGES, BN_TRAIN, BN_TRAIN_GRAD } from '../../custom-kernels';
import { f32, isF32, kernel, KernelContext, POOL_CHANNELS, size } from './common';

/**
 * y = x * scale + shift per channel for batch norm with given statistics, as addon.bnInference
 * computes them (in double, rounded to float32).
 */
function inferenceAffine(
  c: number,
  epsilon: number,
  mean: Float32Array,
  variance: Float32Array,
  offset: Float32Array | undefined,
  gamma: Float32Array | undefined,
): [Float32Array, Float32Array] {
  const [scale, shift] = [new Float32Array(c), new Float32Array(c)];
  const eps = Math.fround(epsilon);
  for (let j = 0; j < c; j++) {
    const s = (gamma ? gamma[j] : 1) / Math.sqrt(variance[j] + eps);
    scale[j] = s;
    shift[j] = (offset ? offset[j] : 0) - mean[j] * s;
  }
  return [scale, shift];
}

export function normKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon, fallback } = ctx;
  return [
    kernel('FusedBatchNorm', (args) => {
      const { x, mean, variance, offset, scale } = args.inputs;
      const eps = (args.attrs as { varianceEpsilon: number }).varianceEpsilon;
      if (!x || !mean || !variance || !isF32(x, mean, variance, offset, scale) || x.shape.length === 0)
        return fallback('FusedBatchNorm', args);
      const ch = x.shape[x.shape.length - 1];
      // Parameters of one value per channel (or a single value); other broadcasts go to cpu.
      if (![mean, variance, offset, scale].every((t) => !t || size(t.shape) === ch || size(t.shape) === 1) || ch === 0)
        return fallback('FusedBatchNorm', args);
      const b = args.backend;
      if ([mean, variance, offset, scale].every((t) => !t || size(t.shape) === ch)) {
        // Left pending, as the training batch norm's output: a relu and a max pooling after it
        // (a CNN's evaluate and predict) compute it on the fly and it is never written.
        const [a, sh] = inferenceAffine(ch, eps, f32(b, mean), f32(b, variance), offset && f32(b, offset), scale && f32(b, scale));
        // A pending convolution before it stays pending (see index.ts, Pending).
        const px = b.pendingOf(x.dataId);
        const from = px?.kind === 'conv' && !px.done ? px : undefined;
        const src = from ? from.y : f32(b, x);
        return b.deferred(x.shape, { kind: 'affine', rows: size(x.shape) / ch, channels: ch, src, from, scale: a, shift: sh });
      }
      const o = b.output(x.shape);
      addon.bnInference(
        size(x.shape) / ch,
        ch,
        eps,
        f32(b, x),
        f32(b, mean),
        f32(b, variance),
        offset ? f32(b, offset) : null,
        scale ? f32(b, scale) : null,
        o.values,
      );
      return o.info;
    }),
    kernel(BN_MOVING_AVERAGES, (args) => {
      // Both moving averages of a layer in one loop over its channels: composed, they are seven
      // kernels a step, each with its engine overhead. The same float32 roundings, in the same
      // order, as the composed update (layers.batchNormalization).
      const { movingMean, movingVar, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
      const a = args.attrs as unknown as { momentum: number; correction: number };
      const b = args.backend;
      const [mm, mv, bm, bv] = [f32(b, movingMean), f32(b, movingVar), f32(b, mean), f32(b, variance)];
      const nm = b.output(movingMean.shape);
      const nv = b.output(movingVar.shape);
      const f = Math.fround;
      const [keep, take, corr] = [f(a.momentum), f(1 - a.momentum), f(a.correction)];
      for (let j = 0; j < mm.length; j++) {
        nm.values[j] = f(mm[j] * keep) + f(bm[j] * take);
        nv.values[j] = f(mv[j] * keep) + f(f(bv[j] * corr) * take);
      }
      return [nm.info, nv.info];
    }),
    kernel(BN_TRAIN, (args) => {
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
    kernel(BN_TRAIN_GRAD, (args) => {
      const { x, dy, mean, variance, scale } = args.inputs as Record<string, tf.TensorInfo>;
      const eps = (args.attrs as { epsilon: number }).epsilon;
      const ch = x.shape[x.shape.length - 1];
      const b = args.backend;
      const dscale = b.output([ch]);
      const doffset = b.output([ch]);
      const p = b.pendingOf(dy.dataId);
      const xs = f32(b, x);
      if (p?.kind === 'poolReluGrad' && p.src === xs && p.shape[POOL_CHANNELS] === ch) {
        // batch norm -> relu -> max pooling: the sums now, dx left pending (a first-layer
        // convolution's filter gradient computes it image by image and never writes it).
        const k = new Float32Array(3 * ch);
        const m = f32(b, mean).slice(); // the pending dx outlives the step's small tensors
        addon.bnPooledGradStats(
          p.shape,
          eps,
          p.dy,
          p.ws,
          p.scale,
          p.shift,
          m,
          f32(b, variance),
          f32(b, scale),
          dscale.values,
          doffset.values,
          k,
        );
        const { shape, dy: pooledDy, ws, scale: sc, shift } = p;
        const pendingDx = b.deferred(x.shape, {
          kind: 'pooledChainDx',
          shape,
          x: xs,
          dy: pooledDy,
          ws,
          scale: sc,
          shift,
          mean: m,
          k,
          sums: new Float32Array(ch),
        });
        return [pendingDx, dscale.info, doffset.info];
      }
      const dx = b.output(x.shape);
      // After a relu: its gradient's mask is applied on the fly (one kernel for both).
      const [d, mask] = p?.kind === 'reluGrad' ? [p.dy, p.reluOut] : [f32(b, dy), null];
      addon.bnTrainBackward(
        size(x.shape) / ch,
        ch,
        eps,
        xs,
        d,
        f32(b, mean),
        f32(b, variance),
        f32(b, scale),
        dx.values,
        dscale.values,
        doffset.values,
        mask,
      );
      return [dx.info, dscale.info, doffset.info];
    }),
  ];
}
