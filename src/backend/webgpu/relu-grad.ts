// Relu's gradient for the webgpu backend (the project's RELU_GRAD): dy where relu's output is
// positive, else 0, in one program. The stock gradient is dy * cast(step(x)): two programs
// (the cast of a float32 is free) and a temporary.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program';

class ReluGradProgram implements WebGPUProgramLike {
  variableNames = ['dy', 'y'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey = 'tfjsEstimatorReluGrad';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / 64), 1, 1];
  }

  getUserCode(): string {
    // dy * 0 rather than 0 where y <= 0: a NaN or infinite dy stays NaN, as in the stock product.
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let d = dy[index];
          setOutputAtIndex(index, select(d * 0.0, d, y[index] > 0.0));
        }
      }
    `;
  }
}

/** dx of relu from dy and relu's output y (y > 0 exactly where its input is). */
export function reluGrad(backend: WebGPUBackendLike, dy: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo {
  return backend.runWebGPUProgram(new ReluGradProgram(y.shape), [dy, y], 'float32');
}
