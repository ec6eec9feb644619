// Convolutions (conv.cc): forward (plain or depthwise, with bias and activation) and both
// gradients, NHWC only.
import * as tf from '@tensorflow/tfjs';
import { CONV2D } from '../../custom-kernels';
import { convPoolChunking } from './conv-pool-chunks';
import {
  ACTIVATIONS,
  channelBias,
  Conv2DInfo,
  f32,
  isF32,
  kernel,
  KernelArgs,
  KernelContext,
  nativeOrFallback,
  paddingOk,
  Pad,
  Rounding,
  Shape4,
  shapeArray,
} from './common';

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: Rounding;
  activation?: string;
  leakyreluAlpha?: number;
}

/** Input channels up to which a filter gradient fused with the chain after it pays (a first layer). */
const FEW_CHANNELS = 4;

/** The addon's convolution shape array (fields: op-codes.json, shapes.conv). */
function convShape(c: Conv2DInfo, groups = 1): Int32Array {
  const p = c.padInfo;
  return shapeArray('conv', {
    n: c.batchSize,
    ih: c.inHeight,
    iw: c.inWidth,
    ic: c.inChannels,
    oh: c.outHeight,
    ow: c.outWidth,
    oc: c.outChannels,
    kh: c.filterHeight,
    kw: c.filterWidth,
    sh: c.strideHeight,
    sw: c.strideWidth,
    dh: c.dilationHeight,
    dw: c.dilationWidth,
    pt: p.top,
    pl: p.left,
    pb: p.bottom,
    pr: p.right,
    groups,
  });
}

/** tfjs's conv geometry for NHWC from a kernel's attributes (forward and both gradients). */
function convInfo(xShape: Shape4, filterShape: Shape4, a: ConvAttrs, depthwise: boolean): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

export function convKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;

  /** Forward convolution (plain or depthwise) with optional bias and activation; undefined = not ours. */
  const convForward = (args: KernelArgs, depthwise: boolean): tf.TensorInfo | undefined => {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs;
    const act = a.activation ?? 'linear';
    if (!x || !filter || a.dataFormat === 'NCHW' || !isF32(x, filter) || preluActivationWeights || !(act in ACTIVATIONS)) return undefined;
    const c = convInfo(x.shape as Shape4, filter.shape as Shape4, a, depthwise);
    if (!paddingOk(c) || !channelBias(bias, c.outChannels)) return undefined;
    const b = args.backend;
    const shape = convShape(c, depthwise ? c.inChannels : 1);
    const [xs, ws, bs] = [f32(b, x), f32(b, filter), bias ? f32(b, bias) : null];
    const [activation, alpha] = [ACTIVATIONS[act], a.leakyreluAlpha ?? 0.2];
    if (!depthwise && (c.inChannels <= FEW_CHANNELS || convPoolChunking()) && tf.engine().state.gradientDepth === 0) {
      // Inference (no tape to save the output for a gradient): left pending, so that a batch
      // norm -> relu -> max pooling after it can run the four image by image (a first layer,
      // conv-pool-chain.cc) or a chunk of images at a time (conv-pool-chunks.ts).
      return b.deferred(c.outShape, { kind: 'conv', shape, x: xs, w: ws, bias: bs, activation, alpha });
    }
    const o = b.output(c.outShape);
    addon.conv2dForward(shape, xs, ws, bs, activation, alpha, o.values);
    return o.info;
  };

  const convBackpropInput = (args: KernelArgs, depthwise: boolean): tf.TensorInfo | undefined => {
    const { dy, filter } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
    if (!dy || !filter || a.dataFormat === 'NCHW' || !isF32(dy, filter)) return undefined;
    const c = convInfo(a.inputShape, filter.shape as Shape4, a, depthwise);
    if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape)) return undefined;
    const o = args.backend.output(a.inputShape);
    addon.conv2dBackpropInput(convShape(c, depthwise ? c.inChannels : 1), f32(args.backend, dy), f32(args.backend, filter), o.values);
    return o.info;
  };

  const convBackpropFilter = (args: KernelArgs, depthwise: boolean): tf.TensorInfo | undefined => {
    const { x, dy } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
    if (!x || !dy || a.dataFormat === 'NCHW' || !isF32(x, dy)) return undefined;
    const c = convInfo(x.shape as Shape4, a.filterShape, a, depthwise);
    if (!paddingOk(c) || !tf.util.arraysEqual(c.outShape, dy.shape)) return undefined;
    const b = args.backend;
    const p = b.pendingOf(dy.dataId);
    if (p?.kind === 'pooledChainDx' && !depthwise && c.inChannels <= FEW_CHANNELS && c.dilationHeight === 1 && c.dilationWidth === 1) {
      // A first layer before batch norm -> relu -> max pooling: dy (that chain's dx) is
      // computed image by image inside this kernel and never written; its per-channel sums
      // (the bias gradient) come with it.
      const dw = b.output(a.filterShape);
      addon.bnPooledDxFilterGrad(p.shape, convShape(c), f32(b, x), p.x, p.dy, p.ws, p.scale, p.shift, p.mean, p.k, dw.values, p.sums);
      b.noteChannelSums(dy.dataId, p.sums);
      return dw.info;
    }
    const o = args.backend.output(a.filterShape);
    addon.conv2dBackpropFilter(convShape(c, depthwise ? c.inChannels : 1), f32(args.backend, x), f32(args.backend, dy), o.values);
    return o.info;
  };

  return [
    nativeOrFallback(ctx, 'Conv2D', false, convForward),
    nativeOrFallback(ctx, 'FusedConv2D', false, convForward),
    nativeOrFallback(ctx, 'DepthwiseConv2dNative', true, convForward),
    nativeOrFallback(ctx, 'FusedDepthwiseConv2D', true, convForward),
    nativeOrFallback(ctx, 'Conv2DBackpropInput', false, convBackpropInput),
    nativeOrFallback(ctx, 'DepthwiseConv2dNativeBackpropInput', true, convBackpropInput),
    nativeOrFallback(ctx, 'Conv2DBackpropFilter', false, convBackpropFilter),
    nativeOrFallback(ctx, 'DepthwiseConv2dNativeBackpropFilter', true, convBackpropFilter),
    kernel(CONV2D, (args) => {
      const out = convForward(args, false);
      if (!out) throw new Error(`${CONV2D}: unsupported arguments (the conv2d helper should have used tf.fused.conv2d)`);
      return out;
    }),
  ];
}
