// The CNN of "Anatomy of an Estimator", as the tutorial writes it: conv 32 / BN / relu /
// maxpool 3,2; conv 64 / BN / relu / maxpool 3,2; global mean; dense 10. Shared by the
// benchmarks and the tests (the notebooks spell it out cell by cell).
import * as tf from '@tensorflow/tfjs';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import { RunConfig } from '../src/estimator/run-config';
import * as layers from '../src/layers';
import * as train from '../src/estimator/train-api';
import * as losses from '../src/estimator/losses';
import * as metrics from '../src/estimator/metrics';
import { datasets } from '../src/data';

export function getLogits(images: tf.Tensor, training: boolean, bnMomentum = 0.99): tf.Tensor {
  let x: tf.Tensor = tf.expandDims(images, -1);
  for (const filters of [32, 64]) {
    x = layers.conv2d(x, filters, 3);
    x = layers.batchNormalization(x, { training, momentum: bnMomentum });
    x = tf.relu(x);
    x = layers.maxPooling2d(x, 3, 2);
  }
  x = tf.mean(x, [1, 2]);
  return layers.dense(x, 10);
}

export interface ArticleParams {
  learningRate?: number;
  /** Batch-norm momentum (TF's default 0.99). Its moving variance needs ~1,000 steps to forget
   *  its initial 1.0: short runs (tests) evaluate sensibly only with a lower one, e.g. 0.9. */
  bnMomentum?: number;
}

export function articleModelFn(
  features: tf.Tensor,
  labels: tf.Tensor | undefined,
  mode: ModeKey,
  params: ArticleParams,
  _config: RunConfig,
): EstimatorSpec {
  const logits = getLogits(features, mode === ModeKeys.TRAIN, params.bnMomentum);
  const predictions = { classes: tf.argMax(logits, -1), probabilities: tf.softmax(logits) };
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions });
  const loss = losses.sparseSoftmaxCrossEntropy(labels!, logits);
  if (mode === ModeKeys.EVAL) {
    return new EstimatorSpec({ mode, loss, predictions, evalMetricOps: { accuracy: metrics.accuracy(labels!, predictions.classes) } });
  }
  const trainOp = train.adam(params.learningRate ?? 1e-3).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
  return new EstimatorSpec({ mode, loss, trainOp, predictions });
}

/** MNIST batches as [image [B,28,28], label [B]]: shuffled and repeated for training. */
export function mnistInputFn(mode: ModeKey, batchSize = 64, seed?: number) {
  return () => {
    const ds =
      mode === ModeKeys.TRAIN
        ? datasets.mnist.trainBatches(batchSize, { shuffle: true, repeat: true, seed })
        : datasets.mnist.testBatches(batchSize);
    return ds.map((b) => ({ xs: b.image, ys: b.label }) as unknown as tf.TensorContainer);
  };
}
