// Adam's update for the webgpu backend (the project's ADAM_UPDATE): the variable and both
// slots in one dispatch, instead of ~11 element-wise programs per variable. The learning rate
// comes as a number or a scalar tensor. With the beta powers as inputs it is the base rate and
// each invocation computes lr_t from them (a few flops): the optimizer then dispatches no
// programs of its own for lr_t, and reads nothing back (a read waits for the whole queue).
// Without them it is lr_t already.
import * as tf from '@tensorflow/tfjs';
import { Binding, runMultiOutput } from './multi-output';
import type { WebGPUBackendLike } from './program';

export interface AdamAttrs {
  /** The learning rate as a number, where no `lr` input is given. */
  lr?: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface AdamInputs {
  v: tf.TensorInfo;
  m: tf.TensorInfo;
  s: tf.TensorInfo;
  g: tf.TensorInfo;
  lr?: tf.TensorInfo;
  /** beta1^t and beta2^t: given together, they make lr the base rate. */
  beta1Power?: tf.TensorInfo;
  beta2Power?: tf.TensorInfo;
}

/** WebGPU's default, where a device was made without asking for more (setup.ts asks for the adapter's). */
const DEFAULT_STORAGE_BUFFERS = 8;

/** How many storage buffers one shader of this device may bind. */
export function storageBuffersPerStage(backend: WebGPUBackendLike): number {
  const limits = (backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } }).device?.limits;
  return limits?.maxStorageBuffersPerShaderStage ?? DEFAULT_STORAGE_BUFFERS;
}

const f = (x: number) => ({ type: 'float32' as const, data: [x] });

/**
 * [newVar, newM, newV] of TF1's Adam (epsilon outside the square root), as fresh tensors.
 * `maxStorageBuffers`: what the device binds per shader; with the beta powers the update binds
 * 9 or 10, and a device with fewer gets lr_t from a one-invocation program first.
 */
export function adamUpdate(
  backend: WebGPUBackendLike,
  inputs: AdamInputs,
  attrs: AdamAttrs,
  maxStorageBuffers = storageBuffersPerStage(backend),
): tf.TensorInfo[] {
  const { v, m, s, g, lr, beta1Power, beta2Power } = inputs;
  if ((beta1Power === undefined) !== (beta2Power === undefined)) throw new Error('Adam update: give both beta powers or neither.');
  const extra: Binding[] = [];
  if (lr) extra.push(['lrIn', lr]);
  const base = lr ? 'lrIn[0]' : 'uniforms.lr';
  let lrT = base;
  if (beta1Power && beta2Power) {
    if (3 + 4 + extra.length + 2 > maxStorageBuffers) {
      const t = learningRateT(backend, lr, beta1Power, beta2Power, attrs);
      return adamUpdate(backend, { v, m, s, g, lr: t }, attrs, maxStorageBuffers);
    }
    extra.push(['beta1Power', beta1Power], ['beta2Power', beta2Power]);
    lrT = correctedRate(base);
  }
  const shape = v.shape;
  // The same float32 operations in the same order as the composed update (train-ops.ts).
  return runMultiOutput(backend, {
    key: `AdamUpdate_${lr ? 'tensor' : 'uniform'}${beta1Power ? 'Corrected' : ''}`,
    outputs: [
      ['newVar', shape, 'float32'],
      ['newM', shape, 'float32'],
      ['newS', shape, 'float32'],
    ],
    inputs: [['v', v], ['m', m], ['s', s], ['g', g], ...extra],
    uniforms: 'lr : f32, beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, epsilon : f32,',
    uniformValues: [f(attrs.lr ?? 0), f(attrs.beta1), f(1 - attrs.beta1), f(attrs.beta2), f(1 - attrs.beta2), f(attrs.epsilon)],
    threads: tf.util.sizeFromShape(shape),
    body: `
      let lr = ${lrT};
      let gi = g[i];
      let mi = m[i] * uniforms.beta1 + gi * uniforms.oneMinusBeta1;
      let si = s[i] * uniforms.beta2 + (gi * gi) * uniforms.oneMinusBeta2;
      newM[i] = mi;
      newS[i] = si;
      newVar[i] = v[i] - (mi * lr) / (sqrt(si) + uniforms.epsilon);
    `,
  });
}

/** TF1's lr_t in WGSL, in the order of train-ops.ts's composed ops: lr * sqrt(1 - beta2^t) / (1 - beta1^t). */
const correctedRate = (lr: string) => `(${lr} * sqrt(1.0 - beta2Power[0])) / (1.0 - beta1Power[0])`;

/** The last lr_t made for a device that cannot bind the powers, and what it was made from. */
let lastRate: { from: unknown[]; backend: WebGPUBackendLike; info: tf.TensorInfo } | undefined;

/**
 * lr_t as a scalar tensor, in one dispatch: for devices that cannot bind the powers with the
 * update. Every variable of one apply gets the same inputs (a tensor's data never changes, and
 * assigning a variable gives it new data), so they share one lr_t; it is freed when the next
 * apply makes its own, once the queued updates that read it have run.
 */
function learningRateT(
  backend: WebGPUBackendLike,
  lr: tf.TensorInfo | undefined,
  beta1Power: tf.TensorInfo,
  beta2Power: tf.TensorInfo,
  attrs: AdamAttrs,
): tf.TensorInfo {
  const from = [beta1Power.dataId, beta2Power.dataId, lr ? lr.dataId : attrs.lr];
  if (lastRate && lastRate.backend === backend && lastRate.from.every((x, k) => x === from[k])) return lastRate.info;
  if (lastRate) lastRate.backend.disposeData(lastRate.info.dataId);
  lastRate = { from, backend, info: computeRateT(backend, lr, beta1Power, beta2Power, attrs) };
  return lastRate.info;
}

function computeRateT(
  backend: WebGPUBackendLike,
  lr: tf.TensorInfo | undefined,
  beta1Power: tf.TensorInfo,
  beta2Power: tf.TensorInfo,
  attrs: AdamAttrs,
): tf.TensorInfo {
  const inputs: Binding[] = [['beta1Power', beta1Power], ['beta2Power', beta2Power], ...(lr ? [['lrIn', lr] as Binding] : [])];
  return runMultiOutput(backend, {
    key: `AdamLearningRate_${lr ? 'tensor' : 'uniform'}`,
    outputs: [['lrT', [], 'float32']],
    inputs,
    uniforms: 'lr : f32,',
    uniformValues: [f(attrs.lr ?? 0)],
    threads: 1,
    body: `lrT[0] = ${correctedRate(lr ? 'lrIn[0]' : 'uniforms.lr')};`,
  })[0];
}
