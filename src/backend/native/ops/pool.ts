// Pooling (pool.cc): max and average pooling with their gradients, and the max pooling whose
// forward pass keeps each window's argmax for its gradient (MAX_POOL, MAX_POOL_GRAD).
import * as tf from '@tensorflow/tfjs';
import { MAX_POOL, MAX_POOL_GRAD } from '../../custom-kernels';
import type { MaxPoolAttrs } from '../../custom-kernels';
import { chunkElements, convPoolChunking, convPoolInChunks } from './conv-pool-chunks';
import { Conv2DInfo, f32, isF32, kernel, KernelContext, paddingOk, Pad, POOL_MODES, Rounding, Shape4, shapeArray, size } from './common';

type PoolAttrs = { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };

/** The addon's pooling shape array (fields: op-codes.json, shapes.pool). */
function poolShape(c: Conv2DInfo): Int32Array {
  const p = c.padInfo;
  return shapeArray('pool', {
    n: c.batchSize,
    ih: c.inHeight,
    iw: c.inWidth,
    c: c.inChannels,
    oh: c.outHeight,
    ow: c.outWidth,
    kh: c.filterHeight,
    kw: c.filterWidth,
    sh: c.strideHeight,
    sw: c.strideWidth,
    pt: p.top,
    pl: p.left,
    pb: p.bottom,
    pr: p.right,
  });
}

export function poolKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon, fallback } = ctx;
  return [
    ...(['MaxPool', 'AvgPool'] as const).map((name) =>
      kernel(name, (args) => {
        const { x } = args.inputs;
        const a = args.attrs as unknown as PoolAttrs;
        if (!x || !isF32(x) || x.shape.length !== 4) return fallback(name, args);
        const c = tf.backend_util.computePool2DInfo(x.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
        if (
          !paddingOk(c) ||
          size(c.outShape) === 0 ||
          (c.filterWidth === 1 && c.filterHeight === 1 && tf.util.arraysEqual(c.inShape, c.outShape))
        )
          return fallback(name, args);
        const o = args.backend.output(c.outShape);
        const p = name === 'MaxPool' ? args.backend.pendingOf(x.dataId) : undefined;
        if (p?.kind === 'affineRelu' && p.channels === c.inChannels) {
          // relu(batch norm) never written (inference: evaluate, predict): pooled on the fly,
          // and a first layer's convolution before it run image by image with it.
          const conv = p.from && !p.from.done ? p.from : undefined;
          if (
            conv &&
            addon.convBnReluMaxPool(
              conv.shape,
              conv.x,
              conv.w,
              conv.bias,
              conv.activation,
              conv.alpha,
              p.scale,
              p.shift,
              poolShape(c),
              o.values,
            )
          )
            return o.info;
          if (conv && convPoolChunking()) {
            const scratch = args.backend.pool.take(chunkElements(conv));
            convPoolInChunks(addon, conv, poolShape(c), p.scale, p.shift, scratch, o.values);
            args.backend.pool.recycle(scratch);
            return o.info;
          }
          if (conv) args.backend.computePending(conv);
          addon.maxPoolArgmax(poolShape(c), p.src, p.scale, p.shift, o.values, null);
          return o.info;
        }
        addon.poolForward(poolShape(c), name === 'MaxPool' ? POOL_MODES.max : POOL_MODES.avgValid, f32(args.backend, x), o.values);
        return o.info;
      }),
    ),
    kernel('MaxPoolGrad', (args) => {
      const { dy, input } = args.inputs;
      const a = args.attrs as unknown as PoolAttrs;
      if (!dy || !input || !isF32(dy, input)) return fallback('MaxPoolGrad', args);
      const c = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape)) return fallback('MaxPoolGrad', args);
      const o = args.backend.output(input.shape);
      addon.maxPoolBackward(poolShape(c), f32(args.backend, input), f32(args.backend, dy), o.values);
      return o.info;
    }),
    kernel(MAX_POOL, (args) => {
      const x = args.inputs.x!;
      const a = args.attrs as unknown as MaxPoolAttrs;
      const c = tf.backend_util.computePool2DInfo(x.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      if (!paddingOk(c)) throw new Error(`${MAX_POOL}: unsupported arguments (the maxPool helper should have used tf.maxPool)`);
      const b = args.backend;
      const y = b.output(c.outShape);
      const ws = b.output([2, ...c.outShape]); // each window's argmax, and the input value there
      const p = b.pendingOf(x.dataId);
      if (p?.kind === 'affineRelu' && p.channels === c.inChannels) {
        // relu(batch norm) computed window by window: it is never written out.
        addon.maxPoolArgmax(poolShape(c), p.src, p.scale, p.shift, y.values, ws.values);
      } else {
        addon.maxPoolArgmax(poolShape(c), f32(b, x), null, null, y.values, ws.values);
      }
      return [y.info, ws.info];
    }),
    kernel(MAX_POOL_GRAD, (args) => {
      const { dy, workspace } = args.inputs as Record<string, tf.TensorInfo>;
      const a = args.attrs as unknown as MaxPoolAttrs;
      const c = tf.backend_util.computePool2DInfo(a.inShape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      const b = args.backend;
      // Left pending: a relu and batch norm gradient after it may use dy and the argmax directly.
      return b.deferred(a.inShape, { kind: 'poolScatter', shape: poolShape(c), dy: f32(b, dy), ws: f32(b, workspace) });
    }),
    kernel('AvgPoolGrad', (args) => {
      const { dy, input } = args.inputs;
      const a = args.attrs as unknown as PoolAttrs;
      if (!dy || !input || !isF32(dy, input)) return fallback('AvgPoolGrad', args);
      const c = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape) || size(c.outShape) === 0) return fallback('AvgPoolGrad', args);
      const o = args.backend.output(input.shape);
      // tfjs's AvgPoolGrad spreads over the whole window, padding included (its forward does not).
      addon.avgPoolBackward(poolShape(c), POOL_MODES.avgWindow, f32(args.backend, dy), o.values);
      return o.info;
    }),
  ];
}
