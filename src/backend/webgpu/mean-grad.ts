// Mean's gradient for the webgpu backend (the project's MEAN_GRAD): dy spread over the reduced
// axes and scaled, in one program. The stock gradient multiplies by a tensor of ones and
// divides: three programs (fill, multiply, divide), each broadcasting.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program';

/** [outer, reduced, inner] sizes when the axes form one contiguous block, else undefined. */
export function contiguousView(shape: number[], axes: number[]): [number, number, number] | undefined {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return undefined;
  const size = (dims: number[]) => dims.reduce((p, d) => p * d, 1);
  return [
    size(shape.slice(0, sorted[0])),
    size(shape.slice(sorted[0], sorted[sorted.length - 1] + 1)),
    size(shape.slice(sorted[sorted.length - 1] + 1)),
  ];
}

class MeanGradProgram implements WebGPUProgramLike {
  variableNames = ['dy'];
  uniforms = 'reduced : i32, inner : i32, scale : f32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey = 'tfjsEstimatorMeanGrad';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / 64), 1, 1];
  }

  getUserCode(): string {
    // The output as [outer, reduced, inner]: element (o, r, n) takes dy[o * inner + n].
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = index / (uniforms.reduced * uniforms.inner);
          let n = index % uniforms.inner;
          setOutputAtIndex(index, dy[o * uniforms.inner + n] * uniforms.scale);
        }
      }
    `;
  }
}

export interface MeanGradAttrs {
  /** The mean's input shape. */
  shape: number[];
  /** The reduced axes. */
  axis: number[];
  /** 1 / (elements per mean). */
  scale: number;
}

/** Whether the one-program kernel handles these (else tfjs ops compose it). */
export function supportsMeanGrad(dy: tf.TensorInfo, attrs: MeanGradAttrs): boolean {
  return dy.dtype === 'float32' && contiguousView(attrs.shape, attrs.axis) !== undefined;
}

export function meanGrad(backend: WebGPUBackendLike, dy: tf.TensorInfo, attrs: MeanGradAttrs): tf.TensorInfo {
  const [, reduced, inner] = contiguousView(attrs.shape, attrs.axis)!;
  return backend.runWebGPUProgram(new MeanGradProgram(attrs.shape), [dy], 'float32', [
    { type: 'int32', data: [reduced] },
    { type: 'int32', data: [inner] },
    { type: 'float32', data: [attrs.scale] },
  ]);
}
