// TF1's tf.losses: scalar losses with optional weights, reduced by default as
// SUM_BY_NONZERO_WEIGHTS (the weighted sum over the number of non-zero weights: a plain mean
// for unit weights). Every loss is differentiable with respect to its logits / predictions and
// numerically stable for large logits.
import * as tf from '@tensorflow/tfjs';
import { sparseSoftmaxCrossEntropyPerExample } from '../framework/fused-ops';
import { checkValues } from '../framework/step-trace';
import { alignWeights, tensorArg as checkTensor } from '../framework/args';

/** TF1's tf.losses.Reduction (the scalar ones; values as in TensorFlow). */
export const Reduction = {
  /** Weighted sum. */
  SUM: 'weighted_sum',
  /** Weighted sum over the sum of the weights. */
  MEAN: 'weighted_mean',
  /** Weighted sum over the number of elements. */
  SUM_OVER_BATCH_SIZE: 'weighted_sum_over_batch_size',
  /** Weighted sum over the number of non-zero weights (the default). */
  SUM_BY_NONZERO_WEIGHTS: 'weighted_sum_by_nonzero_weights',
} as const;
export type Reduction = (typeof Reduction)[keyof typeof Reduction];
const REDUCTIONS = new Set<string>(Object.values(Reduction));

/** Options every loss takes: weights and the reduction (tf.losses' weights and reduction). */
export interface LossOptions {
  /**
   * A scalar, or per-element weights broadcastable to the loss: same rank with dimensions 1 or
   * equal, or just the leading dimensions (e.g. one weight per example). Weight 0 masks an element.
   */
  weights?: tf.Tensor | number;
  /** How the weighted losses become a scalar; default SUM_BY_NONZERO_WEIGHTS, as TF1. */
  reduction?: Reduction;
}

/** Options of the cross-entropy losses that take one-hot or multi-class labels. */
export interface SmoothedLossOptions extends LossOptions {
  /** In [0, 1]: mixes the labels with the uniform distribution (see each loss). */
  labelSmoothing?: number;
}

const LABELS_HINT = ' (labels are undefined in PREDICT mode: compute the loss only in TRAIN and EVAL)';

function tensorArg(fn: string, name: string, x: unknown): tf.Tensor {
  return checkTensor(`losses.${fn}`, name, x, /label/i.test(name) ? LABELS_HINT : '');
}

function sameShape(fn: string, aName: string, a: tf.Tensor, bName: string, b: tf.Tensor, hint: string): void {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(`losses.${fn}: ${aName} [${a.shape}] does not fit ${bName} [${b.shape}]; ${hint}`);
  }
}

function checkSmoothing(fn: string, s: number | undefined): number {
  const v = s ?? 0;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`losses.${fn}: labelSmoothing must be in [0, 1], got ${s}.`);
  return v;
}

/** total / den, or 0 where den is 0 (TF's safe division); differentiable in total, unlike
 *  tf.divNoNan, whose zerosLike(result) puts a gradient-less Equal on the path. */
function safeDiv(total: tf.Scalar, den: tf.Tensor): tf.Scalar {
  const positive = tf.notEqual(den, 0);
  return tf.where(positive, tf.div(total, tf.where(positive, den, tf.onesLike(den))), tf.scalar(0)) as tf.Scalar;
}

/**
 * Reduces element-wise losses to a scalar with optional weights, as TF1's
 * tf.losses.compute_weighted_loss. Use it for losses of your own.
 */
export function computeWeightedLoss(losses: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const fn = 'computeWeightedLoss';
    const l = tf.cast(tensorArg(fn, 'losses', losses), 'float32');
    const reduction = opts.reduction ?? Reduction.SUM_BY_NONZERO_WEIGHTS;
    if (opts.weights === undefined && reduction !== Reduction.SUM && REDUCTIONS.has(reduction)) {
      // Unit weights: every reduction but SUM is the plain mean (0 for an empty loss, as TF).
      return l.size > 0 ? tf.mean(l) : tf.scalar(0);
    }
    const w = opts.weights === undefined ? undefined : tf.broadcastTo(alignWeights(`losses.${fn}`, opts.weights, l, 'the loss'), l.shape);
    const total = tf.sum(w ? tf.mul(l, w) : l) as tf.Scalar;
    switch (reduction) {
      case Reduction.SUM:
        return total;
      case Reduction.MEAN:
        return safeDiv(total, w ? tf.sum(w) : tf.scalar(l.size));
      case Reduction.SUM_OVER_BATCH_SIZE:
        return safeDiv(total, tf.scalar(l.size));
      case Reduction.SUM_BY_NONZERO_WEIGHTS:
        return safeDiv(total, w ? tf.sum(tf.cast(tf.notEqual(w, 0), 'float32')) : tf.scalar(l.size));
      default:
        throw new Error(`losses: unknown reduction '${String(reduction)}'; use one of ${Object.values(Reduction).join(', ')}.`);
    }
  });
}

/** Throws on the first label that is not a class id in [0, numClasses). */
function checkClassIds(fn: string, labels: tf.Tensor, numClasses: number): void {
  checkValues(labels, (ids) => checkClassIdValues(fn, ids, numClasses));
}

function checkClassIdValues(fn: string, ids: tf.TypedArray, numClasses: number): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!(v >= 0 && v < numClasses && Number.isInteger(v))) {
      throw new RangeError(
        `losses.${fn}: label ${v} (at flat index ${i}) is not a class id in [0, ${numClasses}) for logits with ${numClasses} classes; ` +
          `labels must be integers 0..${numClasses - 1} (one-hot labels go to softmaxCrossEntropy).`,
      );
    }
  }
}

/**
 * Cross-entropy between class ids and logits: labels [N] (or [N, 1]) int32, logits [N, C];
 * more generally labels [...] and logits [..., C]. Computed through logSoftmax, so stable.
 */
export function sparseSoftmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  const fn = 'sparseSoftmaxCrossEntropy';
  tensorArg(fn, 'labels', labels);
  tensorArg(fn, 'logits', logits);
  if (logits.rank < 2) throw new Error(`losses.${fn}: logits must be [batch, classes], got shape [${logits.shape}].`);
  return tf.tidy(() => {
    let ids = labels;
    if (ids.rank === logits.rank && ids.shape[ids.rank - 1] === 1) ids = tf.squeeze(ids, [ids.rank - 1]);
    const batchShape = logits.shape.slice(0, -1);
    if (!tf.util.arraysEqual(ids.shape, batchShape)) {
      throw new Error(
        `losses.${fn}: labels [${labels.shape}] does not fit logits [${logits.shape}]; labels must be class ids of shape ` +
          `[${batchShape}] (or [${[...batchShape, 1]}]) for these logits (one-hot labels go to softmaxCrossEntropy).`,
      );
    }
    const numClasses = logits.shape[logits.rank - 1];
    checkClassIds(fn, ids, numClasses);
    // One fused kernel (and gradient) where the backend has it, over [examples, classes].
    const flat = sparseSoftmaxCrossEntropyPerExample(tf.reshape(ids, [-1]), tf.reshape(tf.cast(logits, 'float32'), [-1, numClasses]));
    return computeWeightedLoss(tf.reshape(flat, ids.shape), opts);
  });
}

/**
 * Cross-entropy between one-hot (or soft) labels [N, C] and logits [N, C]. labelSmoothing s
 * uses labels * (1 - s) + s / C.
 */
export function softmaxCrossEntropy(onehotLabels: tf.Tensor, logits: tf.Tensor, opts: SmoothedLossOptions = {}): tf.Scalar {
  const fn = 'softmaxCrossEntropy';
  tensorArg(fn, 'onehotLabels', onehotLabels);
  tensorArg(fn, 'logits', logits);
  const s = checkSmoothing(fn, opts.labelSmoothing);
  return tf.tidy(() => {
    sameShape(
      fn,
      'onehotLabels',
      onehotLabels,
      'logits',
      logits,
      'both must be [batch, classes] (class ids go to sparseSoftmaxCrossEntropy).',
    );
    let lab = tf.cast(onehotLabels, 'float32');
    if (s > 0) lab = tf.add(tf.mul(lab, 1 - s), s / logits.shape[logits.rank - 1]);
    const perExample = tf.neg(tf.sum(tf.mul(lab, tf.logSoftmax(tf.cast(logits, 'float32'))), -1));
    return computeWeightedLoss(perExample, opts);
  });
}

/**
 * Element-wise sigmoid cross-entropy for independent binary labels, in the stable form
 * max(x, 0) - x * z + log(1 + exp(-|x|)). labelSmoothing s uses z * (1 - s) + s / 2.
 */
export function sigmoidCrossEntropy(multiClassLabels: tf.Tensor, logits: tf.Tensor, opts: SmoothedLossOptions = {}): tf.Scalar {
  const fn = 'sigmoidCrossEntropy';
  tensorArg(fn, 'multiClassLabels', multiClassLabels);
  tensorArg(fn, 'logits', logits);
  const s = checkSmoothing(fn, opts.labelSmoothing);
  return tf.tidy(() => {
    sameShape(fn, 'labels', multiClassLabels, 'logits', logits, 'labels and logits must have the same shape.');
    let z = tf.cast(multiClassLabels, 'float32');
    if (s > 0) z = tf.add(tf.mul(z, 1 - s), 0.5 * s);
    const x = tf.cast(logits, 'float32');
    const elem = tf.add(tf.sub(tf.relu(x), tf.mul(x, z)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return computeWeightedLoss(elem, opts);
  });
}

/** labels and predictions as float32 of one shape, or an error naming both shapes. */
function pair(fn: string, labels: tf.Tensor, predictions: tf.Tensor): [tf.Tensor, tf.Tensor] {
  tensorArg(fn, 'labels', labels);
  tensorArg(fn, 'predictions', predictions);
  sameShape(
    fn,
    'labels',
    labels,
    'predictions',
    predictions,
    'labels and predictions must have the same shape (e.g. tf.squeeze(predictions, [1]) for predictions [N, 1] against labels [N]).',
  );
  return [tf.cast(labels, 'float32'), tf.cast(predictions, 'float32')];
}

/** Weighted mean of (predictions - labels)^2. */
export function meanSquaredError(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [l, p] = pair('meanSquaredError', labels, predictions);
    return computeWeightedLoss(tf.squaredDifference(p, l), opts);
  });
}

/** Weighted mean of |predictions - labels|. */
export function absoluteDifference(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [l, p] = pair('absoluteDifference', labels, predictions);
    return computeWeightedLoss(tf.abs(tf.sub(p, l)), opts);
  });
}

/** Huber loss: 0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond (delta default 1). */
export function huberLoss(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions & { delta?: number } = {}): tf.Scalar {
  const delta = opts.delta ?? 1;
  if (!(delta > 0)) throw new RangeError(`losses.huberLoss: delta must be > 0, got ${opts.delta}.`);
  return tf.tidy(() => {
    const [l, p] = pair('huberLoss', labels, predictions);
    const err = tf.abs(tf.sub(p, l));
    const quad = tf.minimum(err, delta);
    const lin = tf.sub(err, quad);
    return computeWeightedLoss(tf.add(tf.mul(0.5, tf.square(quad)), tf.mul(delta, lin)), opts);
  });
}

/** Binary log loss of probabilities: -z log(p + eps) - (1 - z) log(1 - p + eps). */
export function logLoss(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions & { epsilon?: number } = {}): tf.Scalar {
  const eps = opts.epsilon ?? 1e-7;
  return tf.tidy(() => {
    const [z, p] = pair('logLoss', labels, predictions);
    const elem = tf.neg(tf.add(tf.mul(z, tf.log(tf.add(p, eps))), tf.mul(tf.sub(1, z), tf.log(tf.add(tf.sub(1, p), eps)))));
    return computeWeightedLoss(elem, opts);
  });
}

/** Hinge loss for labels in {0, 1} and logits: max(0, 1 - (2z - 1) x). */
export function hingeLoss(labels: tf.Tensor, logits: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [z, x] = pair('hingeLoss', labels, logits);
    return computeWeightedLoss(tf.relu(tf.sub(1, tf.mul(tf.sub(tf.mul(2, z), 1), x))), opts);
  });
}
