import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setQuiet } from '../src/host/log';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { GraphKeys, getCollection, UpdateOp } from '../src/framework/graph';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

const input = () => linearDataset(32).repeat();

describe('train.noOp', () => {
  test('is a TrainOp that group() and controlDependencies() accept; training goes on as without it', async () => {
    assert.ok(train.noOp() instanceof train.TrainOp);
    const est = new Estimator((x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      const h = layers.batchNormalization(layers.dense(x, 4), { training: true, momentum: 0.5 });
      const pred = layers.dense(h, 1);
      const loss = tf.losses.meanSquaredError(y!, pred) as tf.Scalar;
      const minimize = train.sgd(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
      // TF1's idiom: run the batch-norm updates, then a no-op, grouped with the minimize op.
      const updates = train.controlDependencies(getCollection<UpdateOp>(GraphKeys.UPDATE_OPS), () => train.noOp());
      return new EstimatorSpec({ mode, loss, trainOp: train.group(minimize, updates, train.noOp()) });
    }, tmpDir());
    await est.train(input, { steps: 5 });
    assert.equal(est.getVariableValue('global_step').dataSync()[0], 5);
    // The moving mean moved: the update ops inside controlDependencies ran.
    const movingMean = est.getVariableNames().find((n) => /moving_mean$/.test(n))!;
    assert.ok(
      Array.from(est.getVariableValue(movingMean).dataSync()).some((v) => v !== 0),
      'batch norm updates ran',
    );
  });

  test('a trainOp that is only a no-op is refused: it would never advance the global step', async () => {
    const est = new Estimator((x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      const loss = tf.losses.meanSquaredError(y!, layers.dense(x, 1)) as tf.Scalar;
      return new EstimatorSpec({ mode, loss, trainOp: train.noOp() });
    }, tmpDir());
    await assert.rejects(est.train(input, { steps: 2 }), /did not increment the global step/);
  });
});
