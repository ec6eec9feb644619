// Max pooling that records each window's argmax (the project's MAX_POOL) and the gradient that
// uses it (MAX_POOL_GRAD) for the webgpu backend. The dispatch count is that of tfjs's MaxPool
// plus our one-pass MaxPoolGrad (max-pool-grad.ts): one each way. What the workspace saves is
// the gradient's search: each input element checks one int per window that contains it instead
// of recomputing that window's maximum (9 reads per window for the article's 3x3 pools).
// Ties go to the last maximum in row-major window order, as in max-pool-grad.ts (see there why).
import * as tf from '@tensorflow/tfjs';
import type { MaxPoolAttrs } from '../custom-kernels';
import { runMultiOutput } from './multi-output';
import { windowsContaining } from './max-pool-grad';
import type { Uniform, WebGPUBackendLike, WebGPUProgramLike } from './program';

function poolInfo(inShape: number[], a: MaxPoolAttrs): tf.backend_util.Conv2DInfo {
  const shape = inShape as [number, number, number, number];
  return tf.backend_util.computePool2DInfo(shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
}

const ints = (values: number[]): Uniform[] => values.map((v) => ({ type: 'int32', data: [v] }));

const GEOMETRY =
  'inH : i32, inW : i32, channels : i32, outH : i32, outW : i32, strideH : i32, strideW : i32, padTop : i32, padLeft : i32, filterH : i32, filterW : i32,';

function geometry(c: tf.backend_util.Conv2DInfo): Uniform[] {
  return ints([
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
    c.filterHeight,
    c.filterWidth,
  ]);
}

/**
 * [y, workspace] for NHWC x: y as tf.maxPool; the workspace (int32, y's shape) holds where in
 * its image each maximum came from, as row * inW + column (-1 for a window of padding only).
 */
export function maxPoolWithArgmax(backend: WebGPUBackendLike, x: tf.TensorInfo, attrs: MaxPoolAttrs): tf.TensorInfo[] {
  const c = poolInfo(x.shape, attrs);
  return runMultiOutput(backend, {
    key: 'MaxPoolArgmax',
    outputs: [
      ['y', c.outShape, 'float32'],
      ['workspace', c.outShape, 'int32'],
    ],
    inputs: [['x', x]],
    uniforms: GEOMETRY,
    uniformValues: geometry(c),
    threads: tf.util.sizeFromShape(c.outShape),
    body: `
      let ch = i % uniforms.channels;
      let pixel = i / uniforms.channels;
      let ow = pixel % uniforms.outW;
      let oh = (pixel / uniforms.outW) % uniforms.outH;
      let b = pixel / (uniforms.outW * uniforms.outH);
      var best = -uniforms.INFINITY;
      var argmax = -1;
      for (var fy = 0; fy < uniforms.filterH; fy++) {
        let yy = oh * uniforms.strideH - uniforms.padTop + fy;
        if (yy < 0 || yy >= uniforms.inH) { continue; }
        for (var fx = 0; fx < uniforms.filterW; fx++) {
          let xx = ow * uniforms.strideW - uniforms.padLeft + fx;
          if (xx < 0 || xx >= uniforms.inW) { continue; }
          let v = x[((b * uniforms.inH + yy) * uniforms.inW + xx) * uniforms.channels + ch];
          if (v >= best) {
            best = v;
            argmax = yy * uniforms.inW + xx;
          }
        }
      }
      y[i] = best;
      workspace[i] = argmax;
    `,
  });
}

/** dx: each input element adds dy of the windows whose recorded maximum it is. */
class MaxPoolGradFromArgmaxProgram implements WebGPUProgramLike {
  variableNames = ['dy', 'workspace'];
  uniforms = GEOMETRY;
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey = 'tfjsEstimatorMaxPoolGradFromArgmax';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(inShape: number[]) {
    this.outputShape = inShape;
    this.dispatchLayout = { x: inShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(inShape) / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          let b = coords[0];
          let ih = coords[1];
          let iw = coords[2];
          let c = coords[3];
          ${windowsContaining('uniforms.outH', 'uniforms.outW')}
          let me = ih * uniforms.inW + iw;
          var sum = 0.0;
          for (var oh = ohLo; oh <= ohHi; oh++) {
            for (var ow = owLo; ow <= owHi; ow++) {
              let o = ((b * uniforms.outH + oh) * uniforms.outW + ow) * uniforms.channels + c;
              if (workspace[o] == me) {
                sum = sum + dy[o];
              }
            }
          }
          setOutputAtIndex(index, sum);
        }
      }
    `;
  }
}

/** dx [attrs.inShape] of maxPoolWithArgmax from dy and its workspace. */
export function maxPoolGradFromArgmax(
  backend: WebGPUBackendLike,
  dy: tf.TensorInfo,
  workspace: tf.TensorInfo,
  attrs: MaxPoolAttrs,
): tf.TensorInfo {
  const c = poolInfo(attrs.inShape, attrs);
  return backend.runWebGPUProgram(new MaxPoolGradFromArgmaxProgram(attrs.inShape), [dy, workspace], 'float32', geometry(c));
}
