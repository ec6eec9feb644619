// Sparse softmax cross-entropy for the webgpu backend (the project's SPARSE_XENT and
// SPARSE_XENT_GRAD): per-example loss and softmax in one dispatch, the logits' gradient in
// another. Composed from tfjs ops (oneHot, logSoftmax's max, sub, exp, sum, log, then mul,
// sum, neg, and their gradients) the loss took ~25 dispatches per step. Both use float32 and
// logSoftmax's order of operations: max, shift, log of the sum of exps.
import * as tf from '@tensorflow/tfjs';
import { runMultiOutput } from './multi-output';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program';

/** [loss [rows], softmax [rows, classes]] of logits [rows, classes] and int32 labels [rows]. */
export function sparseSoftmaxXent(backend: WebGPUBackendLike, logits: tf.TensorInfo, labels: tf.TensorInfo): tf.TensorInfo[] {
  const [rows, classes] = logits.shape;
  // One invocation per row: the rows are a batch (dozens to a few thousand), the classes few.
  return runMultiOutput(backend, {
    key: 'SparseSoftmaxXent',
    outputs: [
      ['loss', [rows], 'float32'],
      ['softmax', [rows, classes], 'float32'],
    ],
    inputs: [
      ['logits', logits],
      ['labels', labels],
    ],
    uniforms: 'classes : i32,',
    uniformValues: [{ type: 'int32', data: [classes] }],
    threads: rows,
    body: `
      let k = uniforms.classes;
      let row = i * k;
      var mx = -uniforms.INFINITY;
      for (var j = 0; j < k; j++) { mx = max(mx, logits[row + j]); }
      var sum = 0.0;
      for (var j = 0; j < k; j++) { sum = sum + exp(logits[row + j] - mx); }
      let lse = log(sum);
      for (var j = 0; j < k; j++) { softmax[row + j] = exp((logits[row + j] - mx) - lse); }
      let y = labels[i];
      loss[i] = select(uniforms.NAN, lse - (logits[row + y] - mx), y >= 0 && y < k);
    `,
  });
}

/** dlogits = (softmax - oneHot(label)) * dloss[row]: one invocation per element. */
class SparseXentGradProgram implements WebGPUProgramLike {
  variableNames = ['softmax', 'labels', 'dloss'];
  uniforms = 'classes : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey = 'tfjsEstimatorSparseXentGrad';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: [0, 1] };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let r = index / uniforms.classes;
          let d = dloss[r];
          let g = softmax[index] * d;
          setOutputAtIndex(index, select(g, g - d, labels[r] == index - r * uniforms.classes));
        }
      }
    `;
  }
}

export function sparseSoftmaxXentGrad(
  backend: WebGPUBackendLike,
  softmax: tf.TensorInfo,
  labels: tf.TensorInfo,
  dloss: tf.TensorInfo,
): tf.TensorInfo {
  return backend.runWebGPUProgram(new SparseXentGradProgram(softmax.shape), [softmax, labels, dloss], 'float32', [
    { type: 'int32', data: [softmax.shape[1]] },
  ]);
}
