// Histograms exactly as TensorFlow's HistogramSummary op builds them
// (tensorflow/core/lib/histogram/histogram.cc), so TensorBoard draws ours like TF's.
import type { HistogramValue } from '../../events/proto';

let defaultLimits: Float64Array | undefined;

/** TF's default bucket edges: -DBL_MAX, -1e20 .. -1e-12 (x1.1 per bucket), 0, 1e-12 .. 1e20, DBL_MAX. */
export function defaultBucketLimits(): Float64Array {
  if (defaultLimits) return defaultLimits;
  const pos: number[] = [];
  // Grown by repeated multiplication, as TF does, so the edges match TF's bit for bit.
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  pos.push(Number.MAX_VALUE);
  defaultLimits = Float64Array.from([...pos.map((v) => -v).reverse(), 0, ...pos]);
  return defaultLimits;
}

/**
 * min/max/num/sum/sum_squares and the non-empty buckets of `values`. Like TF: value v goes to
 * the first bucket whose limit is > v (upper_bound), each run of empty buckets collapses into
 * one zero bucket ending at the run's last limit, and NaN or Infinity is an error.
 */
export function histogramOf(values: ArrayLike<number>, name = 'histogram'): HistogramValue {
  const limits = defaultBucketLimits();
  const counts = new Float64Array(limits.length);
  let min = Number.MAX_VALUE,
    max = -Number.MAX_VALUE,
    sum = 0,
    sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw new Error(
        `${Number.isNaN(v) ? 'NaN' : 'Infinity'} in summary histogram for: ${name} (element ${i}). ` +
          `The model has probably diverged: lower the learning rate, or add a NanTensorHook to stop on a NaN loss first.`,
      );
    }
    let lo = 0,
      hi = limits.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (limits[mid] > v) hi = mid;
      else lo = mid + 1;
    }
    counts[lo] += 1;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSquares += v * v;
  }
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  for (let i = 0; i < limits.length;) {
    let end = limits[i];
    const count = counts[i++];
    if (count <= 0) {
      while (i < limits.length && counts[i] <= 0) end = limits[i++];
    }
    bucketLimit.push(end);
    bucket.push(count);
  }
  return { min, max, num: values.length, sum, sumSquares, bucketLimit, bucket };
}
