// Streaming metrics (TF1's tf.metrics) in eager form. In EVAL mode modelFn runs once per batch
// and returns evalMetricOps {name: metrics.accuracy(labels, predictions), ...}. Each call reads
// its batch's sufficient statistics as plain numbers right away (no tensor outlives the call);
// the Estimator folds the batches together with `acc = op.merge(acc)` and reads `acc.result()`
// at the end, which gives the same value as TF's update_op run over every batch.
import * as tf from '@tensorflow/tfjs';
import { alignWeights, describe, tensorArg as checkTensor } from '../framework/args';
import { readValues } from '../framework/step-trace';

/**
 * One batch's contribution to a streaming metric (TF1's (value, update_op) pair): what the
 * metrics.* functions return, and what EstimatorSpec.evalMetricOps holds. Folded over every
 * batch by the Estimator.
 */
export interface MetricOp {
  /** What the metric computes; merging two different kinds is an error. */
  readonly kind: string;
  /** This batch folded into the batches before it (undefined for the first batch); returns a new op. */
  merge(previous: MetricOp | undefined): MetricOp;
  /** The metric over every batch merged so far. */
  result(): number;
}

/** Whether x has a MetricOp's shape (kind, merge, result): how the Estimator checks evalMetricOps. */
export function isMetricOp(x: unknown): x is MetricOp {
  if (x === null || typeof x !== 'object') return false;
  const m = x as Partial<MetricOp>;
  return typeof m.kind === 'string' && typeof m.merge === 'function' && typeof m.result === 'function';
}

/** A metric's batch statistics (plain data, never tensors), how batches combine, how it ends. */
class StatefulMetric<S> implements MetricOp {
  constructor(
    readonly kind: string,
    readonly state: S,
    private readonly combine: (previous: S, batch: S) => S,
    private readonly finish: (state: S) => number,
  ) {}

  merge(previous: MetricOp | undefined): MetricOp {
    if (previous === undefined) return this;
    if (!isMetricOp(previous)) {
      throw new TypeError(`metric '${this.kind}': merge() takes the previous MetricOp or undefined, got ${describe(previous)}.`);
    }
    if (previous.kind !== this.kind || !('state' in previous)) {
      throw new Error(
        `Cannot merge metric '${this.kind}' into the '${previous.kind}' accumulated over earlier batches: an evalMetricOps ` +
          `entry changed kind between batches; return the same metrics.* call under each key for every batch.`,
      );
    }
    return new StatefulMetric(this.kind, this.combine((previous as StatefulMetric<S>).state, this.state), this.combine, this.finish);
  }

  result(): number {
    return this.finish(this.state);
  }
}

/**
 * A streaming metric of your own: `state` holds this batch's statistics as plain numbers,
 * `merge(previous, batch)` combines two states, `result(state)` gives the metric. E.g. a mean:
 * `createMetric('my_mean', [sum, count], (a, b) => [a[0] + b[0], a[1] + b[1]], ([s, n]) => s / n)`.
 */
export function createMetric<S>(kind: string, state: S, merge: (previous: S, batch: S) => S, result: (state: S) => number): MetricOp {
  if (typeof kind !== 'string' || kind === '') throw new TypeError('createMetric: kind must be a non-empty string naming the metric.');
  if (typeof merge !== 'function' || typeof result !== 'function') {
    throw new TypeError(
      `createMetric('${kind}'): merge and result must be functions (merge(previous, batch) => state, result(state) => number).`,
    );
  }
  return new StatefulMetric(kind, state, merge, result);
}

// ---------------------------------------------------------------- shared plumbing

type Weights = tf.Tensor | number | undefined;

/** Options every metric takes. */
export interface MetricOptions {
  /**
   * A scalar, or weights broadcastable to the values (same rank with dimensions 1 or equal, or
   * one weight per example). Weight 0 masks a value.
   */
  weights?: tf.Tensor | number;
}

const LABELS_HINT = ' (labels are undefined in PREDICT mode: compute metrics only in EVAL)';

function tensorArg(fn: string, name: string, x: unknown): tf.Tensor {
  return checkTensor(`metrics.${fn}`, name, x, name === 'labels' ? LABELS_HINT : '');
}

/** Adds states element-wise; a length change means the metric's configuration changed. */
function addArrays(kind: string): (a: number[], b: number[]) => number[] {
  return (a, b) => {
    if (a.length !== b.length) {
      throw new Error(
        `metric '${kind}': batches disagree on the size of its statistics (${a.length} vs ${b.length}); keep its arguments (numClasses, thresholds) the same for every batch.`,
      );
    }
    return a.map((v, i) => v + b[i]);
  };
}

function sumMetric(kind: string, stats: number[], finish: (s: number[]) => number): MetricOp {
  return new StatefulMetric(kind, stats, addArrays(kind), finish);
}

const safeDiv = (n: number, d: number) => (d > 0 ? n / d : 0);

/** total / count, accumulated across batches (0 before any weight is seen, as TF). */
function ratio(kind: string, total: number, count: number): MetricOp {
  return sumMetric(kind, [total, count], ([t, c]) => safeDiv(t, c));
}

/**
 * Scalars computed in a tidy scope, read back with one sync, and the metric made from them. The
 * read is a recorded one (readValues): a replayed evaluation step makes the metric again from
 * the next batch's scalars without calling modelFn.
 */
function readScalars(f: () => tf.Tensor[], make: (values: number[]) => MetricOp): MetricOp {
  const packed = tf.tidy(() => tf.stack(f().map((t) => tf.cast(tf.reshape(t, []), 'float32'))));
  try {
    return readValues(packed, (v) => make(Array.from(v)));
  } finally {
    packed.dispose();
  }
}

/**
 * Tensors computed in a tidy scope, read back as float32 arrays with one sync, and the metric
 * made from them. As in readScalars, the read is a recorded one, so a replayed evaluation step
 * makes the metric again from the next batch's arrays.
 */
function readArrays(f: () => tf.Tensor[], make: (arrays: Float32Array[]) => MetricOp): MetricOp {
  let sizes: number[] = [];
  const packed = tf.tidy(() => {
    const ts = f();
    sizes = ts.map((t) => t.size);
    return tf.concat(ts.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1])));
  });
  try {
    return readValues(packed, (v) => {
      let at = 0;
      return make(sizes.map((n) => (v as Float32Array).subarray(at, (at += n))));
    });
  } finally {
    packed.dispose();
  }
}

/** TF's _remove_squeezable_dimensions: [N, 1] against [N] lines up; other mismatches are errors. */
function align(fn: string, labels: tf.Tensor, predictions: tf.Tensor, hint: string): [tf.Tensor, tf.Tensor] {
  let l = tensorArg(fn, 'labels', labels);
  let p = tensorArg(fn, 'predictions', predictions);
  if (l.rank === p.rank + 1 && l.shape[l.rank - 1] === 1) l = tf.squeeze(l, [l.rank - 1]);
  else if (p.rank === l.rank + 1 && p.shape[p.rank - 1] === 1) p = tf.squeeze(p, [p.rank - 1]);
  if (!tf.util.arraysEqual(l.shape, p.shape)) {
    throw new Error(`metrics.${fn}: labels [${labels.shape}] and predictions [${predictions.shape}] have different shapes; ${hint}`);
  }
  return [l, p];
}

const SAME_SHAPE = 'pass tensors of one shape.';
const CLASS_IDS = 'pass class ids for both (e.g. tf.argMax(logits, -1) as predictions).';

/** Weights broadcast to `values`' shape as float32, or undefined for unit weights. */
function broadcastWeights(fn: string, weights: Weights, values: tf.Tensor): tf.Tensor | undefined {
  if (weights === undefined) return undefined;
  return tf.broadcastTo(alignWeights(`metrics.${fn}`, weights, values, 'the values'), values.shape);
}

/** [sum(values * w), sum(w)] for a weighted mean. */
function weightedSums(fn: string, values: tf.Tensor, weights: Weights): tf.Tensor[] {
  const w = broadcastWeights(fn, weights, values);
  return w ? [tf.sum(tf.mul(values, w)), tf.sum(w)] : [tf.sum(values), tf.scalar(values.size)];
}

// ---------------------------------------------------------------- means

/**
 * tf.metrics.accuracy: how often predictions equal labels (class ids, or any values of one shape).
 * @example evalMetricOps: { accuracy: metrics.accuracy(labels, tf.argMax(logits, 1)) }
 */
export function accuracy(labels: tf.Tensor, predictions: tf.Tensor, opts: MetricOptions = {}): MetricOp {
  return readScalars(
    () => {
      const [l, p] = align('accuracy', labels, predictions, CLASS_IDS);
      const isCorrect = tf.cast(tf.equal(tf.cast(l, 'float32'), tf.cast(p, 'float32')), 'float32');
      return weightedSums('accuracy', isCorrect, opts.weights);
    },
    ([correct, count]) => ratio('accuracy', correct, count),
  );
}

/** The (weighted) mean of all values seen. */
export function mean(values: tf.Tensor | number, opts: MetricOptions = {}): MetricOp {
  return readScalars(
    () => {
      const v = typeof values === 'number' ? tf.scalar(values) : tf.cast(tensorArg('mean', 'values', values), 'float32');
      return weightedSums('mean', v, opts.weights);
    },
    ([total, count]) => ratio('mean', total, count),
  );
}

function errorSums(
  fn: string,
  labels: tf.Tensor,
  predictions: tf.Tensor,
  weights: Weights,
  f: (d: tf.Tensor) => tf.Tensor,
  make: (sums: number[]) => MetricOp,
): MetricOp {
  return readScalars(() => {
    const [l, p] = align(fn, labels, predictions, SAME_SHAPE);
    return weightedSums(fn, f(tf.sub(tf.cast(p, 'float32'), tf.cast(l, 'float32'))), weights);
  }, make);
}

/**
 * tf.metrics.mean_squared_error: mean of (predictions - labels)^2 over every evaluated element.
 * @example evalMetricOps: { mse: metrics.meanSquaredError(labels, predictions) }
 */
export function meanSquaredError(labels: tf.Tensor, predictions: tf.Tensor, opts: MetricOptions = {}): MetricOp {
  return errorSums('meanSquaredError', labels, predictions, opts.weights, tf.square, ([total, count]) =>
    ratio('mean_squared_error', total, count),
  );
}

/** tf.metrics.mean_absolute_error: mean of |predictions - labels| over every evaluated element. */
export function meanAbsoluteError(labels: tf.Tensor, predictions: tf.Tensor, opts: MetricOptions = {}): MetricOp {
  return errorSums('meanAbsoluteError', labels, predictions, opts.weights, tf.abs, ([total, count]) =>
    ratio('mean_absolute_error', total, count),
  );
}

/** sqrt of the mean squared error over all batches (not a mean of per-batch roots). */
export function rootMeanSquaredError(labels: tf.Tensor, predictions: tf.Tensor, opts: MetricOptions = {}): MetricOp {
  return errorSums('rootMeanSquaredError', labels, predictions, opts.weights, tf.square, (sums) =>
    sumMetric('root_mean_squared_error', sums, ([t, c]) => Math.sqrt(safeDiv(t, c))),
  );
}

// ---------------------------------------------------------------- binary counts

/** Options of the binary metrics (precision, recall, truePositives, ...). */
export interface BinaryOptions extends MetricOptions {
  /**
   * Not in TF: predictions above this are positive. Without it predictions are cast to bool as
   * TF does (any non-zero value is positive), so pass class ids or booleans, or a threshold
   * for probabilities.
   */
  threshold?: number;
}

/** Weighted [tp, fp, tn, fn] with labels and predictions cast to bool (non-zero = true). */
function confusion(
  fn: string,
  labels: tf.Tensor,
  predictions: tf.Tensor,
  opts: BinaryOptions,
  make: (counts: number[]) => MetricOp,
): MetricOp {
  return readScalars(() => {
    const [l, p] = align(fn, labels, predictions, 'pass binary labels and predictions of one shape.');
    const lPos = tf.notEqual(tf.cast(l, 'float32'), 0);
    const pPos = opts.threshold === undefined ? tf.notEqual(tf.cast(p, 'float32'), 0) : tf.greater(tf.cast(p, 'float32'), opts.threshold);
    const w = broadcastWeights(fn, opts.weights, lPos) ?? tf.onesLike(lPos).cast('float32');
    const count = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.where(tf.logicalAnd(a, b), w, tf.zerosLike(w)));
    const lNeg = tf.logicalNot(lPos);
    const pNeg = tf.logicalNot(pPos);
    return [count(lPos, pPos), count(lNeg, pPos), count(lNeg, pNeg), count(lPos, pNeg)];
  }, make);
}

/** tp / (tp + fp), 0 when nothing was predicted positive. */
export function precision(labels: tf.Tensor, predictions: tf.Tensor, opts: BinaryOptions = {}): MetricOp {
  return confusion('precision', labels, predictions, opts, ([tp, fp]) => ratio('precision', tp, tp + fp));
}

/** tp / (tp + fn), 0 when there were no positive labels. */
export function recall(labels: tf.Tensor, predictions: tf.Tensor, opts: BinaryOptions = {}): MetricOp {
  return confusion('recall', labels, predictions, opts, ([tp, , , fn]) => ratio('recall', tp, tp + fn));
}

function countMetric(kind: string, which: 0 | 1 | 2 | 3) {
  return (labels: tf.Tensor, predictions: tf.Tensor, opts: BinaryOptions = {}): MetricOp =>
    confusion(kind, labels, predictions, opts, (counts) => sumMetric(kind, [counts[which]], ([n]) => n));
}

/** Weighted count of positive labels predicted positive. */
export const truePositives = countMetric('true_positives', 0);
/** Weighted count of negative labels predicted positive. */
export const falsePositives = countMetric('false_positives', 1);
/** Weighted count of negative labels predicted negative. */
export const trueNegatives = countMetric('true_negatives', 2);
/** Weighted count of positive labels predicted negative. */
export const falseNegatives = countMetric('false_negatives', 3);

// ---------------------------------------------------------------- AUC

/** How metrics.auc sums the curve (TF1's summation_method). */
export type AucSummation = 'trapezoidal' | 'careful_interpolation' | 'minoring' | 'majoring';

/** Options of metrics.auc. */
export interface AucOptions extends MetricOptions {
  /** Evenly spaced thresholds in [0, 1] (default 200), the end ones just outside. */
  numThresholds?: number;
  /** 'ROC' (default) or 'PR' (precision-recall). */
  curve?: 'ROC' | 'PR';
  /** TF1's summation_method; default 'trapezoidal' ('careful_interpolation' is better for PR). */
  summationMethod?: AucSummation;
  /** Explicit thresholds in [0, 1] instead of numThresholds (the end ones are added). */
  thresholds?: number[];
}

interface AucState {
  thresholds: Float32Array;
  tp: number[];
  fp: number[];
  tn: number[];
  fn: number[];
}

const AUC_KEPSILON = 1e-7;

function aucThresholds(opts: AucOptions): Float32Array {
  let inner: number[];
  if (opts.thresholds !== undefined) {
    inner = [...opts.thresholds].sort((a, b) => a - b);
  } else {
    const n = opts.numThresholds ?? 200;
    if (!Number.isInteger(n) || n < 2) throw new RangeError(`metrics.auc: numThresholds must be an integer >= 2, got ${n}.`);
    inner = Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1));
  }
  // float32, as TF compares float32 predictions with float32 thresholds.
  return Float32Array.from([-AUC_KEPSILON, ...inner, 1 + AUC_KEPSILON]);
}

/** How many thresholds lie strictly below p (thresholds ascending). */
function countBelow(thresholds: Float32Array, p: number): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p > thresholds[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The tf/fp/tn/fn counts of one batch: lab 0/1, pred in [0, 1], wts, as read back. */
function aucCounts(lab: Float32Array, pred: Float32Array, wts: Float32Array, thresholds: Float32Array): AucState {
  const t = thresholds.length;
  // Weight of positives / negatives by how many thresholds they exceed; cumulative sums from
  // the top then give tp[i] / fp[i] = weight above threshold i.
  const pos = new Float64Array(t + 1);
  const neg = new Float64Array(t + 1);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i];
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(
        `metrics.auc: predictions must be probabilities in [0, 1], got ${p} (at flat index ${i}); pass tf.sigmoid(logits) or tf.softmax(logits) rather than logits.`,
      );
    }
    (lab[i] ? pos : neg)[countBelow(thresholds, p)] += wts[i];
  }
  const tp: number[] = new Array(t);
  const fp: number[] = new Array(t);
  let accPos = 0;
  let accNeg = 0;
  for (let k = t; k >= 1; k--) {
    accPos += pos[k];
    accNeg += neg[k];
    tp[k - 1] = accPos;
    fp[k - 1] = accNeg;
  }
  const totalPos = accPos + pos[0];
  const totalNeg = accNeg + neg[0];
  return { thresholds, tp, fp, tn: fp.map((v) => totalNeg - v), fn: tp.map((v) => totalPos - v) };
}

const divNoNan = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** TF's careful interpolation of PR-AUC (Davis & Goadrich 2006), from the counts. */
function interpolatePrAuc(s: AucState): number {
  const n = s.tp.length;
  const p = s.tp.map((v, i) => v + s.fp[i]);
  let area = 0;
  for (let i = 0; i < n - 1; i++) {
    const dtp = s.tp[i] - s.tp[i + 1];
    const slope = divNoNan(dtp, Math.max(p[i] - p[i + 1], 0));
    const intercept = s.tp[i + 1] - slope * p[i + 1];
    const ratio = p[i] > 0 && p[i + 1] > 0 ? divNoNan(p[i], Math.max(p[i + 1], 0)) : 1;
    area += divNoNan(slope * (dtp + intercept * Math.log(ratio)), Math.max(s.tp[i + 1] + s.fn[i + 1], 0));
  }
  return area;
}

function aucValue(s: AucState, curve: 'ROC' | 'PR', method: AucSummation): number {
  if (curve === 'PR' && method === 'careful_interpolation') return interpolatePrAuc(s);
  const eps = 1e-6;
  const n = s.tp.length;
  const rec = s.tp.map((tp, i) => (tp + eps) / (tp + s.fn[i] + eps));
  const x = curve === 'ROC' ? s.fp.map((fp, i) => fp / (fp + s.tn[i] + eps)) : rec;
  const y = curve === 'ROC' ? rec : s.tp.map((tp, i) => (tp + eps) / (tp + s.fp[i] + eps));
  let area = 0;
  for (let i = 0; i < n - 1; i++) {
    const height =
      method === 'minoring' ? Math.min(y[i], y[i + 1]) : method === 'majoring' ? Math.max(y[i], y[i + 1]) : (y[i] + y[i + 1]) / 2;
    area += (x[i] - x[i + 1]) * height;
  }
  return area;
}

/**
 * Area under the ROC (or PR) curve, approximated from weighted tp/fp/tn/fn counts at fixed
 * thresholds (tf.metrics.auc). Labels are cast to bool; predictions must be in [0, 1].
 */
export function auc(labels: tf.Tensor, predictions: tf.Tensor, opts: AucOptions = {}): MetricOp {
  const curve = opts.curve ?? 'ROC';
  const method = opts.summationMethod ?? 'trapezoidal';
  if (curve !== 'ROC' && curve !== 'PR') throw new Error(`metrics.auc: curve must be 'ROC' or 'PR', got '${String(curve)}'.`);
  if (!['trapezoidal', 'careful_interpolation', 'minoring', 'majoring'].includes(method)) {
    throw new Error(
      `metrics.auc: summationMethod must be 'trapezoidal', 'careful_interpolation', 'minoring' or 'majoring', got '${String(method)}'.`,
    );
  }
  const kind = `auc_${curve}_${method}`;
  const thresholds = aucThresholds(opts);
  const combine = (a: AucState, b: AucState): AucState => {
    if (a.thresholds.length !== b.thresholds.length || a.thresholds.some((v, i) => v !== b.thresholds[i])) {
      throw new Error(`metric '${kind}': batches used different thresholds; keep numThresholds / thresholds the same for every batch.`);
    }
    const add = (u: number[], v: number[]) => u.map((x, i) => x + v[i]);
    return { thresholds: a.thresholds, tp: add(a.tp, b.tp), fp: add(a.fp, b.fp), tn: add(a.tn, b.tn), fn: add(a.fn, b.fn) };
  };
  return readArrays(
    () => {
      const [l, p] = align('auc', labels, predictions, 'pass binary labels and probabilities of one shape.');
      const w = broadcastWeights('auc', opts.weights, l) ?? tf.onesLike(l).cast('float32');
      return [tf.notEqual(tf.cast(l, 'float32'), 0), p, w];
    },
    ([lab, pred, wts]) => new StatefulMetric(kind, aucCounts(lab, pred, wts, thresholds), combine, (s) => aucValue(s, curve, method)),
  );
}

// ---------------------------------------------------------------- multi-class

/** The metric made from the batch's weighted confusion matrix [label][prediction] of class ids, row-major numClasses^2. */
function confusionMatrix(
  fn: string,
  labels: tf.Tensor,
  predictions: tf.Tensor,
  numClasses: number,
  weights: Weights,
  make: (cm: number[]) => MetricOp,
): MetricOp {
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new RangeError(`metrics.${fn}: numClasses must be a positive integer, got ${numClasses}.`);
  return readArrays(
    () => {
      const [l, p] = align(fn, labels, predictions, CLASS_IDS);
      return [l, p, broadcastWeights(fn, weights, l) ?? tf.onesLike(l)];
    },
    ([lab, pred, wts]) => make(confusionCounts(fn, lab, pred, wts, numClasses)),
  );
}

function confusionCounts(fn: string, lab: Float32Array, pred: Float32Array, wts: Float32Array, numClasses: number): number[] {
  const cm = new Array<number>(numClasses * numClasses).fill(0);
  const check = (what: string, v: number, i: number) => {
    if (!(Number.isInteger(v) && v >= 0 && v < numClasses)) {
      throw new RangeError(`metrics.${fn}: ${what} ${v} (at flat index ${i}) is not a class id in [0, ${numClasses}); ${CLASS_IDS}`);
    }
  };
  for (let i = 0; i < lab.length; i++) {
    check('label', lab[i], i);
    check('prediction', pred[i], i);
    cm[lab[i] * numClasses + pred[i]] += wts[i];
  }
  return cm;
}

/**
 * Mean intersection-over-union over the classes that occur in labels or predictions
 * (tf.metrics.mean_iou): per class tp / (tp + fp + fn).
 */
export function meanIoU(labels: tf.Tensor, predictions: tf.Tensor, numClasses: number, opts: MetricOptions = {}): MetricOp {
  return confusionMatrix('meanIoU', labels, predictions, numClasses, opts.weights, (cm) =>
    sumMetric(`mean_iou_${numClasses}`, cm, (c) => {
      let sum = 0;
      let valid = 0;
      for (let k = 0; k < numClasses; k++) {
        let row = 0;
        let col = 0;
        for (let j = 0; j < numClasses; j++) {
          row += c[k * numClasses + j];
          col += c[j * numClasses + k];
        }
        const denominator = row + col - c[k * numClasses + k];
        if (denominator !== 0) valid += 1;
        sum += denominator > 0 ? c[k * numClasses + k] / denominator : 0;
      }
      return valid > 0 ? sum / valid : 0;
    }),
  );
}

/**
 * Mean over all numClasses classes of the per-class accuracy (correct / examples of the class;
 * 0 for a class with no examples), as tf.metrics.mean_per_class_accuracy.
 */
export function meanPerClassAccuracy(labels: tf.Tensor, predictions: tf.Tensor, numClasses: number, opts: MetricOptions = {}): MetricOp {
  return confusionMatrix('meanPerClassAccuracy', labels, predictions, numClasses, opts.weights, (cm) =>
    sumMetric(`mean_per_class_accuracy_${numClasses}`, cm, (c) => {
      let sum = 0;
      for (let k = 0; k < numClasses; k++) {
        let row = 0;
        for (let j = 0; j < numClasses; j++) row += c[k * numClasses + j];
        sum += safeDiv(c[k * numClasses + k], row);
      }
      return sum / numClasses;
    }),
  );
}

/**
 * Fraction of examples whose label is among the k highest scores, with tf.nn.in_top_k's rules:
 * ties at the boundary count as in the top k; a label out of range or a non-finite score in
 * the row counts as a miss. labels [N] (or [N, 1]), predictions [N, classes].
 */
export function topKAccuracy(labels: tf.Tensor, predictions: tf.Tensor, k: number, opts: MetricOptions = {}): MetricOp {
  const fn = 'topKAccuracy';
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`metrics.${fn}: k must be a positive integer, got ${k}.`);
  tensorArg(fn, 'labels', labels);
  tensorArg(fn, 'predictions', predictions);
  if (predictions.rank !== 2)
    throw new Error(`metrics.${fn}: predictions must be scores [batch, classes], got shape [${predictions.shape}].`);
  const [n, numClasses] = predictions.shape;
  return readArrays(
    () => {
      const l = labels.rank === 2 && labels.shape[1] === 1 ? tf.reshape(labels, [-1]) : labels;
      if (l.rank !== 1 || l.shape[0] !== n) {
        throw new Error(
          `metrics.${fn}: labels [${labels.shape}] do not fit predictions [${predictions.shape}]; pass one class id per row: [${n}].`,
        );
      }
      return [l, predictions, broadcastWeights(fn, opts.weights, l) ?? tf.onesLike(l)];
    },
    ([lab, scores, wts]) => topKHits(lab, scores, wts, n, numClasses, k),
  );
}

/** The top-k accuracy metric of one batch, from its labels, scores [n, numClasses] and weights. */
function topKHits(lab: Float32Array, scores: Float32Array, wts: Float32Array, n: number, numClasses: number, k: number): MetricOp {
  let hits = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += wts[i];
    const target = lab[i];
    if (!(Number.isInteger(target) && target >= 0 && target < numClasses)) continue;
    const row = i * numClasses;
    const score = scores[row + target];
    if (!Number.isFinite(score)) continue;
    let higher = 0;
    let finite = true;
    for (let j = 0; j < numClasses; j++) {
      const s = scores[row + j];
      if (!Number.isFinite(s)) {
        finite = false;
        break;
      }
      if (s > score) higher += 1;
    }
    if (finite && higher < k) hits += wts[i];
  }
  return ratio(`top_${k}_accuracy`, hits, total);
}
