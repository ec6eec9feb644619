// summary.scalar / image / histogram, callable anywhere in modelFn or inputFn. They record
// into the collector of the running step when a summary is due at that step (the
// SummarySaverHook opens one), and cost nothing otherwise. Values are read at once, so no
// tensor outlives the step.
import * as tf from '@tensorflow/tfjs';
import { encode } from 'fast-png';
import type { HistogramValue, SummaryValue } from './proto';

export class SummaryCollector {
  readonly values: SummaryValue[] = [];
  readonly scalars = new Map<string, number>();
}

let active: SummaryCollector | undefined;

export function setActiveCollector(c: SummaryCollector | undefined): void {
  active = c;
}

export function activeCollector(): SummaryCollector | undefined {
  return active;
}

function checkName(fn: string, name: unknown): string {
  if (typeof name !== 'string' || !name) throw new Error(`summary.${fn}(name, ...): name must be a non-empty string.`);
  return name;
}

/** A scalar (a number or a tensor holding one value). */
export function scalar(name: string, value: tf.Tensor | number): void {
  checkName('scalar', name);
  if (!active) return;
  let v: number;
  if (typeof value === 'number') v = value;
  else {
    if (value.size !== 1) throw new Error(`summary.scalar('${name}'): needs one value, got shape [${value.shape}]; reduce it first (tf.mean).`);
    v = value.dataSync()[0];
  }
  active.scalars.set(name, v);
  active.values.push({ tag: name, simpleValue: v });
}

/** Up to maxOutputs images of an NHWC batch (1, 3 or 4 channels, float in [0,1] or 0..255 integers). */
export function image(name: string, images: tf.Tensor, opts: { maxOutputs?: number } = {}): void {
  checkName('image', name);
  if (!active) return;
  const x = images.rank === 3 ? images.expandDims(-1) : images;
  if (x.rank !== 4 || ![1, 3, 4].includes(x.shape[3] as number)) {
    if (x !== images) x.dispose();
    throw new Error(`summary.image('${name}'): images must be NHWC with 1, 3 or 4 channels, got shape [${images.shape}].`);
  }
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const count = Math.min(n, opts.maxOutputs ?? 3);
  const data = x.dataSync();
  const isFloat = x.dtype === 'float32';
  for (let i = 0; i < count; i++) {
    const px = new Uint8Array(h * w * c);
    for (let j = 0; j < px.length; j++) {
      const v = data[i * px.length + j] * (isFloat ? 255 : 1);
      px[j] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
    const png = encode({ width: w, height: h, data: px, channels: c, depth: 8 });
    // TF1's naming: name/image for a single image, name/image/0.. for several.
    const tag = count === 1 ? `${name}/image` : `${name}/image/${i}`;
    active.values.push({ tag, image: { height: h, width: w, colorspace: c, encodedImageString: png } });
  }
  if (x !== images) x.dispose();
}

/** TF's default histogram bucket edges: ±1e-12 * 1.1^k up to 1e20, and 0. */
let defaultLimits: number[] | undefined;
function bucketLimits(): number[] {
  if (defaultLimits) return defaultLimits;
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  defaultLimits = [...pos.map((v) => -v).reverse(), 0, ...pos, Number.MAX_VALUE];
  return defaultLimits;
}

export function histogramOf(values: ArrayLike<number>): HistogramValue {
  const limits = bucketLimits();
  const counts = new Float64Array(limits.length);
  let min = Infinity, max = -Infinity, sum = 0, sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSquares += v * v;
    // First limit >= v (binary search): bucket i holds (limit[i-1], limit[i]].
    let lo = 0, hi = limits.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (limits[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo] += 1;
  }
  // As TF's EncodeToProto: drop empty buckets, but keep one empty bucket after a non-empty one,
  // so each bucket's left edge stays the previous limit.
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  for (let i = 0; i < limits.length; i++) {
    if (counts[i] > 0 || (i > 0 && counts[i - 1] > 0)) {
      bucketLimit.push(limits[i]);
      bucket.push(counts[i]);
    }
  }
  return { min: values.length ? min : 0, max: values.length ? max : 0, num: values.length, sum, sumSquares, bucketLimit, bucket };
}

export function histogram(name: string, values: tf.Tensor | ArrayLike<number>): void {
  checkName('histogram', name);
  if (!active) return;
  const v = values instanceof tf.Tensor ? values.dataSync() : values;
  active.values.push({ tag: name, histo: histogramOf(v as ArrayLike<number>) });
}
