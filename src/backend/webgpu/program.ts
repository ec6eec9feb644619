// The parts of tfjs-backend-webgpu's program interface that our kernels use, declared here so
// that the package's own types (which pull in the browser's WebGPU globals) stay out.
import type * as tf from '@tensorflow/tfjs';

/** A compute program (tfjs-backend-webgpu's WebGPUProgram): WGSL body plus its dispatch. */
export interface WebGPUProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  /** Adds `uniforms.size` (the output's element count). */
  size?: boolean;
  getUserCode(): string;
}

/** One field of a program's own uniforms, in the order its `uniforms` string declares them. */
export type Uniform = { type: 'int32' | 'float32'; data: number[] };

/** The part of WebGPUBackend used here. */
export interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgramLike, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}
