// The fused ops of a training step (batch norm in training mode, conv + bias + relu, max
// pooling with its argmax, sparse softmax cross-entropy, Adam's update). Each runs this
// project's kernel (backend/custom-kernels.ts) where the active backend registers it. conv2d,
// maxPool and the cross-entropy fall back to plain tfjs ops with the same results elsewhere;
// batchNormTraining and adamUpdate are only for backends that have them (callers check
// hasKernel and compose the op otherwise). They are ops, not a backend: usable on any backend.
import * as tf from '@tensorflow/tfjs';
import {
  ADAM_UPDATE,
  BN_MOVING_AVERAGES,
  BN_TRAIN,
  CONV2D,
  ConvAttrs,
  hasKernel,
  MAX_POOL,
  MaxPoolAttrs,
  registerCustomGradients,
  SPARSE_XENT,
} from '../backend/custom-kernels';

// Callers choose between a fused path and a composed one by these.
export { ADAM_UPDATE, BN_MOVING_AVERAGES, BN_TRAIN, hasKernel };

/**
 * y = (x - mean) / sqrt(var + eps) * scale + offset over the last axis, with batch statistics;
 * returns [y, mean, variance] (biased variance, like tf.moments). Only where hasKernel(BN_TRAIN).
 */
export function batchNormTraining(
  x: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  epsilon: number,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  registerCustomGradients();
  return tf.engine().runKernel(BN_TRAIN, { x, scale, offset }, { epsilon }) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}

/**
 * Batch norm's moving averages after a training step: [movingMean * momentum + mean * (1 -
 * momentum), movingVar * momentum + variance * correction * (1 - momentum)]. Only where
 * hasKernel(BN_MOVING_AVERAGES).
 */
export function batchNormMovingAverages(
  movingMean: tf.Tensor,
  movingVar: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  momentum: number,
  correction: number,
): [tf.Tensor, tf.Tensor] {
  const inputs = { movingMean, movingVar, mean, variance };
  return tf.engine().runKernel(BN_MOVING_AVERAGES, inputs, { momentum, correction }) as unknown as [tf.Tensor, tf.Tensor];
}

/** Adam's beta powers (beta1^t, beta2^t of the current step, before this step's update). */
export interface AdamBetaPowers {
  beta1Power: tf.Scalar;
  beta2Power: tf.Scalar;
}

/**
 * One Adam step for one variable: returns [newVar, newM, newV]. Only where hasKernel(ADAM_UPDATE).
 * Without `powers`, lr is lr_t (the bias corrections included): a number, or a scalar tensor
 * where reading it back would stall a device (deviceReadsAreCostly). With `powers`, lr is the
 * base learning rate and the kernel computes lr_t = lr * sqrt(1 - beta2Power) / (1 - beta1Power)
 * itself, so that a device runs no separate ops for it.
 */
export function adamUpdate(
  v: tf.Tensor,
  m: tf.Tensor,
  s: tf.Tensor,
  g: tf.Tensor,
  lr: number | tf.Scalar,
  beta1: number,
  beta2: number,
  epsilon: number,
  powers?: AdamBetaPowers,
): tf.Tensor[] {
  const inputs: tf.NamedTensorMap = { v, m, s, g };
  const attrs: tf.NamedAttrMap = { beta1, beta2, epsilon };
  if (typeof lr === 'number') attrs.lr = lr;
  else inputs.lr = lr;
  if (powers) {
    inputs.beta1Power = powers.beta1Power;
    inputs.beta2Power = powers.beta2Power;
  }
  return tf.engine().runKernel(ADAM_UPDATE, inputs, attrs) as unknown as tf.Tensor[];
}

export interface Conv2dArgs {
  x: tf.Tensor4D;
  filter: tf.Tensor4D;
  bias?: tf.Tensor;
  strides?: number | [number, number];
  pad?: 'valid' | 'same' | number;
  dilations?: number | [number, number];
  activation?: 'linear' | 'relu';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const pair = (v: number | [number, number] | undefined): [number, number] =>
  v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : v;

/**
 * NHWC convolution + optional bias + optional relu, like tf.fused.conv2d, but its gradient
 * computes only the inputs the tape needs. Falls back to tf.fused.conv2d where the backend
 * lacks the kernel, and for dilations (tfjs has no dilated conv gradient either).
 */
export function conv2d(args: Conv2dArgs): tf.Tensor4D {
  const strides = pair(args.strides);
  const dilations = pair(args.dilations);
  const activation = args.activation ?? 'linear';
  const biasPerChannel = !args.bias || args.bias.size === args.filter.shape[3];
  if (
    !hasKernel(CONV2D) ||
    dilations[0] !== 1 ||
    dilations[1] !== 1 ||
    args.x.dtype !== 'float32' ||
    args.x.rank !== 4 ||
    args.x.size === 0 ||
    !biasPerChannel
  ) {
    return tf.fused.conv2d({ ...args, strides, dilations, activation, pad: args.pad ?? 'valid' });
  }
  registerCustomGradients();
  const inputs: tf.NamedTensorMap = { x: args.x, filter: args.filter };
  if (args.bias) inputs.bias = args.bias;
  const attrs: ConvAttrs = { strides, pad: args.pad ?? 'valid', dilations, activation, dimRoundingMode: args.dimRoundingMode };
  return tf.engine().runKernel(CONV2D, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * tf.maxPool on NHWC float32. While a gradient tape records and the backend has MAX_POOL, the
 * forward pass also keeps each window's argmax, and the gradient scatters dy with it.
 */
export function maxPool(
  x: tf.Tensor4D,
  filterSize: [number, number],
  strides: [number, number],
  pad: 'valid' | 'same' | number,
): tf.Tensor4D {
  const recording = (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
  const identity = filterSize[0] === 1 && filterSize[1] === 1 && strides[0] === 1 && strides[1] === 1;
  if (!recording || identity || !hasKernel(MAX_POOL) || x.dtype !== 'float32' || x.size === 0)
    return tf.maxPool(x, filterSize, strides, pad);
  registerCustomGradients();
  const attrs: MaxPoolAttrs = { filterSize, strides, pad, inShape: x.shape };
  const [y, workspace] = tf.engine().runKernel(MAX_POOL, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  workspace.dispose(); // the tape keeps its own reference
  return y as tf.Tensor4D;
}

/**
 * Per-example sparse softmax cross-entropy: -log softmax(logits)[label], shape [batch], for
 * logits [batch, classes] and integer labels [batch]. One kernel each way where the backend
 * has it; otherwise tfjs's logSoftmax and a one-hot product.
 */
export function sparseSoftmaxCrossEntropyPerExample(labels: tf.Tensor, logits: tf.Tensor): tf.Tensor1D {
  const k = logits.shape[logits.rank - 1];
  if (hasKernel(SPARSE_XENT) && logits.rank === 2 && labels.rank === 1 && logits.dtype === 'float32') {
    registerCustomGradients();
    return tf.tidy(() => {
      const ids = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
      const [loss] = tf.engine().runKernel(SPARSE_XENT, { logits, labels: ids }) as tf.Tensor[];
      return loss as tf.Tensor1D;
    });
  }
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.oneHot(tf.cast(labels, 'int32'), k), tf.logSoftmax(logits)), -1)) as tf.Tensor1D);
}
