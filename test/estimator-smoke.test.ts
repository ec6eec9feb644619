import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';

function linearData(n: number): tf.data.Dataset<tf.TensorContainer> {
  const xs = tf.randomNormal([n, 3], 0, 1, 'float32', 1);
  const ys = tf.add(tf.matMul(xs, tf.tensor2d([[1], [-2], [0.5]])), 0.3);
  return tf.data
    .zip({ xs: tf.data.array(tf.unstack(xs)), ys: tf.data.array(tf.unstack(ys)) })
    .batch(16) as unknown as tf.data.Dataset<tf.TensorContainer>;
}

test('smoke: a linear model trains, saves and resumes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'est-smoke-'));
  const modelFn = (features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey) => {
    const pred = layers.dense(features, 1);
    if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: pred });
    const loss = tf.losses.meanSquaredError(labels!, pred) as tf.Scalar;
    const trainOp = train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
    return new EstimatorSpec({ mode, loss, trainOp });
  };
  const est = new Estimator(modelFn, dir, { config: { logStepCountSteps: 10 } });
  await est.train(() => linearData(160).repeat(), { steps: 50 });
  assert.ok(est.latestCheckpoint()?.endsWith('model.ckpt-50'));
  const m = await est.evaluate(() => linearData(64));
  console.log(m);
  assert.equal(m.globalStep, 50);
  assert.ok(m.loss < 0.05, `loss ${m.loss}`);
  const est2 = new Estimator(modelFn, dir);
  await est2.train(() => linearData(160).repeat(), { steps: 10 });
  assert.ok(est2.latestCheckpoint()?.endsWith('model.ckpt-60'));
  const ds = linearData(32);
  const before = tf.memory().numTensors;
  const preds = [];
  for await (const p of est2.predict(() => ds)) preds.push(p);
  assert.equal(preds.length, 32);
  assert.equal(tf.memory().numTensors, before);
  console.log(est2.getVariableNames());
});
