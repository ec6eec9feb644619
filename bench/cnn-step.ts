// The article's CNN written with plain tfjs ops (no Estimator), for the backend benchmarks and
// tests: conv 32 k3 / BN / relu / maxpool 3,2 ; conv 64 k3 / BN / relu / maxpool 3,2 ;
// global mean ; dense 10 ; sparse softmax cross-entropy ; Adam. It uses the same custom kernels
// as the library's layers and optimizer (batch norm, Adam) where the backend has them.
import * as tf from '@tensorflow/tfjs';
import {
  ADAM_UPDATE,
  BN_TRAIN,
  adamUpdate,
  batchNormTraining,
  conv2d,
  hasKernel,
  maxPool,
  sparseSoftmaxCrossEntropyPerExample,
} from '../src/framework/fused-ops';

export interface CnnModel {
  vars: Record<string, tf.Variable>;
  slots: Record<string, { m: tf.Variable; v: tf.Variable }>;
  step: number;
}

export interface StepOptions {
  learningRate?: number;
  /** 'kernel' uses the fused batch-norm kernel where the backend has it; 'composite' forces tfjs's ops. */
  batchNorm?: 'kernel' | 'composite';
  /** 'helper' uses fused-ops' conv2d (no unneeded input gradient); 'fused' tf.fused.conv2d. */
  conv?: 'helper' | 'fused';
  /** 'kernel' uses the fused sparse softmax cross-entropy where available; 'composite' tfjs's ops. */
  loss?: 'kernel' | 'composite';
}

/** Glorot-uniform kernels and zero biases, drawn from one seed (same values on every backend). */
export function makeCnn(seed = 1): CnnModel {
  const glorot = (shape: number[], fanIn: number, fanOut: number, s: number) => {
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    return tf.variable(tf.randomUniform(shape, -lim, lim, 'float32', s));
  };
  const vars: Record<string, tf.Variable> = tf.tidy(() => ({
    k1: glorot([3, 3, 1, 32], 9, 9 * 32, seed),
    b1: tf.variable(tf.zeros([32])),
    g1: tf.variable(tf.ones([32])),
    be1: tf.variable(tf.zeros([32])),
    k2: glorot([3, 3, 32, 64], 9 * 32, 9 * 64, seed + 1),
    b2: tf.variable(tf.zeros([64])),
    g2: tf.variable(tf.ones([64])),
    be2: tf.variable(tf.zeros([64])),
    wd: glorot([64, 10], 64, 10, seed + 2),
    bd: tf.variable(tf.zeros([10])),
  }));
  const slots: CnnModel['slots'] = {};
  tf.tidy(() => {
    for (const [k, v] of Object.entries(vars)) slots[k] = { m: tf.variable(tf.zerosLike(v)), v: tf.variable(tf.zerosLike(v)) };
  });
  return { vars, slots, step: 0 };
}

export function disposeCnn(model: CnnModel): void {
  tf.dispose(Object.values(model.vars));
  for (const s of Object.values(model.slots)) tf.dispose([s.m, s.v]);
}

function batchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mode: StepOptions['batchNorm']): tf.Tensor {
  if (mode !== 'composite' && hasKernel(BN_TRAIN)) return batchNormTraining(x, gamma, beta, 1e-3)[0];
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gamma, 1e-3);
}

/** Mean sparse softmax cross-entropy of the CNN on images [N,28,28,1] and int32 labels [N]. */
export function cnnLoss(model: CnnModel, images: tf.Tensor4D, labels: tf.Tensor1D, opts: StepOptions = {}): tf.Scalar {
  const v = model.vars;
  let x: tf.Tensor = images;
  for (const [k, b, g, be] of [
    [v.k1, v.b1, v.g1, v.be1],
    [v.k2, v.b2, v.g2, v.be2],
  ]) {
    const args = { x: x as tf.Tensor4D, filter: k as tf.Tensor4D, strides: 1, pad: 'valid' as const, bias: b };
    x = opts.conv === 'fused' ? tf.fused.conv2d(args) : conv2d(args);
    x = batchNorm(x, g, be, opts.batchNorm);
    x = tf.relu(x);
    x = maxPool(x as tf.Tensor4D, [3, 3], [2, 2], 'valid');
  }
  x = tf.mean(x, [1, 2]);
  const logits = tf.add(tf.matMul(x as tf.Tensor2D, v.wd as tf.Tensor2D), v.bd);
  if (opts.loss !== 'composite') return tf.mean(sparseSoftmaxCrossEntropyPerExample(labels, logits));
  return tf.mean(tf.neg(tf.sum(tf.mul(tf.oneHot(labels, 10), tf.logSoftmax(logits)), -1)));
}

/** One Adam step (TF1's update, epsilon outside the square root); returns the loss. */
export function trainStep(model: CnnModel, images: tf.Tensor4D, labels: tf.Tensor1D, opts: StepOptions = {}): number {
  const lr = opts.learningRate ?? 1e-3;
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  model.step += 1;
  const lrT = (lr * Math.sqrt(1 - b2 ** model.step)) / (1 - b1 ** model.step);
  let loss = NaN;
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => cnnLoss(model, images, labels, opts), Object.values(model.vars));
    for (const [name, g] of Object.entries(grads)) {
      const key = Object.keys(model.vars).find((k) => model.vars[k].name === name)!;
      const w = model.vars[key];
      const { m, v } = model.slots[key];
      if (hasKernel(ADAM_UPDATE)) {
        const [nw, nm, nv] = adamUpdate(w, m, v, g, lrT, b1, b2, eps);
        w.assign(nw);
        m.assign(nm);
        v.assign(nv);
      } else {
        const nm = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const nv = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        w.assign(tf.sub(w, tf.div(tf.mul(nm, lrT), tf.add(tf.sqrt(nv), eps))));
        m.assign(nm);
        v.assign(nv);
      }
    }
    loss = value.dataSync()[0];
  });
  return loss;
}

/** A deterministic batch: images in [0,1) and labels 0..9, from a seed. */
export function syntheticBatch(batch: number, seed: number): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  return tf.tidy(() => ({
    images: tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D,
    labels: tf.cast(tf.floor(tf.randomUniform([batch], 0, 10, 'float32', seed + 1)), 'int32') as tf.Tensor1D,
  }));
}
