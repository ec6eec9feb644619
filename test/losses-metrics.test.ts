import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as losses from '../src/estimator/losses';
import * as metrics from '../src/estimator/metrics';

const close = (a: number, b: number, tol = 1e-5, msg = '') => assert.ok(Math.abs(a - b) < tol, `${msg} ${a} vs ${b}`);
const val = (t: tf.Tensor) => t.dataSync()[0];

describe('losses', () => {
  test('sparseSoftmaxCrossEntropy matches -log softmax of the true class, with weights', () => {
    const logits = tf.tensor2d([[2, 1, 0], [0, 0, 3]]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const lse = (r: number[]) => Math.log(r.reduce((s, x) => s + Math.exp(x), 0));
    const l0 = lse([2, 1, 0]) - 2;
    const l1 = lse([0, 0, 3]) - 0;
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits)), (l0 + l1) / 2);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits, { weights: tf.tensor1d([1, 0]) })), l0);
    close(val(losses.sparseSoftmaxCrossEntropy(tf.tensor2d([[0], [1]], [2, 1], 'int32'), logits)), (l0 + l1) / 2);
    close(val(losses.softmaxCrossEntropy(tf.tensor2d([[1, 0, 0], [0, 1, 0]]), logits)), (l0 + l1) / 2);
    assert.throws(() => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 1, 2], 'int32'), logits), /labels \[3\] does not fit \[2,3\]/);
  });

  test('sigmoidCrossEntropy is stable for large logits; MSE, absolute difference and Huber', () => {
    const x = tf.tensor1d([100, -100, 0]);
    const z = tf.tensor1d([1, 0, 1]);
    close(val(losses.sigmoidCrossEntropy(z, x)), Math.log(2) / 3);
    close(val(losses.meanSquaredError(tf.tensor1d([1, 2]), tf.tensor1d([2, 4]))), 2.5);
    close(val(losses.absoluteDifference(tf.tensor1d([1, 2]), tf.tensor1d([2, 4]))), 1.5);
    close(val(losses.huberLoss(tf.tensor1d([0, 0]), tf.tensor1d([0.5, 3]))), (0.125 + 2.5) / 2);
    assert.throws(() => losses.meanSquaredError(tf.tensor1d([1]), tf.tensor1d([1, 2])), /labels \[1\] does not fit \[2\]/);
  });

  test('losses are differentiable', () => {
    const g = tf.grad((l: tf.Tensor) => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([1], 'int32'), l.reshape([1, 2])))(tf.tensor1d([0, 0]));
    assert.deepEqual(Array.from(g.dataSync()).map((v) => Math.round(v * 100) / 100), [0.5, -0.5]);
  });
});

/** Runs a metric over batches the way the Estimator does. */
function stream(batches: Array<() => metrics.MetricOp>): number {
  let acc: metrics.MetricOp | undefined;
  for (const b of batches) acc = b().merge(acc);
  return acc!.result();
}

describe('streaming metrics over several batches', () => {
  test('accuracy and mean (weighted)', () => {
    const t = tf.memory().numTensors;
    const acc = stream([
      () => metrics.accuracy(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([1, 2, 0], 'int32')),
      () => metrics.accuracy(tf.tensor1d([0], 'int32'), tf.tensor1d([0], 'int32')),
      () => metrics.accuracy(tf.tensor1d([5, 5], 'int32'), tf.tensor1d([4, 5], 'int32'), { weights: tf.tensor1d([1, 3]) }),
    ]);
    close(acc, (2 + 1 + 3) / (3 + 1 + 4));
    close(stream([() => metrics.mean(tf.tensor1d([1, 2])), () => metrics.mean(tf.tensor1d([6]))]), 3);
    assert.ok(tf.memory().numTensors - t <= 10, 'only the test inputs remain');
  });

  test('precision, recall, MSE, MAE, RMSE', () => {
    // batch 1: labels 1,0,1 preds 1,1,0 -> tp1 fp1 fn1; batch 2: labels 1,1 preds 0.9,0.2 -> tp1 fn1
    const b = [
      () => [tf.tensor1d([1, 0, 1]), tf.tensor1d([1, 1, 0])] as const,
      () => [tf.tensor1d([1, 1]), tf.tensor1d([0.9, 0.2])] as const,
    ];
    close(stream(b.map((f) => () => metrics.precision(...f()))), 2 / 3);
    close(stream(b.map((f) => () => metrics.recall(...f()))), 2 / 4);
    const r = [() => [tf.tensor1d([1, 2]), tf.tensor1d([2, 2])] as const, () => [tf.tensor1d([0]), tf.tensor1d([3])] as const];
    close(stream(r.map((f) => () => metrics.meanSquaredError(...f()))), (1 + 0 + 9) / 3);
    close(stream(r.map((f) => () => metrics.meanAbsoluteError(...f()))), (1 + 0 + 3) / 3);
    close(stream(r.map((f) => () => metrics.rootMeanSquaredError(...f()))), Math.sqrt(10 / 3));
  });

  test('auc of a perfect, a reversed and a mixed ranking', () => {
    const labels = [0, 0, 1, 1];
    const run = (scores: number[]) => stream([
      () => metrics.auc(tf.tensor1d(labels.slice(0, 2)), tf.tensor1d(scores.slice(0, 2))),
      () => metrics.auc(tf.tensor1d(labels.slice(2)), tf.tensor1d(scores.slice(2))),
    ]);
    close(run([0.1, 0.2, 0.8, 0.9]), 1, 1e-3);
    close(run([0.9, 0.8, 0.2, 0.1]), 0, 1e-3);
    close(run([0.1, 0.6, 0.4, 0.9]), 0.75, 2e-2);
  });

  test('meanIoU and topKAccuracy', () => {
    // classes 0,1: labels [0,0,1,1] preds [0,1,1,1] -> IoU0 = 1/2, IoU1 = 2/3
    const iou = stream([
      () => metrics.meanIoU(tf.tensor1d([0, 0], 'int32'), tf.tensor1d([0, 1], 'int32'), 2),
      () => metrics.meanIoU(tf.tensor1d([1, 1], 'int32'), tf.tensor1d([1, 1], 'int32'), 2),
    ]);
    close(iou, (1 / 2 + 2 / 3) / 2);
    const top2 = stream([
      () => metrics.topKAccuracy(tf.tensor1d([2], 'int32'), tf.tensor2d([[0.1, 0.5, 0.4]]), 2),
      () => metrics.topKAccuracy(tf.tensor1d([0, 1], 'int32'), tf.tensor2d([[0.1, 0.5, 0.4], [0.2, 0.7, 0.1]]), 2),
    ]);
    close(top2, 2 / 3);
  });

  test('merging two different metrics under one key is a clear error', () => {
    const a = metrics.accuracy(tf.tensor1d([1]), tf.tensor1d([1]));
    assert.throws(() => metrics.mean(tf.tensor1d([1])).merge(a), /changed kind between batches/);
  });
});
