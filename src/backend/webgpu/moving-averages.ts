// Batch norm's moving-average update for the webgpu backend (the project's BN_MOVING_AVERAGES):
// both averages of a layer in one dispatch (multi-output.ts). Composed from tfjs ops it is
// seven element-wise programs per layer and step. The same float32 operations in the same
// order as the composed update in layers/index.ts.
import type * as tf from '@tensorflow/tfjs';
import { runMultiOutput } from './multi-output';
import type { WebGPUBackendLike } from './program';

export function movingAverages(
  backend: WebGPUBackendLike,
  inputs: { movingMean: tf.TensorInfo; movingVar: tf.TensorInfo; mean: tf.TensorInfo; variance: tf.TensorInfo },
  attrs: { momentum: number; correction: number },
): tf.TensorInfo[] {
  const { movingMean, movingVar, mean, variance } = inputs;
  const f = (x: number) => ({ type: 'float32' as const, data: [x] });
  return runMultiOutput(backend, {
    key: 'BnMovingAverages',
    outputs: [
      ['newMean', movingMean.shape, 'float32'],
      ['newVar', movingVar.shape, 'float32'],
    ],
    inputs: [
      ['movingMean', movingMean],
      ['movingVar', movingVar],
      ['mean', mean],
      ['variance', variance],
    ],
    uniforms: 'momentum : f32, oneMinusMomentum : f32, correction : f32,',
    uniformValues: [f(attrs.momentum), f(1 - attrs.momentum), f(attrs.correction)],
    threads: movingMean.shape.reduce((a, b) => a * b, 1),
    body: `
      newMean[i] = movingMean[i] * uniforms.momentum + mean[i] * uniforms.oneMinusMomentum;
      newVar[i] = movingVar[i] * uniforms.momentum + (variance[i] * uniforms.correction) * uniforms.oneMinusMomentum;
    `,
  });
}
