// EstimatorSpec and ModeKeys: what modelFn returns, checked once per call with errors that say
// which field is wrong and how to fix it.
import * as tf from '@tensorflow/tfjs';
import { TrainOp, describeValue } from './train-ops';
import type { SessionRunHook } from './hooks/hook';
import type { MetricOp } from './metrics';

import { ModeKeys, type ModeKey } from '../framework/mode';

export { ModeKeys };
export type { ModeKey };

/** What modelFn predicts: one tensor, or an object of named tensors (the predictKeys), batch axis first. */
export type Predictions = tf.Tensor | Record<string, tf.Tensor>;

/** The fields of an EstimatorSpec; which are required depends on the mode. */
export interface EstimatorSpecOptions {
  /** The mode modelFn received (checked at run time, so `mode: string` in a modelFn works). */
  mode: ModeKey | string;
  /** Required in PREDICT: what Estimator.predict yields. */
  predictions?: Predictions;
  /** A scalar loss; required in TRAIN and EVAL. */
  loss?: tf.Tensor;
  /** Required in TRAIN: from optimizer.minimize or train.group. */
  trainOp?: TrainOp;
  /** EVAL: streaming metrics by name (metrics.accuracy, ...); their values are evaluate's result. */
  evalMetricOps?: Record<string, MetricOp>;
  /** Hooks added to train() for this model. */
  trainingHooks?: SessionRunHook[];
  /** Hooks added to evaluate() for this model. */
  evaluationHooks?: SessionRunHook[];
  /** Hooks added to predict() for this model. */
  predictionHooks?: SessionRunHook[];
  /** Outputs for serving export (defaults to predictions). */
  exportOutputs?: Record<string, tf.Tensor>;
}

/**
 * tf.estimator.EstimatorSpec: what modelFn returns. TRAIN needs loss and trainOp, EVAL needs
 * loss (and usually evalMetricOps), PREDICT needs predictions; the constructor checks types.
 * @example return new EstimatorSpec({ mode, loss, trainOp: train.adam().minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
 */
export class EstimatorSpec {
  /** The mode this spec was built for. */
  readonly mode: ModeKey;
  /** What predict yields (PREDICT). */
  readonly predictions?: Predictions;
  /** The scalar loss (TRAIN, EVAL). */
  readonly loss?: tf.Tensor;
  /** The op train runs after modelFn each step (TRAIN). */
  readonly trainOp?: TrainOp;
  /** Streaming metrics evaluate reports (EVAL). */
  readonly evalMetricOps?: Record<string, MetricOp>;
  /** Extra hooks for train (default []). */
  readonly trainingHooks: SessionRunHook[];
  /** Extra hooks for evaluate (default []). */
  readonly evaluationHooks: SessionRunHook[];
  /** Extra hooks for predict (default []). */
  readonly predictionHooks: SessionRunHook[];
  /** Outputs for serving export (defaults to predictions). */
  readonly exportOutputs?: Record<string, tf.Tensor>;

  /** Checks and stores the fields; throws with the field and the fix when one has the wrong type. */
  constructor(opts: EstimatorSpecOptions) {
    if (opts === null || typeof opts !== 'object') {
      throw new Error('new EstimatorSpec({mode, predictions, loss, trainOp, evalMetricOps}) takes one options object.');
    }
    const modes: string[] = Object.values(ModeKeys);
    if (!modes.includes(opts.mode)) {
      throw new Error(
        `EstimatorSpec: mode must be one of ModeKeys.TRAIN/EVAL/PREDICT ('train', 'eval', 'infer'), got ${describeValue(opts.mode)}; pass the mode modelFn received.`,
      );
    }
    if (opts.loss !== undefined && !(opts.loss instanceof tf.Tensor)) {
      throw new Error(`EstimatorSpec: loss must be a scalar tf.Tensor, got ${describeValue(opts.loss)}.`);
    }
    if (opts.loss !== undefined && opts.loss.rank !== 0) {
      throw new Error(
        `EstimatorSpec: loss must be a scalar, got shape [${opts.loss.shape}]; reduce it, e.g. tf.mean(...) or losses.sparseSoftmaxCrossEntropy(labels, logits).`,
      );
    }
    if (opts.trainOp !== undefined && !(opts.trainOp instanceof TrainOp)) {
      throw new Error(
        `EstimatorSpec: trainOp must come from optimizer.minimize(...) or train.group(...), got ${describeValue(opts.trainOp)}.`,
      );
    }
    if (opts.predictions !== undefined) checkPredictions(opts.predictions);
    this.mode = opts.mode as ModeKey;
    this.predictions = opts.predictions;
    this.loss = opts.loss;
    this.trainOp = opts.trainOp;
    this.evalMetricOps = opts.evalMetricOps;
    this.trainingHooks = opts.trainingHooks ?? [];
    this.evaluationHooks = opts.evaluationHooks ?? [];
    this.predictionHooks = opts.predictionHooks ?? [];
    this.exportOutputs = opts.exportOutputs;
  }
}

function checkPredictions(p: unknown): void {
  if (p instanceof tf.Tensor) return;
  if (p !== null && typeof p === 'object' && !Array.isArray(p)) {
    for (const [k, v] of Object.entries(p)) {
      if (!(v instanceof tf.Tensor)) {
        throw new Error(`EstimatorSpec: predictions['${k}'] must be a tf.Tensor, got ${describeValue(v)}.`);
      }
    }
    return;
  }
  throw new Error(`EstimatorSpec: predictions must be a tf.Tensor or an object of tensors, got ${describeValue(p)}.`);
}

/** Checks what modelFn returned for the mode it was called in. */
export function validateSpec(spec: unknown, mode: ModeKey): EstimatorSpec {
  if (!(spec instanceof EstimatorSpec)) {
    throw new Error(
      `modelFn must return an EstimatorSpec (new EstimatorSpec({mode, predictions, loss, trainOp, evalMetricOps})), ` +
        `got ${describeValue(spec)}.`,
    );
  }
  if (spec.mode !== mode) {
    throw new Error(
      `modelFn was called in mode '${mode}' but returned an EstimatorSpec with mode '${spec.mode}'; pass the mode argument through.`,
    );
  }
  if (mode === ModeKeys.TRAIN) {
    if (!spec.loss) throw new Error('modelFn returned no loss in TRAIN mode; return new EstimatorSpec({mode, loss, trainOp, ...}).');
    if (!spec.trainOp) {
      throw new Error(
        'modelFn returned no trainOp in TRAIN mode; return new EstimatorSpec({mode, loss, trainOp: optimizer.minimize(loss, {globalStep: train.getOrCreateGlobalStep()})}).',
      );
    }
  }
  if (mode === ModeKeys.EVAL && !spec.loss) {
    throw new Error('modelFn returned no loss in EVAL mode; return new EstimatorSpec({mode, loss, evalMetricOps}).');
  }
  if (mode === ModeKeys.PREDICT && !spec.predictions) {
    throw new Error(
      'modelFn returned no predictions in PREDICT mode; return new EstimatorSpec({mode, predictions: {classes, probabilities}}).',
    );
  }
  return spec;
}
