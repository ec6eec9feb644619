// Sum and Mean over a block of axes that is not innermost, for the webgpu backend: the bias
// gradients (a sum over every axis but the channels) and the CNN's global mean over height and
// width. tfjs-backend-webgpu first transposes the reduced axes innermost, then reduces: two
// dispatches and a temporary the size of the input. Here one dispatch reads x in place as
// [outer, reduced, inner]: one workgroup per output element, its threads striding over the
// reduced block, then a tree sum in shared memory.
import * as tf from '@tensorflow/tfjs';
import { contiguousView } from './mean-grad';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program';

const THREADS = 64;
/** Shorter reductions leave most of a workgroup idle: the stock kernel does as well there. */
const MIN_REDUCED = 16;

class StridedReduceProgram implements WebGPUProgramLike {
  variableNames = ['x'];
  uniforms = 'outputs : i32, reduced : i32, inner : i32, divisor : f32,';
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  outputShape: number[];
  shaderKey = 'tfjsEstimatorStridedReduce';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];

  constructor(outputs: number) {
    this.outputShape = [outputs];
    this.dispatch = [outputs, 1, 1];
  }

  getUserCode(): string {
    return `
      var<workgroup> partial : array<f32, ${THREADS}>;

      fn main(index : i32) {
        let li = i32(localIndex);
        // One workgroup per output element (index counts the threads of all workgroups, in a
        // dispatch the backend may have folded into 2-D or 3-D to fit the per-dimension limit).
        let o = index / ${THREADS};
        var s = 0.0;
        if (o < uniforms.outputs) {
          let base = (o / uniforms.inner) * uniforms.reduced * uniforms.inner + o % uniforms.inner;
          for (var r = li; r < uniforms.reduced; r = r + ${THREADS}) {
            s = s + x[base + r * uniforms.inner];
          }
        }
        partial[li] = s;
        workgroupBarrier();
        for (var k = ${THREADS / 2}; k > 0; k = k / 2) {
          if (li < k) {
            partial[li] = partial[li] + partial[li + k];
          }
          workgroupBarrier();
        }
        if (li == 0 && o < uniforms.outputs) {
          result[o] = partial[0] / uniforms.divisor;
        }
      }
    `;
  }
}

export interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

function view(x: tf.TensorInfo, attrs: ReduceAttrs): [number, number, number] | undefined {
  return contiguousView(x.shape, tf.util.parseAxisParam(attrs.axis, x.shape));
}

/** Whether the one-dispatch kernel handles this (else the stock transpose + reduce runs). */
export function supportsStridedReduce(x: tf.TensorInfo, attrs: ReduceAttrs): boolean {
  const v = view(x, attrs);
  // inner 1: the axes are innermost already, and the stock kernel needs no transpose.
  return x.dtype === 'float32' && v !== undefined && v[2] > 1 && v[1] >= MIN_REDUCED;
}

/** Sum (or Mean) of x over a contiguous block of axes followed by at least one kept axis. */
export function stridedReduce(backend: WebGPUBackendLike, x: tf.TensorInfo, attrs: ReduceAttrs, mean: boolean): tf.TensorInfo {
  const [outer, reduced, inner] = view(x, attrs)!;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape);
  const out = backend.runWebGPUProgram(new StridedReduceProgram(outer * inner), [x], 'float32', [
    { type: 'int32', data: [outer * inner] },
    { type: 'int32', data: [reduced] },
    { type: 'int32', data: [inner] },
    { type: 'float32', data: [mean ? reduced : 1] },
  ]);
  // The output's shape: the data is already in order, so a new shape over the same data.
  const shape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  return { ...out, shape };
}
