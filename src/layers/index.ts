// TF1's functional layers (tf.layers.conv2d(x, 32, 3), ...): each call names itself
// (conv2d, conv2d_1, ... or `name`), gets its variables from the running modelFn's store —
// created on the first call, reused on every later call — and applies itself eagerly.
import * as tf from '@tensorflow/tfjs';
import { activeGraph, GraphKeys, requireGraph, UpdateOp } from '../framework/graph';
import { getVariable, initializers, Initializer, variableScope, VariableScopeOptions } from '../framework/variables';
import {
  BN_MOVING_AVERAGES,
  BN_TRAIN,
  batchNormMovingAverages,
  batchNormTraining,
  conv2d as fusedConv2d,
  hasKernel,
  maxPool,
} from '../framework/fused-ops';

export { getVariable, variableScope, initializers };
export type { Initializer, VariableScopeOptions };

/** A layer's activation: a name, or any function of a tensor. Default: linear (none). */
export type Activation =
  'relu' | 'relu6' | 'elu' | 'selu' | 'sigmoid' | 'tanh' | 'softmax' | 'softplus' | 'linear' | ((x: tf.Tensor) => tf.Tensor);
/** 'valid' (no padding, TF1's default) or 'same' (output size = ceil(input / stride)). */
export type Padding = 'valid' | 'same';

function activate(x: tf.Tensor, activation: Activation | undefined): tf.Tensor {
  if (activation === undefined || activation === 'linear') return x;
  if (typeof activation === 'function') return activation(x);
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'elu':
      return tf.elu(x);
    case 'selu':
      return tf.selu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x);
    case 'softplus':
      return tf.softplus(x);
    default:
      throw new Error(
        `Unknown activation '${String(activation)}'; use one of relu, relu6, elu, selu, sigmoid, tanh, softmax, softplus, linear, or a function.`,
      );
  }
}

function pair(v: number | [number, number], what: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${what} must be a positive integer or a pair of them, got ${JSON.stringify(v)}.`);
  }
  return p;
}

function requireRank(x: tf.Tensor, rank: number, layer: string, hint: string): void {
  if (!(x instanceof tf.Tensor)) throw new Error(`${layer}: input must be a tf.Tensor, got ${typeof x}.`);
  if (x.rank !== rank) {
    throw new Error(
      `${layer}: input must have rank ${rank} (${hint}), got shape [${x.shape}].${rank === 4 && x.rank === 3 ? ' Add the channel axis: x.expandDims(-1), or reshape to [-1, 28, 28, 1].' : ''}`,
    );
  }
}

/** Runs body inside the layer's own scope `name/` (unique per modelFn call). */
function inLayerScope<T>(base: string, name: string | undefined, reuse: boolean | 'auto' | undefined, body: () => T): T {
  const ctx = requireGraph(`layers.${base}`);
  const scopeName = name ?? ctx.uniqueName(base);
  return variableScope(scopeName, body, reuse === undefined ? {} : { reuse });
}

interface CommonOptions {
  /** The layer's variable scope; default: the layer type, numbered per modelFn call (dense, dense_1, ...). */
  name?: string;
  /** Whether optimizers train its variables (default true). */
  trainable?: boolean;
  /** Reuse the variables of an earlier layer of the same name: true, or 'auto' (reuse if present). */
  reuse?: boolean | 'auto';
}

/** Options of layers.conv2d. */
export interface Conv2dOptions extends CommonOptions {
  /** Step of the window (default 1). */
  strides?: number | [number, number];
  /** Default 'valid'. */
  padding?: Padding;
  /** Atrous convolution rate (default 1). */
  dilationRate?: number | [number, number];
  /** Applied after the bias (default none). */
  activation?: Activation;
  /** Add a bias variable (default true). */
  useBias?: boolean;
  /** Default Glorot uniform. */
  kernelInitializer?: Initializer;
  /** Default zeros. */
  biasInitializer?: Initializer;
}

/**
 * tf.layers.conv2d: NHWC input, kernel [kh, kw, in, filters]. TF1's defaults: padding 'valid',
 * strides 1, bias on, no activation.
 * @example const h = layers.conv2d(x, 32, 5, { padding: 'same', activation: 'relu' });
 */
export function conv2d(x: tf.Tensor, filters: number, kernelSize: number | [number, number], opts: Conv2dOptions = {}): tf.Tensor4D {
  requireRank(x, 4, 'conv2d', '[batch, height, width, channels]');
  const [kh, kw] = pair(kernelSize, 'conv2d kernelSize');
  const strides = pair(opts.strides ?? 1, 'conv2d strides');
  const dilations = pair(opts.dilationRate ?? 1, 'conv2d dilationRate');
  return inLayerScope('conv2d', opts.name, opts.reuse, () => {
    const inChannels = x.shape[3] as number;
    const kernel = getVariable('kernel', [kh, kw, inChannels, filters], { initializer: opts.kernelInitializer, trainable: opts.trainable });
    const bias =
      opts.useBias === false
        ? undefined
        : getVariable('bias', [filters], { initializer: opts.biasInitializer ?? initializers.zeros(), trainable: opts.trainable });
    const act = opts.activation;
    // Fused conv + bias + relu runs as one primitive where the backend has it (else tf.fused.conv2d).
    if (act === undefined || act === 'linear' || act === 'relu') {
      return fusedConv2d({
        x: x as tf.Tensor4D,
        filter: kernel as tf.Tensor4D,
        strides,
        pad: opts.padding ?? 'valid',
        dilations,
        bias,
        activation: act === 'relu' ? 'relu' : 'linear',
      });
    }
    let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, opts.padding ?? 'valid', 'NHWC', dilations);
    if (bias) y = tf.add(y, bias);
    return activate(y, act) as tf.Tensor4D;
  });
}

/** Options of layers.dense. */
export interface DenseOptions extends CommonOptions {
  /** Applied after the bias (default none). */
  activation?: Activation;
  /** Add a bias variable (default true). */
  useBias?: boolean;
  /** Default Glorot uniform. */
  kernelInitializer?: Initializer;
  /** Default zeros. */
  biasInitializer?: Initializer;
}

/**
 * tf.layers.dense: a fully connected layer on the last axis (inputs of any rank >= 2); bias on,
 * no activation by default.
 * @example const logits = layers.dense(layers.flatten(h), 10);
 */
export function dense(x: tf.Tensor, units: number, opts: DenseOptions = {}): tf.Tensor {
  if (!(x instanceof tf.Tensor) || x.rank < 2) {
    throw new Error(
      `dense: input must be a tensor of rank >= 2 ([batch, features]), got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}. Flatten it first: layers.flatten(x).`,
    );
  }
  if (!Number.isInteger(units) || units <= 0) throw new Error(`dense: units must be a positive integer, got ${units}.`);
  return inLayerScope('dense', opts.name, opts.reuse, () => {
    const inDim = x.shape[x.rank - 1];
    const kernel = getVariable('kernel', [inDim, units], { initializer: opts.kernelInitializer, trainable: opts.trainable });
    const bias =
      opts.useBias === false
        ? undefined
        : getVariable('bias', [units], { initializer: opts.biasInitializer ?? initializers.zeros(), trainable: opts.trainable });
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, inDim]) as tf.Tensor2D);
    const act = opts.activation;
    let y: tf.Tensor;
    if (act === undefined || act === 'linear' || act === 'relu') {
      y = tf.fused.matMul({ a: x2, b: kernel as tf.Tensor2D, bias, activation: act === 'relu' ? 'relu' : 'linear' });
    } else {
      y = tf.matMul(x2, kernel as tf.Tensor2D);
      if (bias) y = tf.add(y, bias);
      y = activate(y, act);
    }
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), units]);
  });
}

/** Options of layers.batchNormalization (TF1 defaults: momentum 0.99, epsilon 1e-3, center and scale on). */
export interface BatchNormOptions extends CommonOptions {
  /** Normalize batch statistics (TRAIN) or use the moving averages (EVAL/PREDICT). */
  training?: boolean;
  /** The channels axis; only the last (-1, the default) is supported. */
  axis?: number;
  /** Decay of the moving averages (default 0.99). */
  momentum?: number;
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
  /** Learn an offset beta (default true). */
  center?: boolean;
  /** Learn a scale gamma (default true). */
  scale?: boolean;
}

/**
 * tf.layers.batch_normalization. In training mode the moving mean/variance updates are added to
 * GraphKeys.UPDATE_OPS; the Estimator runs any that the trainOp did not already run, so they
 * update exactly once per step whether or not modelFn uses the control-dependency pattern.
 * @example layers.batchNormalization(h, { training: mode === ModeKeys.TRAIN })
 */
export function batchNormalization(x: tf.Tensor, opts: BatchNormOptions = {}): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new Error('batchNormalization: input must be a tf.Tensor.');
  const axis = (opts.axis ?? -1) < 0 ? x.rank + (opts.axis ?? -1) : (opts.axis as number);
  if (axis !== x.rank - 1) {
    throw new Error(
      `batchNormalization: only the last axis (channels_last) is supported, got axis ${opts.axis}; transpose the input to NHWC.`,
    );
  }
  const momentum = opts.momentum ?? 0.99;
  const epsilon = opts.epsilon ?? 1e-3;
  const training = opts.training ?? false;
  const ctx = requireGraph('layers.batchNormalization');
  return inLayerScope('batch_normalization', opts.name, opts.reuse, () => {
    const channels = x.shape[axis];
    const gamma =
      opts.scale === false ? undefined : getVariable('gamma', [channels], { initializer: initializers.ones(), trainable: opts.trainable });
    const beta =
      opts.center === false ? undefined : getVariable('beta', [channels], { initializer: initializers.zeros(), trainable: opts.trainable });
    const movingMean = getVariable('moving_mean', [channels], { initializer: initializers.zeros(), trainable: false });
    const movingVar = getVariable('moving_variance', [channels], { initializer: initializers.ones(), trainable: false });
    if (!training) {
      return tf.batchNorm(x, movingMean, movingVar, beta, gamma, epsilon);
    }
    let y: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor;
    // Explicit unit scale / zero offset when a variable is off: tfjs's batchNorm gradient
    // cannot differentiate through a missing scale.
    const scale = gamma ?? tf.onesLike(movingVar);
    const offset = beta ?? tf.zerosLike(movingMean);
    if (hasKernel(BN_TRAIN) && x.dtype === 'float32') {
      // One fused kernel forward and one backward, instead of tfjs's composite gradient.
      [y, mean, variance] = batchNormTraining(x, scale, offset, epsilon);
    } else {
      ({ mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]));
      y = tf.batchNorm(x, mean, variance, offset, scale, epsilon);
    }
    if (ctx.mode === 'train') {
      const n = x.size / channels;
      // TF's fused batch norm keeps the unbiased variance in its moving average.
      const correction = n > 1 ? n / (n - 1) : 1;
      const meanKept = tf.keep(mean);
      const varKept = tf.keep(variance);
      const op = new UpdateOp(
        `${ctx.scope.prefix}update`,
        () =>
          tf.tidy(() => {
            if (hasKernel(BN_MOVING_AVERAGES) && movingMean.dtype === 'float32' && meanKept.dtype === 'float32') {
              // Both in one kernel (on webgpu one dispatch instead of seven).
              const [m, v] = batchNormMovingAverages(movingMean, movingVar, meanKept, varKept, momentum, correction);
              movingMean.assign(m);
              movingVar.assign(v);
              return;
            }
            movingMean.assign(tf.add(tf.mul(movingMean, momentum), tf.mul(meanKept, 1 - momentum)));
            movingVar.assign(tf.add(tf.mul(movingVar, momentum), tf.mul(tf.mul(varKept, correction), 1 - momentum)));
          }),
        () => tf.dispose([meanKept, varKept]),
      );
      ctx.addToCollection(GraphKeys.UPDATE_OPS, op);
    }
    return y;
  });
}

/** Options of layers.maxPooling2d and layers.averagePooling2d. */
export interface PoolOptions {
  /** Default 'valid'. */
  padding?: Padding;
  /** Accepted for TF1 compatibility; pooling has no variables to name. */
  name?: string;
}

/**
 * tf.layers.max_pooling2d over NHWC input; padding 'valid' by default.
 * @example layers.maxPooling2d(h, 2, 2)
 */
export function maxPooling2d(
  x: tf.Tensor,
  poolSize: number | [number, number],
  strides: number | [number, number],
  opts: PoolOptions = {},
): tf.Tensor4D {
  requireRank(x, 4, 'maxPooling2d', '[batch, height, width, channels]');
  return maxPool(x as tf.Tensor4D, pair(poolSize, 'maxPooling2d poolSize'), pair(strides, 'maxPooling2d strides'), opts.padding ?? 'valid');
}

/** tf.layers.average_pooling2d over NHWC input; padding 'valid' by default. */
export function averagePooling2d(
  x: tf.Tensor,
  poolSize: number | [number, number],
  strides: number | [number, number],
  opts: PoolOptions = {},
): tf.Tensor4D {
  requireRank(x, 4, 'averagePooling2d', '[batch, height, width, channels]');
  return tf.avgPool(
    x as tf.Tensor4D,
    pair(poolSize, 'averagePooling2d poolSize'),
    pair(strides, 'averagePooling2d strides'),
    opts.padding ?? 'valid',
  );
}

/** Options of layers.dropout. */
export interface DropoutOptions {
  /** Drop only when true (pass mode === ModeKeys.TRAIN); default false: identity. */
  training?: boolean;
  /** Shape of the keep/drop mask, broadcast over the input (e.g. [batch, 1, 1, channels]). */
  noiseShape?: number[];
  /** Seed of the mask; default derived from RunConfig.randomSeed. */
  seed?: number;
}

/**
 * tf.layers.dropout: zeroes a `rate` fraction (default 0.5) and scales the rest by 1 / (1 - rate);
 * identity unless `training`. Seeded from RunConfig.randomSeed when set.
 * @example layers.dropout(h, 0.4, { training: mode === ModeKeys.TRAIN })
 */
export function dropout(x: tf.Tensor, rate = 0.5, opts: DropoutOptions = {}): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}.`);
  if (!opts.training || rate === 0) return x;
  const seed = opts.seed ?? activeGraph()?.nextOpSeed();
  return tf.dropout(x, rate, opts.noiseShape, seed);
}

/** tf.layers.flatten: keeps the batch axis, flattens the rest ([B, H, W, C] -> [B, H*W*C]). */
export function flatten(x: tf.Tensor): tf.Tensor2D {
  if (!(x instanceof tf.Tensor) || x.rank < 1) throw new Error('flatten: input must be a tensor with a batch axis.');
  return tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
}
