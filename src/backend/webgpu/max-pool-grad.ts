// MaxPoolGrad for the webgpu backend in one program. The stock kernel runs two: one writes
// each window's argmax position into an int32 tensor, the second gathers dy through it. Here
// each input element finds the windows that contain it, recomputes their argmax from x (a few
// reads that stay in cache) and adds dy where it is that argmax: one dispatch and no
// intermediate buffer. Ties go to the LAST maximum in row-major window order, as in the stock
// kernel (the cpu backend takes the first): the article CNN on webgpu has exact ties between
// positive activations that the cpu backend's rounding keeps apart, and with the first maximum
// its step-1 gradients differed from cpu's by 2e-2..8e-2 of their largest value (1e-6 with the
// last, as with the stock kernel).
import * as tf from '@tensorflow/tfjs';
import type { Uniform, WebGPUBackendLike, WebGPUProgramLike } from './program';

/**
 * WGSL: ohLo..ohHi and owLo..owHi, the windows (oh, ow) that contain input pixel (ih, iw), for
 * outH x outW windows (uniforms strideH/W, padTop/Left, filterH/W).
 */
export function windowsContaining(outH: string, outW: string): string {
  // Windows oh with oh*s - pad <= ih <= oh*s - pad + f - 1 (integer division of non-negative
  // numbers only: WGSL's rounds toward zero).
  return `
          let numH = ih + uniforms.padTop - uniforms.filterH + 1;
          let numW = iw + uniforms.padLeft - uniforms.filterW + 1;
          let ohLo = select(0, (numH + uniforms.strideH - 1) / uniforms.strideH, numH > 0);
          let owLo = select(0, (numW + uniforms.strideW - 1) / uniforms.strideW, numW > 0);
          let ohHi = min((ih + uniforms.padTop) / uniforms.strideH, ${outH} - 1);
          let owHi = min((iw + uniforms.padLeft) / uniforms.strideW, ${outW} - 1);`;
}

class MaxPoolGradProgram implements WebGPUProgramLike {
  variableNames = ['dy', 'x'];
  uniforms = 'strideH : i32, strideW : i32, padTop : i32, padLeft : i32, filterH : i32, filterW : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey = 'tfjsEstimatorMaxPoolGrad';
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
          let inH = uniforms.xShape.y;
          let inW = uniforms.xShape.z;
          let channels = uniforms.xShape.w;
          let outH = uniforms.dyShape.y;
          let outW = uniforms.dyShape.z;
          ${windowsContaining('outH', 'outW')}
          var sum = 0.0;
          for (var oh = ohLo; oh <= ohHi; oh++) {
            for (var ow = owLo; ow <= owHi; ow++) {
              var best = -uniforms.INFINITY;
              var bestY = -1;
              var bestX = -1;
              for (var fy = 0; fy < uniforms.filterH; fy++) {
                let y = oh * uniforms.strideH - uniforms.padTop + fy;
                if (y < 0 || y >= inH) { continue; }
                for (var fx = 0; fx < uniforms.filterW; fx++) {
                  let xx = ow * uniforms.strideW - uniforms.padLeft + fx;
                  if (xx < 0 || xx >= inW) { continue; }
                  let v = x[((b * inH + y) * inW + xx) * channels + c];
                  if (v >= best) {
                    best = v;
                    bestY = y;
                    bestX = xx;
                  }
                }
              }
              if (bestY == ih && bestX == iw) {
                sum = sum + dy[((b * outH + oh) * outW + ow) * channels + c];
              }
            }
          }
          setOutputAtIndex(index, sum);
        }
      }
    `;
  }
}

export interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Whether the one-pass kernel handles these inputs (else the stock kernel runs). */
export function supportsMaxPoolGrad(dy: tf.TensorInfo, x: tf.TensorInfo): boolean {
  return dy.dtype === 'float32' && x.dtype === 'float32' && x.shape.length === 4;
}

/** dx of a 2-D max pool (NHWC, dilation 1). */
export function maxPoolGrad(backend: WebGPUBackendLike, dy: tf.TensorInfo, x: tf.TensorInfo, attrs: MaxPoolGradAttrs): tf.TensorInfo {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const uniforms: Uniform[] = [
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.filterHeight,
    info.filterWidth,
  ].map((v) => ({
    type: 'int32',
    data: [v],
  }));
  return backend.runWebGPUProgram(new MaxPoolGradProgram(x.shape), [dy, x], 'float32', uniforms);
}
