// Conv2DBackpropFilter (the filter gradient) for the webgpu backend. The stock kernel runs one
// thread per filter element, each summing over N*OH*OW alone: for the article CNN's second
// conv (x [256,12,12,32], dy [256,10,10,64], filter 3x3x32x64) that is 18,432 threads each
// looping 25,600 times, 66.7 ms of a ~70 ms step on an H200. The gradient is the matrix
// product im2col(x)^T · dy, [K = kh*kw*cin, R = N*OH*OW] x [R, cout], with a huge inner
// dimension and a small output; so the inner dimension is split (split-K): each workgroup
// reduces one chunk of R into one 64x64 (or smaller) tile of the output through shared
// memory and writes its partial sums; a second small program adds the partials.
import * as tf from '@tensorflow/tfjs';
import type { Uniform, WebGPUBackendLike, WebGPUProgramLike } from './program';

/** Rows of R loaded into shared memory per step; 16 x 64 floats for each operand = 8 KB. */
const TILE_R = 16;
/** Threads per workgroup side: 16 x 16 = 256 threads, each with TM x TN outputs. */
const SIDE = 16;
/** About how many workgroups a dispatch should offer a GPU (an H100 has 132 SMs). */
const TARGET_WORKGROUPS = 1024;
/** The fewest R-tiles (of TILE_R rows) one split reduces, so partials stay small next to the inputs. */
const MIN_TILES_PER_SPLIT = 4;

/** Outputs per thread along one side: fewer where the output side is small. */
function perThread(n: number): number {
  return n >= 4 * SIDE ? 4 : n >= 2 * SIDE ? 2 : 1;
}

/** Geometry of one filter-gradient computation: the split-K plan included. */
export interface FilterGradPlan {
  /** kh*kw*cin: rows of the gradient matrix. */
  k: number;
  cout: number;
  /** N*OH*OW: the reduction dimension. */
  rows: number;
  tm: number;
  tn: number;
  splits: number;
  tilesPerSplit: number;
}

/** Picks tile sizes and the number of splits from the sizes alone. */
export function planFilterGrad(k: number, cout: number, rows: number): FilterGradPlan {
  const tm = perThread(k);
  const tn = perThread(cout);
  const outputTiles = Math.ceil(k / (SIDE * tm)) * Math.ceil(cout / (SIDE * tn));
  const rowTiles = Math.ceil(rows / TILE_R);
  let splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / outputTiles), Math.ceil(rowTiles / MIN_TILES_PER_SPLIT)));
  const tilesPerSplit = Math.ceil(rowTiles / splits);
  splits = Math.ceil(rowTiles / tilesPerSplit);
  return { k, cout, rows, tm, tn, splits, tilesPerSplit };
}

/** Writes partial sums [splits, K, cout] (or, with one split, the filter gradient itself). */
class FilterGradPartialsProgram implements WebGPUProgramLike {
  variableNames = ['x', 'dy'];
  uniforms =
    'padTop : i32, padLeft : i32, strideH : i32, strideW : i32, outH : i32, outW : i32, filterW : i32, rows : i32, kDim : i32, tilesPerSplit : i32,';
  workgroupSize: [number, number, number] = [SIDE, SIDE, 1];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y: number[]; z?: number[] };
  dispatch: [number, number, number];

  constructor(
    private readonly plan: FilterGradPlan,
    filterShape: number[],
  ) {
    if (plan.splits === 1) {
      this.outputShape = filterShape;
      this.dispatchLayout = { x: [3], y: [0, 1, 2] };
    } else {
      this.outputShape = [plan.splits, plan.k, plan.cout];
      this.dispatchLayout = { x: [2], y: [1], z: [0] };
    }
    this.dispatch = [Math.ceil(plan.cout / (SIDE * plan.tn)), Math.ceil(plan.k / (SIDE * plan.tm)), plan.splits];
    this.shaderKey = `tfjsEstimatorConv2DFilterGrad_${plan.tm}_${plan.tn}_${plan.splits === 1}`;
  }

  getUserCode(): string {
    const { tm, tn } = this.plan;
    const tileK = SIDE * tm;
    const tileC = SIDE * tn;
    const threads = SIDE * SIDE;
    const aRowsPerPass = threads / tileK;
    const bRowsPerPass = threads / tileC;
    // The TM x TN accumulators as separate variables (unrolled here), so they stay in registers.
    const range = (n: number) => [...Array(n).keys()];
    const each = (f: (i: number, j: number) => string) =>
      range(tm)
        .flatMap((i) => range(tn).map((j) => f(i, j)))
        .join('\n');
    return `
      var<workgroup> tileA : array<f32, ${TILE_R * tileK}>;
      var<workgroup> tileB : array<f32, ${TILE_R * tileC}>;

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let li = i32(localIndex);
        let c0 = i32(workgroupId.x) * ${tileC};
        let k0 = i32(workgroupId.y) * ${tileK};
        let split = i32(workgroupId.z);
        let inH = uniforms.xShape.y;
        let inW = uniforms.xShape.z;
        let cin = uniforms.xShape.w;
        let cout = uniforms.dyShape.w;

        // The im2col column this thread loads is the same at every step: decode it once.
        let ak = li % ${tileK};
        let ar0 = li / ${tileK};
        let kk = k0 + ak;
        let kValid = kk < uniforms.kDim;
        let ci = kk % cin;
        let fx = (kk / cin) % uniforms.filterW;
        let fy = kk / (cin * uniforms.filterW);
        let bc = li % ${tileC};
        let br0 = li / ${tileC};
        let cc = c0 + bc;
        let cValid = cc < cout;

        ${each((i, j) => `var acc${i}${j} = 0.0;`)}
        let firstRow = split * uniforms.tilesPerSplit * ${TILE_R};
        for (var t = 0; t < uniforms.tilesPerSplit; t++) {
          let rBase = firstRow + t * ${TILE_R};
          for (var p = 0; p < ${TILE_R / aRowsPerPass}; p++) {
            let rr = ar0 + p * ${aRowsPerPass};
            let r = rBase + rr;
            var v = 0.0;
            if (kValid && r < uniforms.rows) {
              let ox = r % uniforms.outW;
              let rest = r / uniforms.outW;
              let oy = rest % uniforms.outH;
              let b = rest / uniforms.outH;
              let iy = oy * uniforms.strideH - uniforms.padTop + fy;
              let ix = ox * uniforms.strideW - uniforms.padLeft + fx;
              if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                v = x[((b * inH + iy) * inW + ix) * cin + ci];
              }
            }
            tileA[rr * ${tileK} + ak] = v;
          }
          for (var p = 0; p < ${TILE_R / bRowsPerPass}; p++) {
            let rr = br0 + p * ${bRowsPerPass};
            let r = rBase + rr;
            var v = 0.0;
            if (cValid && r < uniforms.rows) {
              v = dy[r * cout + cc];
            }
            tileB[rr * ${tileC} + bc] = v;
          }
          workgroupBarrier();
          for (var rr = 0; rr < ${TILE_R}; rr++) {
            ${range(tm)
              .map((i) => `let a${i} = tileA[rr * ${tileK} + ty + ${SIDE * i}];`)
              .join(' ')}
            ${range(tn)
              .map((j) => `let b${j} = tileB[rr * ${tileC} + tx + ${SIDE * j}];`)
              .join(' ')}
            ${each((i, j) => `acc${i}${j} = acc${i}${j} + a${i} * b${j};`)}
          }
          workgroupBarrier();
        }
        ${each(
          (i, j) => `if (k0 + ty + ${SIDE * i} < uniforms.kDim && c0 + tx + ${SIDE * j} < cout) {
            result[(split * uniforms.kDim + k0 + ty + ${SIDE * i}) * cout + c0 + tx + ${SIDE * j}] = acc${i}${j};
          }`,
        )}
      }
    `;
  }
}

/** Adds the partial sums of each split: one thread per filter element. */
class SumSplitsProgram implements WebGPUProgramLike {
  variableNames = ['partials'];
  uniforms = 'splits : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey = 'tfjsEstimatorSumSplits';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(filterShape: number[]) {
    this.outputShape = filterShape;
    this.dispatchLayout = { x: filterShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(filterShape) / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var sum = 0.0;
          for (var s = 0; s < uniforms.splits; s++) {
            sum = sum + partials[s * uniforms.size + index];
          }
          setOutputAtIndex(index, sum);
        }
      }
    `;
  }
}

export interface FilterGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Whether the split-K kernel handles these inputs (else the stock kernel runs). */
export function supportsFilterGrad(x: tf.TensorInfo, dy: tf.TensorInfo, attrs: FilterGradAttrs): boolean {
  return x.dtype === 'float32' && dy.dtype === 'float32' && x.shape.length === 4 && attrs.dataFormat !== 'NCHW';
}

/** dW of a 2-D convolution (NHWC, dilation 1) by split-K; see the top of the file. */
export function conv2dFilterGrad(backend: WebGPUBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, attrs: FilterGradAttrs): tf.TensorInfo {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [fh, fw, cin, cout] = attrs.filterShape;
  const plan = planFilterGrad(fh * fw * cin, cout, info.batchSize * info.outHeight * info.outWidth);
  const program = new FilterGradPartialsProgram(plan, attrs.filterShape);
  const uniforms: Uniform[] = [
    info.padInfo.top,
    info.padInfo.left,
    info.strideHeight,
    info.strideWidth,
    info.outHeight,
    info.outWidth,
    fw,
    plan.rows,
    plan.k,
    plan.tilesPerSplit,
  ].map((v) => ({ type: 'int32', data: [v] }));
  const partials = backend.runWebGPUProgram(program, [x, dy], 'float32', uniforms);
  if (plan.splits === 1) return partials;
  const out = backend.runWebGPUProgram(new SumSplitsProgram(attrs.filterShape), [partials], 'float32', [
    { type: 'int32', data: [plan.splits] },
  ]);
  backend.disposeData(partials.dataId);
  return out;
}
