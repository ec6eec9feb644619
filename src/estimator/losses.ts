// TF1's tf.losses: scalar losses with optional weights, reduced as SUM_BY_NONZERO_WEIGHTS
// (a plain mean for unit weights). All are differentiable and numerically stable.
import * as tf from '@tensorflow/tfjs';
import { sparseSoftmaxCrossEntropyPerExample } from '../backend/custom-kernels';

export interface LossOptions {
  /** Per-example (or broadcastable) weights; examples with weight 0 do not count. */
  weights?: tf.Tensor | number;
}

export interface SmoothedLossOptions extends LossOptions {
  labelSmoothing?: number;
}

function shapeError(fn: string, what: string, a: tf.Tensor, b: tf.Tensor, hint: string): Error {
  return new Error(`losses.${fn}: ${what} [${a.shape}] does not fit [${b.shape}]; ${hint}`);
}

/** Weighted mean over examples with non-zero weight. */
function reduceWeighted(perExample: tf.Tensor, weights: tf.Tensor | number | undefined): tf.Scalar {
  if (weights === undefined) return tf.mean(perExample) as tf.Scalar;
  const w = tf.broadcastTo(typeof weights === 'number' ? tf.scalar(weights) : tf.cast(weights, 'float32'), perExample.shape);
  const total = tf.sum(tf.mul(perExample, w));
  const count = tf.sum(tf.cast(tf.notEqual(w, 0), 'float32'));
  return tf.divNoNan(total, count) as tf.Scalar;
}

/** Cross-entropy between integer class labels [N] (or [N, 1]) and logits [N, C]. */
export function sparseSoftmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    if (logits.rank < 2) throw new Error(`losses.sparseSoftmaxCrossEntropy: logits must be [batch, classes], got shape [${logits.shape}].`);
    let lab = labels;
    if (lab.rank === logits.rank && lab.shape[lab.rank - 1] === 1) lab = tf.squeeze(lab, [lab.rank - 1]);
    if (lab.rank !== logits.rank - 1 || !tf.util.arraysEqual(lab.shape, logits.shape.slice(0, -1))) {
      throw shapeError('sparseSoftmaxCrossEntropy', 'labels', labels, logits,
        'labels must be class ids of shape [batch] for logits [batch, classes] (one-hot labels go to softmaxCrossEntropy).');
    }
    const numClasses = logits.shape[logits.rank - 1];
    // One fused kernel (and gradient) where the backend has it, over [examples, classes].
    const flat = sparseSoftmaxCrossEntropyPerExample(tf.reshape(lab, [-1]), tf.reshape(logits, [-1, numClasses]));
    const perExample = tf.reshape(flat, lab.shape);
    return reduceWeighted(perExample, opts.weights);
  });
}

/** Cross-entropy between one-hot (or soft) labels [N, C] and logits [N, C]. */
export function softmaxCrossEntropy(onehotLabels: tf.Tensor, logits: tf.Tensor, opts: SmoothedLossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    if (!tf.util.arraysEqual(onehotLabels.shape, logits.shape)) {
      throw shapeError('softmaxCrossEntropy', 'onehotLabels', onehotLabels, logits, 'both must be [batch, classes] (class ids go to sparseSoftmaxCrossEntropy).');
    }
    let lab = tf.cast(onehotLabels, 'float32');
    const s = opts.labelSmoothing ?? 0;
    if (s > 0) {
      const c = logits.shape[logits.rank - 1];
      lab = tf.add(tf.mul(lab, 1 - s), s / c);
    }
    const perExample = tf.neg(tf.sum(tf.mul(lab, tf.logSoftmax(logits)), -1));
    return reduceWeighted(perExample, opts.weights);
  });
}

/** Element-wise sigmoid cross-entropy, stable: max(x,0) - x*z + log(1 + exp(-|x|)). */
export function sigmoidCrossEntropy(multiClassLabels: tf.Tensor, logits: tf.Tensor, opts: SmoothedLossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    if (!tf.util.arraysEqual(multiClassLabels.shape, logits.shape)) {
      throw shapeError('sigmoidCrossEntropy', 'labels', multiClassLabels, logits, 'labels and logits must have the same shape.');
    }
    let z = tf.cast(multiClassLabels, 'float32');
    const s = opts.labelSmoothing ?? 0;
    if (s > 0) z = tf.add(tf.mul(z, 1 - s), 0.5 * s);
    const x = logits;
    const elem = tf.add(tf.sub(tf.relu(x), tf.mul(x, z)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return reduceWeighted(elem, opts.weights);
  });
}

function checkSame(fn: string, labels: tf.Tensor, predictions: tf.Tensor): void {
  if (!tf.util.arraysEqual(labels.shape, predictions.shape)) {
    throw shapeError(fn, 'labels', labels, predictions, 'labels and predictions must have the same shape (reshape one of them).');
  }
}

export function meanSquaredError(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    checkSame('meanSquaredError', labels, predictions);
    return reduceWeighted(tf.squaredDifference(tf.cast(labels, 'float32'), predictions), opts.weights);
  });
}

export function absoluteDifference(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    checkSame('absoluteDifference', labels, predictions);
    return reduceWeighted(tf.abs(tf.sub(tf.cast(labels, 'float32'), predictions)), opts.weights);
  });
}

export function huberLoss(labels: tf.Tensor, predictions: tf.Tensor, opts: LossOptions & { delta?: number } = {}): tf.Scalar {
  return tf.tidy(() => {
    checkSame('huberLoss', labels, predictions);
    const delta = opts.delta ?? 1;
    const err = tf.abs(tf.sub(tf.cast(labels, 'float32'), predictions));
    const quad = tf.minimum(err, delta);
    const lin = tf.sub(err, quad);
    return reduceWeighted(tf.add(tf.mul(0.5, tf.square(quad)), tf.mul(delta, lin)), opts.weights);
  });
}
