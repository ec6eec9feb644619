// Batch normalisation in training mode for the webgpu backend: the project's fused kernels
// BN_TRAIN (y, batch mean, batch variance) and BN_TRAIN_GRAD (dx, dscale, doffset), which
// layers.batchNormalization uses wherever a backend registers them. Without them tfjs composes
// tf.moments + tf.batchNorm and their gradients from a dozen element-wise ops and reductions
// per layer each way (Sum, Mean and Multiply were most of a step's remaining GPU time on an
// H200 once the filter gradient was fast). Here each direction is 3 dispatches: per-channel
// partial sums over chunks of rows (the rows, N*H*W, are many and the channels few, so the
// rows are split across workgroups as in conv-backprop-filter.ts), one small program that
// adds the partials into both per-channel results (multi-output.ts), one element-wise pass.
import * as tf from '@tensorflow/tfjs';
import { runMultiOutput } from './multi-output';
import type { WebGPUBackendLike, WebGPUProgramLike, Uniform } from './program';

const THREADS = 256;
/** About how many workgroups the partial sums should offer a GPU. */
const TARGET_WORKGROUPS = 1024;
/** The fewest rows a workgroup sums, so that the partials stay small. */
const MIN_ROWS_PER_SPLIT = 256;

/** Channels per workgroup (consecutive threads read consecutive channels: one NHWC row). */
function channelTile(c: number): number {
  return c <= 16 ? 16 : c <= 32 ? 32 : 64;
}

export interface BatchNormPlan {
  rows: number;
  channels: number;
  tile: number;
  splits: number;
  rowsPerSplit: number;
}

export function planBatchNorm(rows: number, channels: number): BatchNormPlan {
  const tile = channelTile(channels);
  if (rows === 0) return { rows, channels, tile, splits: 1, rowsPerSplit: 1 }; // 0/0: NaN, as tf.moments
  const tiles = Math.ceil(channels / tile);
  let splits = Math.max(1, Math.min(Math.ceil(rows / MIN_ROWS_PER_SPLIT), Math.ceil(TARGET_WORKGROUPS / tiles)));
  const rowsPerSplit = Math.ceil(rows / splits);
  splits = Math.ceil(rows / rowsPerSplit);
  return { rows, channels, tile, splits, rowsPerSplit };
}

/**
 * Per channel and split, two sums over the split's rows, written as [splits, 2, channels].
 * Forward: sum(d) and sum(d^2) with d = x - x[0, c] (shifted by one sample of the channel,
 * so that the variance does not lose its digits to a large mean). Backward: sum(dy) and
 * sum(dy * (x - mean)).
 */
class PartialSumsProgram implements WebGPUProgramLike {
  variableNames: string[];
  uniforms = 'rows : i32, channels : i32, rowsPerSplit : i32,';
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];

  constructor(
    private readonly plan: BatchNormPlan,
    private readonly backward: boolean,
  ) {
    this.variableNames = backward ? ['x', 'dy', 'mu'] : ['x'];
    this.outputShape = [plan.splits, 2, plan.channels];
    this.dispatch = [Math.ceil(plan.channels / plan.tile), plan.splits, 1];
    this.shaderKey = `tfjsEstimatorBnPartials_${backward}_${plan.tile}`;
  }

  getUserCode(): string {
    const tile = this.plan.tile;
    const lanes = THREADS / tile;
    const shift = this.backward ? 'mu[c]' : 'x[c]';
    const term = this.backward
      ? 'let g = dy[i]; s1 = s1 + g; s2 = s2 + g * (x[i] - shift);'
      : 'let d = x[i] - shift; s1 = s1 + d; s2 = s2 + d * d;';
    return `
      var<workgroup> red1 : array<f32, ${THREADS}>;
      var<workgroup> red2 : array<f32, ${THREADS}>;

      fn main() {
        let li = i32(localIndex);
        let lane = li / ${tile};
        let c = i32(workgroupId.x) * ${tile} + li % ${tile};
        let split = i32(workgroupId.y);
        let channels = uniforms.channels;
        var s1 = 0.0;
        var s2 = 0.0;
        if (c < channels) {
          let shift = ${shift};
          let r0 = split * uniforms.rowsPerSplit;
          let r1 = min(r0 + uniforms.rowsPerSplit, uniforms.rows);
          for (var r = r0 + lane; r < r1; r = r + ${lanes}) {
            let i = r * channels + c;
            ${term}
          }
        }
        red1[li] = s1;
        red2[li] = s2;
        workgroupBarrier();
        if (lane == 0 && c < channels) {
          var t1 = 0.0;
          var t2 = 0.0;
          for (var l = 0; l < ${lanes}; l++) {
            t1 = t1 + red1[l * ${tile} + li];
            t2 = t2 + red2[l * ${tile} + li];
          }
          result[(split * 2) * channels + c] = t1;
          result[(split * 2 + 1) * channels + c] = t2;
        }
      }
    `;
  }
}

/**
 * Adds the partials of each split into the two per-channel results, one invocation per
 * channel, in one dispatch: [mean, variance] forward (x for the shift), [doffset, dscale]
 * backward (the variance for 1/sqrt(var + eps)).
 */
function finish(
  b: WebGPUBackendLike,
  p: BatchNormPlan,
  partials: tf.TensorInfo,
  other: tf.TensorInfo,
  backward: boolean,
  epsilon: number,
): tf.TensorInfo[] {
  const n = 'f32(uniforms.rows)';
  const [first, second] = backward ? ['doffset', 'dscale'] : ['mean', 'variance'];
  const values = backward
    ? ['s1', 's2 * inverseSqrt(sigma2[c] + uniforms.epsilon)']
    : [`x[c] + s1 / ${n}`, `max(s2 / ${n} - (s1 / ${n}) * (s1 / ${n}), 0.0)`];
  return runMultiOutput(b, {
    key: `BnFinish_${backward}`,
    outputs: [
      [first, [p.channels], 'float32'],
      [second, [p.channels], 'float32'],
    ],
    inputs: [
      ['partials', partials],
      [backward ? 'sigma2' : 'x', other],
    ],
    uniforms: 'rows : i32, splits : i32, channels : i32, epsilon : f32,',
    uniformValues: [int(p.rows), int(p.splits), int(p.channels), float(epsilon)],
    threads: p.channels,
    body: `
      let c = i;
      var s1 = 0.0;
      var s2 = 0.0;
      for (var s = 0; s < uniforms.splits; s++) {
        s1 = s1 + partials[(s * 2) * uniforms.channels + c];
        s2 = s2 + partials[(s * 2 + 1) * uniforms.channels + c];
      }
      ${first}[c] = ${values[0]};
      ${second}[c] = ${values[1]};
    `,
  });
}

/** The element-wise pass: y forward, dx backward. */
class ApplyProgram implements WebGPUProgramLike {
  variableNames: string[];
  uniforms = 'rows : i32, channels : i32, epsilon : f32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(
    shape: number[],
    private readonly backward: boolean,
  ) {
    this.variableNames = backward ? ['x', 'dy', 'mu', 'sigma2', 'gamma', 'dgamma', 'dbeta'] : ['x', 'mu', 'sigma2', 'gamma', 'beta'];
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / 64), 1, 1];
    this.shaderKey = `tfjsEstimatorBnApply_${backward}`;
  }

  getUserCode(): string {
    const value = this.backward
      ? `gamma[c] * rstd * (dy[i] - dbeta[c] / n - (x[i] - mu[c]) * rstd * dgamma[c] / n)`
      : `(x[i] - mu[c]) * rstd * gamma[c] + beta[c]`;
    return `
      fn main(i : i32) {
        if (i < uniforms.size) {
          let c = i % uniforms.channels;
          let n = f32(uniforms.rows);
          let rstd = inverseSqrt(sigma2[c] + uniforms.epsilon);
          setOutputAtIndex(i, ${value});
        }
      }
    `;
  }
}

const int = (v: number): Uniform => ({ type: 'int32', data: [v] });
const float = (v: number): Uniform => ({ type: 'float32', data: [v] });

function plan(x: tf.TensorInfo): BatchNormPlan {
  const channels = x.shape[x.shape.length - 1];
  return planBatchNorm(tf.util.sizeFromShape(x.shape) / channels, channels);
}

/** [y, mean, variance] of x over every axis but the last (biased variance, as tf.moments). */
export function batchNormTrain(
  b: WebGPUBackendLike,
  x: tf.TensorInfo,
  scale: tf.TensorInfo,
  offset: tf.TensorInfo,
  epsilon: number,
): tf.TensorInfo[] {
  const p = plan(x);
  const partials = b.runWebGPUProgram(new PartialSumsProgram(p, false), [x], 'float32', [
    int(p.rows),
    int(p.channels),
    int(p.rowsPerSplit),
  ]);
  const [mean, variance] = finish(b, p, partials, x, false, epsilon);
  b.disposeData(partials.dataId);
  const y = b.runWebGPUProgram(new ApplyProgram(x.shape, false), [x, mean, variance, scale, offset], 'float32', [
    int(p.rows),
    int(p.channels),
    float(epsilon),
  ]);
  return [y, mean, variance];
}

/** [dx, dscale, doffset] of batchNormTrain, the batch statistics' own gradients included. */
export function batchNormTrainGrad(
  b: WebGPUBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  mean: tf.TensorInfo,
  variance: tf.TensorInfo,
  scale: tf.TensorInfo,
  epsilon: number,
): tf.TensorInfo[] {
  const p = plan(x);
  const partials = b.runWebGPUProgram(new PartialSumsProgram(p, true), [x, dy, mean], 'float32', [
    int(p.rows),
    int(p.channels),
    int(p.rowsPerSplit),
  ]);
  const [doffset, dscale] = finish(b, p, partials, variance, true, epsilon);
  b.disposeData(partials.dataId);
  const dx = b.runWebGPUProgram(new ApplyProgram(x.shape, true), [x, dy, mean, variance, scale, dscale, doffset], 'float32', [
    int(p.rows),
    int(p.channels),
    float(epsilon),
  ]);
  return [dx, dscale, doffset];
}
