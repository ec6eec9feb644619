// Adam's update for the webgpu backend (the project's ADAM_UPDATE): the variable and both
// slots in one dispatch, instead of ~11 element-wise programs per variable. lr_t (the learning
// rate with the bias corrections) comes as a scalar tensor where the optimizer computed it on
// the GPU (reading it back would wait for the whole queue), else as a number.
import * as tf from '@tensorflow/tfjs';
import { runMultiOutput } from './multi-output';
import type { WebGPUBackendLike } from './program';

export interface AdamAttrs {
  /** lr_t as a number, where no `lr` input is given. */
  lr?: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** [newVar, newM, newV] of TF1's Adam (epsilon outside the square root), as fresh tensors. */
export function adamUpdate(
  backend: WebGPUBackendLike,
  inputs: { v: tf.TensorInfo; m: tf.TensorInfo; s: tf.TensorInfo; g: tf.TensorInfo; lr?: tf.TensorInfo },
  attrs: AdamAttrs,
): tf.TensorInfo[] {
  const { v, m, s, g, lr } = inputs;
  const shape = v.shape;
  const f = (x: number) => ({ type: 'float32' as const, data: [x] });
  // The same float32 operations in the same order as the composed update (train-ops.ts).
  return runMultiOutput(backend, {
    key: `AdamUpdate_${lr ? 'tensor' : 'uniform'}`,
    outputs: [
      ['newVar', shape, 'float32'],
      ['newM', shape, 'float32'],
      ['newS', shape, 'float32'],
    ],
    inputs: [['v', v], ['m', m], ['s', s], ['g', g], ...(lr ? [['lrT', lr] as [string, tf.TensorInfo]] : [])],
    uniforms: 'lr : f32, beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, epsilon : f32,',
    uniformValues: [f(attrs.lr ?? 0), f(attrs.beta1), f(1 - attrs.beta1), f(attrs.beta2), f(1 - attrs.beta2), f(attrs.epsilon)],
    threads: tf.util.sizeFromShape(shape),
    body: `
      let lr = ${lr ? 'lrT[0]' : 'uniforms.lr'};
      let gi = g[i];
      let mi = m[i] * uniforms.beta1 + gi * uniforms.oneMinusBeta1;
      let si = s[i] * uniforms.beta2 + (gi * gi) * uniforms.oneMinusBeta2;
      newM[i] = mi;
      newS[i] = si;
      newVar[i] = v[i] - (mi * lr) / (sqrt(si) + uniforms.epsilon);
    `,
  });
}
