import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as losses from '../src/estimator/losses';

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b} (tol ${tol})`);
const val = (t: tf.Tensor) => t.dataSync()[0];

// Hand-computed: logits [2, 1, 0] with label 0 -> log(e^2 + e + 1) - 2; logits [0, 0, 3] with label 1 -> log(2 + e^3).
const L0 = 0.40760596444438013;
const L1 = 3.094922956420961;
const logits = () =>
  tf.tensor2d([
    [2, 1, 0],
    [0, 0, 3],
  ]);

describe('sparseSoftmaxCrossEntropy', () => {
  test('is the mean of -log softmax of the true class', () => {
    const l = losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 1], 'int32'), logits());
    assert.deepEqual(l.shape, []);
    close(val(l), (L0 + L1) / 2);
  });

  test('takes labels [N, 1] and float class ids as well as int32 [N]', () => {
    close(val(losses.sparseSoftmaxCrossEntropy(tf.tensor2d([[0], [1]], [2, 1], 'int32'), logits())), (L0 + L1) / 2);
    close(val(losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 1]), logits())), (L0 + L1) / 2);
  });

  test('weights: zero masks an example, the sum is divided by the number of non-zero weights', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: tf.tensor1d([1, 0]) })), L0);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: tf.tensor1d([2, 1]) })), (2 * L0 + L1) / 2);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: tf.tensor2d([[2], [1]]) })), (2 * L0 + L1) / 2);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: 3 })), (3 * (L0 + L1)) / 2);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: 0 })), 0);
  });

  test('the other TF1 reductions', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const w = tf.tensor1d([2, 1]);
    const R = losses.Reduction;
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: w, reduction: R.SUM })), 2 * L0 + L1);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: w, reduction: R.MEAN })), (2 * L0 + L1) / 3);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { weights: tf.tensor1d([2, 0]), reduction: R.SUM_OVER_BATCH_SIZE })), L0);
    close(val(losses.sparseSoftmaxCrossEntropy(labels, logits(), { reduction: R.SUM_BY_NONZERO_WEIGHTS })), (L0 + L1) / 2);
  });

  test('works on [batch, time, classes] logits with [batch, time] labels', () => {
    const l3 = tf.stack([logits(), logits()]);
    close(
      val(
        losses.sparseSoftmaxCrossEntropy(
          tf.tensor2d(
            [
              [0, 1],
              [0, 1],
            ],
            [2, 2],
            'int32',
          ),
          l3,
        ),
      ),
      (L0 + L1) / 2,
    );
  });

  test('is finite for huge logits', () => {
    close(val(losses.sparseSoftmaxCrossEntropy(tf.tensor1d([1], 'int32'), tf.tensor2d([[1000, 0]]))), 1000, 1e-3);
    close(val(losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0], 'int32'), tf.tensor2d([[1000, -1000]]))), 0);
  });

  test('names both shapes when labels do not fit the logits', () => {
    assert.throws(
      () => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 1, 2], 'int32'), logits()),
      /labels \[3\] does not fit logits \[2,3\]; labels must be class ids of shape \[2\] \(or \[2,1\]\)/,
    );
    assert.throws(
      () =>
        losses.sparseSoftmaxCrossEntropy(
          tf.tensor2d([
            [1, 0, 0],
            [0, 1, 0],
          ]),
          logits(),
        ),
      /one-hot labels go to softmaxCrossEntropy/,
    );
    assert.throws(
      () => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0], 'int32'), tf.tensor1d([1, 2])),
      /logits must be \[batch, classes\], got shape \[2\]/,
    );
  });

  test('rejects labels outside [0, classes) instead of returning a silent 0', () => {
    assert.throws(
      () => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 3], 'int32'), logits()),
      /label 3 \(at flat index 1\) is not a class id in \[0, 3\)/,
    );
    assert.throws(() => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([-1, 0], 'int32'), logits()), /label -1 \(at flat index 0\)/);
    assert.throws(() => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0.5, 0]), logits()), /label 0.5/);
  });

  test('says labels are undefined in PREDICT mode', () => {
    assert.throws(
      () => losses.sparseSoftmaxCrossEntropy(undefined as unknown as tf.Tensor, logits()),
      /labels must be a tf.Tensor, got undefined \(labels are undefined in PREDICT mode/,
    );
  });

  test('weights that cannot broadcast are an error naming both shapes', () => {
    assert.throws(
      () => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 1], 'int32'), logits(), { weights: tf.tensor1d([1, 2, 3]) }),
      /weights \[3\] cannot be broadcast to the loss \[2\]/,
    );
  });

  test('its gradient is (softmax - onehot) / N, and 0 for masked examples', () => {
    const f = (l: tf.Tensor) => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([1, 0], 'int32'), l, { weights: tf.tensor1d([1, 0]) });
    const g = tf.grad(f)(
      tf.tensor2d([
        [0, 0],
        [5, 1],
      ]),
    );
    const v = Array.from(g.dataSync());
    [0.5, -0.5, 0, 0].forEach((x, i) => close(v[i], x));
    const g2 = tf.grad((l: tf.Tensor) => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([1, 1], 'int32'), l))(
      tf.tensor2d([
        [0, 0],
        [0, 0],
      ]),
    );
    Array.from(g2.dataSync()).forEach((x, i) => close(x, i % 2 === 0 ? 0.25 : -0.25));
  });

  test('leaves only its result tensor behind', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const l = logits();
    const before = tf.memory().numTensors;
    const out = losses.sparseSoftmaxCrossEntropy(labels, l, { weights: tf.tensor1d([1, 2]) });
    // The weights tensor above is the caller's; the loss itself adds exactly one.
    assert.equal(tf.memory().numTensors, before + 2);
    out.dispose();
  });
});

describe('softmaxCrossEntropy', () => {
  test('matches the sparse loss for one-hot labels', () => {
    close(
      val(
        losses.softmaxCrossEntropy(
          tf.tensor2d([
            [1, 0, 0],
            [0, 1, 0],
          ]),
          logits(),
        ),
      ),
      (L0 + L1) / 2,
    );
  });

  test('label smoothing mixes in s / C of every class', () => {
    // labels [1, 0, 0] with s = 0.3 -> [0.8, 0.1, 0.1] against log-softmax of [2, 1, 0].
    close(val(losses.softmaxCrossEntropy(tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[2, 1, 0]]), { labelSmoothing: 0.3 })), 0.7076059644443802);
    assert.throws(
      () => losses.softmaxCrossEntropy(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, 1]]), { labelSmoothing: 1.5 }),
      /labelSmoothing must be in \[0, 1\]/,
    );
  });

  test('names both shapes on a mismatch', () => {
    assert.throws(
      () => losses.softmaxCrossEntropy(tf.tensor1d([0, 1], 'int32'), logits()),
      /onehotLabels \[2\] does not fit logits \[2,3\].*sparseSoftmaxCrossEntropy/,
    );
  });
});

describe('sigmoidCrossEntropy', () => {
  test('uses the stable form: finite and exact for logits of +-100', () => {
    // z=1, x=100 -> 0; z=0, x=-100 -> 0; z=1, x=0 -> log 2.
    close(val(losses.sigmoidCrossEntropy(tf.tensor1d([1, 0, 1]), tf.tensor1d([100, -100, 0]))), Math.log(2) / 3);
    close(val(losses.sigmoidCrossEntropy(tf.tensor1d([0]), tf.tensor1d([100]))), 100, 1e-3);
  });

  test('label smoothing moves labels towards 1/2', () => {
    // z = 1 * 0.8 + 0.1 = 0.9, x = 2: 2 - 1.8 + log(1 + e^-2).
    close(val(losses.sigmoidCrossEntropy(tf.tensor1d([1]), tf.tensor1d([2]), { labelSmoothing: 0.2 })), 0.3269280110429724);
  });

  test('per-example weights [N] apply to every label of the example', () => {
    const l = losses.sigmoidCrossEntropy(
      tf.tensor2d([
        [1, 1],
        [1, 1],
      ]),
      tf.tensor2d([
        [0, 0],
        [100, 100],
      ]),
      { weights: tf.tensor1d([1, 0]) },
    );
    close(val(l), Math.log(2));
  });

  test('has a finite gradient sigmoid(x) - z for huge logits', () => {
    const g = tf.grad((x: tf.Tensor) => losses.sigmoidCrossEntropy(tf.tensor1d([0, 1]), x))(tf.tensor1d([100, -100]));
    const v = Array.from(g.dataSync());
    close(v[0], 0.5);
    close(v[1], -0.5);
  });
});

describe('regression losses', () => {
  test('meanSquaredError, absoluteDifference, huberLoss, logLoss and hingeLoss by hand', () => {
    close(val(losses.meanSquaredError(tf.tensor1d([1, 2]), tf.tensor1d([2, 4]))), 2.5);
    close(val(losses.meanSquaredError(tf.tensor1d([1, 2]), tf.tensor1d([2, 4]), { weights: tf.tensor1d([0, 1]) })), 4);
    close(val(losses.absoluteDifference(tf.tensor1d([1, 2]), tf.tensor1d([2, 4]))), 1.5);
    // |e| = 0.5 -> 0.125 (quadratic); |e| = 3 -> 0.5 + 2 = 2.5 (linear beyond delta 1).
    close(val(losses.huberLoss(tf.tensor1d([0, 0]), tf.tensor1d([0.5, 3]))), (0.125 + 2.5) / 2);
    close(val(losses.huberLoss(tf.tensor1d([0]), tf.tensor1d([3]), { delta: 2 })), 0.5 * 4 + 2 * 1);
    close(val(losses.logLoss(tf.tensor1d([1, 0]), tf.tensor1d([0.8, 0.3]))), 0.2899091136979087);
    close(val(losses.hingeLoss(tf.tensor1d([1, 0]), tf.tensor1d([0.3, 0.5]))), (0.7 + 1.5) / 2);
  });

  test('shape mismatches name both shapes instead of broadcasting [N, 1] against [N]', () => {
    assert.throws(
      () => losses.meanSquaredError(tf.tensor1d([1, 2]), tf.tensor2d([[1], [2]])),
      /meanSquaredError: labels \[2\] does not fit predictions \[2,1\]; .*tf.squeeze/,
    );
  });

  test('computeWeightedLoss reduces losses of your own', () => {
    close(val(losses.computeWeightedLoss(tf.tensor1d([1, 2, 3]), { weights: tf.tensor1d([1, 0, 1]) })), 2);
    close(val(losses.computeWeightedLoss(tf.tensor1d([1, 2, 3]), { reduction: losses.Reduction.SUM })), 6);
  });

  test('every loss is differentiable under tf.grads', () => {
    const x = tf.tensor2d([
      [0.2, -0.4],
      [1.5, 0.1],
    ]);
    const y = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const fns: Array<(p: tf.Tensor) => tf.Scalar> = [
      (p) => losses.sparseSoftmaxCrossEntropy(tf.tensor1d([0, 1], 'int32'), p),
      (p) => losses.softmaxCrossEntropy(y, p, { labelSmoothing: 0.1 }),
      (p) => losses.sigmoidCrossEntropy(y, p),
      (p) => losses.meanSquaredError(y, p),
      (p) => losses.absoluteDifference(y, p),
      (p) => losses.huberLoss(y, p),
      (p) => losses.hingeLoss(y, p),
      (p) => losses.logLoss(y, tf.sigmoid(p)),
    ];
    for (const f of fns) {
      const [g] = tf.grads((p: tf.Tensor) => f(p))([x]);
      assert.deepEqual(g.shape, [2, 2]);
      assert.ok(Array.from(g.dataSync()).every(Number.isFinite));
      assert.ok(Array.from(g.dataSync()).some((v) => v !== 0));
    }
  });
});
