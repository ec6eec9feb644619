// Streaming metrics (tf.metrics) in eager form. In EVAL mode modelFn runs once per batch and
// returns {name: metrics.accuracy(labels, predictions), ...}; each call reads its batch's
// sufficient statistics as plain numbers (no tensors kept), and the Estimator folds batches
// together with `merge`, then reads `result()` at the end.
import * as tf from '@tensorflow/tfjs';

export interface MetricOp {
  readonly kind: string;
  /** This batch folded into what came before (undefined for the first batch). */
  merge(previous: MetricOp | undefined): MetricOp;
  result(): number;
}

type Stats = number[];

class SumMetric implements MetricOp {
  constructor(readonly kind: string, readonly stats: Stats, private readonly finish: (s: Stats) => number) {}
  merge(previous: MetricOp | undefined): MetricOp {
    if (previous === undefined) return this;
    if (!(previous instanceof SumMetric) || previous.kind !== this.kind || previous.stats.length !== this.stats.length) {
      throw new Error(`Cannot merge metric '${this.kind}' into '${previous.kind}': an evalMetricOps entry changed kind between batches; keep each key's metric the same.`);
    }
    return new SumMetric(this.kind, this.stats.map((v, i) => v + previous.stats[i]), this.finish);
  }
  result(): number {
    return this.finish(this.stats);
  }
}

export function isMetricOp(x: unknown): x is MetricOp {
  return !!x && typeof (x as MetricOp).merge === 'function' && typeof (x as MetricOp).result === 'function';
}

/** A metric of your own: batch statistics that add up across batches, and how to finish them. */
export function createMetric(kind: string, batchStats: number[], result: (totals: number[]) => number): MetricOp {
  return new SumMetric(kind, batchStats, result);
}

type Weights = tf.Tensor | number | undefined;

function read(fn: () => tf.Tensor[]): number[] {
  const ts = tf.tidy(fn);
  const out = ts.map((t) => t.dataSync()[0]);
  tf.dispose(ts);
  return out;
}

function weightsLike(w: Weights, like: tf.Tensor): tf.Tensor {
  if (w === undefined) return tf.onesLike(like).cast('float32');
  return tf.broadcastTo(typeof w === 'number' ? tf.scalar(w) : tf.cast(w, 'float32').reshape(reshapeFor(w as tf.Tensor, like)), like.shape);
}

function reshapeFor(w: tf.Tensor, like: tf.Tensor): number[] {
  // [N] weights against [N, 1] values (and the reverse) line up on the batch axis.
  if (w.rank === like.rank) return w.shape;
  if (w.size === like.size) return like.shape;
  return w.shape;
}

function sameSize(fn: string, a: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (a.size !== b.size) {
    throw new Error(`metrics.${fn}: labels [${a.shape}] and predictions [${b.shape}] have different sizes; pass class ids for both (e.g. tf.argMax(logits, -1)).`);
  }
  return [a.flatten(), b.flatten()];
}

function meanOf(kind: string, num: number, den: number): MetricOp {
  return new SumMetric(kind, [num, den], ([n, d]) => (d === 0 ? 0 : n / d));
}

/** Fraction of predictions equal to labels. */
export function accuracy(labels: tf.Tensor, predictions: tf.Tensor, opts: { weights?: Weights } = {}): MetricOp {
  const [num, den] = read(() => {
    const [l, p] = sameSize('accuracy', labels, predictions);
    const w = weightsLike(opts.weights, l);
    const eq = tf.cast(tf.equal(tf.cast(l, 'float32'), tf.cast(p, 'float32')), 'float32');
    return [tf.sum(tf.mul(eq, w)), tf.sum(w)];
  });
  return meanOf('accuracy', num, den);
}

/** Weighted mean of values across all batches. */
export function mean(values: tf.Tensor | number, opts: { weights?: Weights } = {}): MetricOp {
  const [num, den] = read(() => {
    const v = typeof values === 'number' ? tf.scalar(values) : tf.cast(values, 'float32');
    const w = weightsLike(opts.weights, v);
    return [tf.sum(tf.mul(v, w)), tf.sum(w)];
  });
  return meanOf('mean', num, den);
}

function confusion(fn: string, labels: tf.Tensor, predictions: tf.Tensor, weights: Weights, threshold: number): number[] {
  return read(() => {
    const [l, p] = sameSize(fn, labels, predictions);
    const lb = tf.cast(tf.greater(tf.cast(l, 'float32'), 0), 'float32');
    // Booleans and class ids 0/1 cast as in TF; float scores are thresholded.
    const pb = tf.cast(tf.greater(tf.cast(p, 'float32'), p.dtype === 'float32' ? threshold : 0), 'float32');
    const w = weightsLike(weights, l);
    const tp = tf.sum(tf.mul(tf.mul(lb, pb), w));
    const fp = tf.sum(tf.mul(tf.mul(tf.sub(1, lb), pb), w));
    const fn_ = tf.sum(tf.mul(tf.mul(lb, tf.sub(1, pb)), w));
    return [tp, fp, fn_];
  });
}

/** tp / (tp + fp) for binary labels; float predictions are thresholded at 0.5. */
export function precision(labels: tf.Tensor, predictions: tf.Tensor, opts: { weights?: Weights; threshold?: number } = {}): MetricOp {
  const [tp, fp] = confusion('precision', labels, predictions, opts.weights, opts.threshold ?? 0.5);
  return meanOf('precision', tp, tp + fp);
}

/** tp / (tp + fn) for binary labels; float predictions are thresholded at 0.5. */
export function recall(labels: tf.Tensor, predictions: tf.Tensor, opts: { weights?: Weights; threshold?: number } = {}): MetricOp {
  const [tp, , fn] = confusion('recall', labels, predictions, opts.weights, opts.threshold ?? 0.5);
  return meanOf('recall', tp, tp + fn);
}

/** Area under the ROC (or PR) curve from counts at numThresholds thresholds, as tf.metrics.auc. */
export function auc(
  labels: tf.Tensor,
  predictions: tf.Tensor,
  opts: { weights?: Weights; numThresholds?: number; curve?: 'ROC' | 'PR' } = {},
): MetricOp {
  const n = opts.numThresholds ?? 200;
  const curve = opts.curve ?? 'ROC';
  if (n < 2) throw new Error('metrics.auc: numThresholds must be at least 2.');
  const eps = 1e-7;
  const thresholds = [-eps, ...Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1)), 1 + eps];
  const stats = tf.tidy(() => {
    const [l, p] = sameSize('auc', labels, predictions);
    const lb = tf.cast(tf.greater(tf.cast(l, 'float32'), 0), 'float32');
    const w = weightsLike(opts.weights, l);
    // [thresholds, examples] comparison: counts of tp/fp/tn/fn at every threshold.
    const above = tf.cast(tf.greater(tf.expandDims(tf.cast(p, 'float32'), 0), tf.expandDims(tf.tensor1d(thresholds), 1)), 'float32');
    const pos = tf.mul(lb, w);
    const neg = tf.mul(tf.sub(1, lb), w);
    const tp = tf.sum(tf.mul(above, pos), 1);
    const fp = tf.sum(tf.mul(above, neg), 1);
    const fn_ = tf.sub(tf.sum(pos), tp);
    const tn = tf.sub(tf.sum(neg), fp);
    return tf.concat([tp, fp, tn, fn_]);
  });
  const flat = Array.from(stats.dataSync());
  stats.dispose();
  return new SumMetric(`auc_${curve}_${n}`, flat, (s) => {
    const tp = s.slice(0, n), fp = s.slice(n, 2 * n), tn = s.slice(2 * n, 3 * n), fn = s.slice(3 * n);
    let area = 0;
    for (let i = 0; i < n - 1; i++) {
      if (curve === 'ROC') {
        const x = (j: number) => fp[j] / (fp[j] + tn[j] + eps);
        const y = (j: number) => tp[j] / (tp[j] + fn[j] + eps);
        area += (x(i) - x(i + 1)) * (y(i) + y(i + 1)) / 2;
      } else {
        const x = (j: number) => tp[j] / (tp[j] + fn[j] + eps);
        const y = (j: number) => tp[j] / (tp[j] + fp[j] + eps);
        area += (x(i) - x(i + 1)) * (y(i) + y(i + 1)) / 2;
      }
    }
    return area;
  });
}

function errorMean(kind: string, labels: tf.Tensor, predictions: tf.Tensor, weights: Weights, f: (d: tf.Tensor) => tf.Tensor): number[] {
  return read(() => {
    const [l, p] = sameSize(kind, labels, predictions);
    const w = weightsLike(weights, l);
    return [tf.sum(tf.mul(f(tf.sub(tf.cast(p, 'float32'), tf.cast(l, 'float32'))), w)), tf.sum(w)];
  });
}

export function meanSquaredError(labels: tf.Tensor, predictions: tf.Tensor, opts: { weights?: Weights } = {}): MetricOp {
  const [num, den] = errorMean('meanSquaredError', labels, predictions, opts.weights, tf.square);
  return meanOf('mean_squared_error', num, den);
}

export function meanAbsoluteError(labels: tf.Tensor, predictions: tf.Tensor, opts: { weights?: Weights } = {}): MetricOp {
  const [num, den] = errorMean('meanAbsoluteError', labels, predictions, opts.weights, tf.abs);
  return meanOf('mean_absolute_error', num, den);
}

export function rootMeanSquaredError(labels: tf.Tensor, predictions: tf.Tensor, opts: { weights?: Weights } = {}): MetricOp {
  const [num, den] = errorMean('rootMeanSquaredError', labels, predictions, opts.weights, tf.square);
  return new SumMetric('root_mean_squared_error', [num, den], ([n, d]) => (d === 0 ? 0 : Math.sqrt(n / d)));
}

/** Mean intersection-over-union over classes present in labels or predictions. */
export function meanIoU(labels: tf.Tensor, predictions: tf.Tensor, numClasses: number, opts: { weights?: Weights } = {}): MetricOp {
  const cm = tf.tidy(() => {
    const [l, p] = sameSize('meanIoU', labels, predictions);
    const w = weightsLike(opts.weights, l);
    // An int32 scalar: a plain number would upcast the indices to float32.
    const idx = tf.add(tf.mul(tf.cast(l, 'int32'), tf.scalar(numClasses, 'int32')), tf.cast(p, 'int32'));
    return tf.sum(tf.mul(tf.oneHot(idx, numClasses * numClasses), tf.expandDims(w, 1)), 0);
  });
  const counts = Array.from(cm.dataSync());
  cm.dispose();
  return new SumMetric(`mean_iou_${numClasses}`, counts, (c) => {
    let sum = 0;
    let present = 0;
    for (let k = 0; k < numClasses; k++) {
      let row = 0, col = 0;
      for (let j = 0; j < numClasses; j++) {
        row += c[k * numClasses + j];
        col += c[j * numClasses + k];
      }
      const inter = c[k * numClasses + k];
      const union = row + col - inter;
      if (union > 0) {
        sum += inter / union;
        present += 1;
      }
    }
    return present === 0 ? 0 : sum / present;
  });
}

/** Fraction of examples whose label is among the k highest scores (tf.nn.in_top_k). */
export function topKAccuracy(labels: tf.Tensor, predictions: tf.Tensor, k: number, opts: { weights?: Weights } = {}): MetricOp {
  const [num, den] = read(() => {
    if (predictions.rank !== 2) throw new Error(`metrics.topKAccuracy: predictions must be scores [batch, classes], got [${predictions.shape}].`);
    const l = tf.cast(labels, 'int32').flatten();
    // in_top_k counts ties against the label: the label's score must beat all but k-1 others.
    const target = tf.sum(tf.mul(predictions, tf.oneHot(l, predictions.shape[1] as number)), 1, true);
    const better = tf.sum(tf.cast(tf.greater(predictions, target), 'float32'), 1);
    const hit = tf.cast(tf.less(better, k), 'float32');
    const w = weightsLike(opts.weights, hit);
    return [tf.sum(tf.mul(hit, w)), tf.sum(w)];
  });
  return meanOf(`top_${k}_accuracy`, num, den);
}
