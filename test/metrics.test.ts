import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as metrics from '../src/estimator/metrics';

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b} (tol ${tol})`);
const i32 = (v: number[]) => tf.tensor1d(v, 'int32');
const f32 = (v: number[]) => tf.tensor1d(v);

/** Folds batches the way Estimator.evaluate does: acc = op.merge(acc), then acc.result(). */
function stream(ops: Array<() => metrics.MetricOp>): number {
  let acc: metrics.MetricOp | undefined;
  for (const op of ops) acc = op().merge(acc);
  return acc!.result();
}

/** Calls f with inputs made beforehand and asserts the call leaves no tensor behind. */
function noLeak<T>(make: () => T, f: (x: T) => metrics.MetricOp): metrics.MetricOp {
  const inputs = make();
  const before = tf.memory().numTensors;
  const op = f(inputs);
  assert.equal(tf.memory().numTensors, before, 'the metric call kept tensors');
  return op;
}

describe('streaming metrics over several batches', () => {
  test('accuracy: correct / count over all batches, with weights', () => {
    // 2/3, then 2/2, then weights [1, 3] on one miss and one hit: (2 + 2 + 3) / (3 + 2 + 4).
    const acc = stream([
      () => metrics.accuracy(i32([1, 2, 3]), i32([1, 2, 0])),
      () => metrics.accuracy(tf.tensor2d([[0], [4]], [2, 1], 'int32'), i32([0, 4])),
      () => metrics.accuracy(i32([5, 5]), i32([4, 5]), { weights: f32([1, 3]) }),
    ]);
    close(acc, 7 / 9);
  });

  test('mean: weighted mean of every value seen', () => {
    close(
      stream([() => metrics.mean(f32([1, 2])), () => metrics.mean(6), () => metrics.mean(f32([10, 20]), { weights: f32([1, 0]) })]),
      19 / 4,
    );
  });

  test('precision, recall and the four counts cast predictions to bool as TF does', () => {
    // Totals over the three batches: tp 3, fp 1, tn 3, fn 2.
    const batches: Array<[number[], number[]]> = [
      [
        [1, 0, 1],
        [1, 1, 0],
      ],
      [
        [1, 1, 0],
        [1, 0, 0],
      ],
      [
        [0, 1, 0],
        [0, 1, 0],
      ],
    ];
    const run = (f: (l: tf.Tensor, p: tf.Tensor) => metrics.MetricOp) =>
      stream(
        batches.map(
          ([l, p]) =>
            () =>
              f(f32(l), f32(p)),
        ),
      );
    close(run(metrics.precision), 3 / 4);
    close(run(metrics.recall), 3 / 5);
    close(run(metrics.truePositives), 3);
    close(run(metrics.falsePositives), 1);
    close(run(metrics.trueNegatives), 3);
    close(run(metrics.falseNegatives), 2);
    // A probability of 0.2 is "true" when cast to bool; with a threshold it is not.
    close(
      metrics
        .precision(f32([0]), f32([0.2]))
        .merge(undefined)
        .result(),
      0,
    );
    close(metrics.falsePositives(f32([0]), f32([0.2])).result(), 1);
    close(metrics.falsePositives(f32([0]), f32([0.2]), { threshold: 0.5 }).result(), 0);
    // Nothing predicted positive: precision is 0, not NaN.
    close(metrics.precision(f32([1, 1]), f32([0, 0])).result(), 0);
  });

  test('RMSE, MSE and MAE over weighted batches', () => {
    // squared errors 1, 0 | 9 | 4 (w 0.5), 1 (w 2) -> 14 / 5.5; absolute 1, 0 | 3 | 2 (w 0.5), 1 (w 2) -> 7 / 5.5.
    const batches: Array<() => [tf.Tensor, tf.Tensor, { weights?: tf.Tensor }]> = [
      () => [f32([1, 2]), f32([2, 2]), {}],
      () => [f32([0]), f32([3]), {}],
      () => [f32([1, 1]), f32([3, 0]), { weights: f32([0.5, 2]) }],
    ];
    close(stream(batches.map((b) => () => metrics.meanSquaredError(...b()))), 14 / 5.5);
    close(stream(batches.map((b) => () => metrics.meanAbsoluteError(...b()))), 7 / 5.5);
    close(stream(batches.map((b) => () => metrics.rootMeanSquaredError(...b()))), Math.sqrt(14 / 5.5));
  });

  test('auc: TF thresholded trapezoids, ROC and PR, every summation method', () => {
    // Positives score 0.8, 0.35, 0.9; negatives 0.1, 0.4, 0.7, spread over three batches.
    const batches = [
      [
        [0, 1],
        [0.1, 0.8],
      ],
      [
        [0, 1],
        [0.4, 0.35],
      ],
      [
        [1, 0],
        [0.9, 0.7],
      ],
    ];
    const run = (opts: metrics.AucOptions) =>
      stream(
        batches.map(
          ([l, p]) =>
            () =>
              metrics.auc(f32(l), f32(p), opts),
        ),
      );
    // 3 thresholds (-eps, 0.5, 1+eps): (tp, fp, tn, fn) = (3,3,0,0), (2,1,2,1), (0,0,3,3).
    // ROC points (fpr, tpr): (1, 1), (1/3, 2/3), (0, 0) -> 2/3 * 5/6 + 1/3 * 1/3 = 2/3.
    close(run({ numThresholds: 3 }), 2 / 3, 1e-5);
    close(run({ numThresholds: 3, summationMethod: 'minoring' }), 4 / 9, 1e-5);
    close(run({ numThresholds: 3, summationMethod: 'majoring' }), 8 / 9, 1e-5);
    // PR points (recall, precision): (1, 1/2), (2/3, 2/3), (0, 1) -> 1/3 * 7/12 + 2/3 * 5/6 = 3/4.
    close(run({ numThresholds: 3, curve: 'PR' }), 3 / 4, 1e-5);
    // Careful interpolation: 1/3 (1 + ln 2) / 3 + (2/3) * 2 / 3.
    close(run({ numThresholds: 3, curve: 'PR', summationMethod: 'careful_interpolation' }), 0.632571908951105, 1e-5);
    // 200 thresholds separate every score: the exact pairwise ROC AUC, 7 of 9 pairs ordered.
    close(run({}), 7 / 9, 1e-4);
    close(run({ thresholds: [0.5] }), 2 / 3, 1e-5);
  });

  test('auc rejects logits and a change of thresholds between batches', () => {
    assert.throws(() => metrics.auc(f32([0, 1]), f32([-2, 3])), /predictions must be probabilities in \[0, 1\], got -2 .*tf.sigmoid/);
    const a = metrics.auc(f32([1]), f32([0.5]), { numThresholds: 10 });
    assert.throws(() => metrics.auc(f32([1]), f32([0.5]), { numThresholds: 20 }).merge(a), /different thresholds/);
  });

  test('meanIoU over the classes present, meanPerClassAccuracy over all classes', () => {
    // (label, prediction): (0,0) x2, (0,1), (1,1) x2, (2,1).
    // IoU: class 0 2/(3+2-2), class 1 2/(2+4-2), class 2 0/1; class 3 never occurs.
    const batches: Array<[number[], number[]]> = [
      [
        [0, 0, 1],
        [0, 1, 1],
      ],
      [
        [1, 2],
        [1, 1],
      ],
      [[0], [0]],
    ];
    const run = (f: (l: tf.Tensor, p: tf.Tensor) => metrics.MetricOp) =>
      stream(
        batches.map(
          ([l, p]) =>
            () =>
              f(i32(l), i32(p)),
        ),
      );
    close(
      run((l, p) => metrics.meanIoU(l, p, 3)),
      (2 / 3 + 1 / 2 + 0) / 3,
    );
    close(
      run((l, p) => metrics.meanIoU(l, p, 4)),
      (2 / 3 + 1 / 2 + 0) / 3,
    );
    close(
      run((l, p) => metrics.meanPerClassAccuracy(l, p, 3)),
      (2 / 3 + 1 + 0) / 3,
    );
    close(
      run((l, p) => metrics.meanPerClassAccuracy(l, p, 4)),
      (2 / 3 + 1 + 0 + 0) / 4,
    );
    assert.throws(() => metrics.meanIoU(i32([0, 5]), i32([0, 1]), 3), /label 5 \(at flat index 1\) is not a class id in \[0, 3\)/);
  });

  test('topKAccuracy follows tf.nn.in_top_k: ties count, bad labels and non-finite rows miss', () => {
    const p = (rows: number[][]) => tf.tensor2d(rows);
    const k2 = stream([
      () => metrics.topKAccuracy(i32([2]), p([[0.1, 0.5, 0.4]]), 2), // 2nd best: hit
      () =>
        metrics.topKAccuracy(
          i32([0, 1]),
          p([
            [0.1, 0.5, 0.4],
            [0.2, 0.7, 0.1],
          ]),
          2,
        ), // miss, hit
      () => metrics.topKAccuracy(tf.tensor2d([[0]], [1, 1], 'int32'), p([[0.3, 0.3, 0.3]]), 2), // tie: hit
      () =>
        metrics.topKAccuracy(
          i32([5, 0]),
          p([
            [0.1, 0.2, 0.3],
            [0.9, NaN, 0.1],
          ]),
          2,
        ), // out of range, NaN: misses
    ]);
    close(k2, 3 / 6);
    // All three tie for first place: each is "in the top 1".
    close(metrics.topKAccuracy(i32([2]), p([[1, 1, 1]]), 1).result(), 1);
    close(
      metrics
        .topKAccuracy(
          i32([0, 1]),
          p([
            [1, 2, 0],
            [1, 2, 0],
          ]),
          1,
          { weights: f32([3, 1]) },
        )
        .result(),
      1 / 4,
    );
    assert.throws(() => metrics.topKAccuracy(i32([0, 1]), p([[1, 2, 0]]), 1), /labels \[2\] do not fit predictions \[1,3\]/);
  });

  test('no metric call keeps a tensor', () => {
    const lp = () => [i32([0, 1, 1]), i32([0, 1, 0])] as const;
    const scores = () =>
      [
        i32([0, 1, 1]),
        tf.tensor2d([
          [0.9, 0.1],
          [0.2, 0.8],
          [0.6, 0.4],
        ]),
      ] as const;
    const probs = () => [f32([0, 1, 1]), f32([0.2, 0.7, 0.4]), f32([1, 2, 1])] as const;
    noLeak(lp, ([l, p]) => metrics.accuracy(l, p));
    noLeak(lp, ([l, p]) => metrics.accuracy(l, p, { weights: 2 }));
    noLeak(
      () => f32([1, 2]),
      (v) => metrics.mean(v),
    );
    noLeak(lp, ([l, p]) => metrics.precision(l, p));
    noLeak(lp, ([l, p]) => metrics.recall(l, p));
    noLeak(probs, ([l, p, w]) => metrics.auc(l, p, { weights: w }));
    noLeak(probs, ([l, p]) => metrics.meanSquaredError(l, p));
    noLeak(probs, ([l, p]) => metrics.meanAbsoluteError(l, p));
    noLeak(probs, ([l, p]) => metrics.rootMeanSquaredError(l, p));
    noLeak(lp, ([l, p]) => metrics.meanIoU(l, p, 2));
    noLeak(lp, ([l, p]) => metrics.meanPerClassAccuracy(l, p, 2));
    noLeak(scores, ([l, p]) => metrics.topKAccuracy(l, p, 1));
    noLeak(lp, ([l, p]) => metrics.truePositives(l, p));
  });
});

describe('metric plumbing', () => {
  test('merging a different metric under the same key is a clear error', () => {
    const a = metrics.accuracy(f32([1]), f32([1]));
    assert.throws(() => metrics.mean(f32([1])).merge(a), /Cannot merge metric 'mean' into the 'accuracy' .*changed kind between batches/);
    assert.throws(
      () => metrics.topKAccuracy(i32([0]), tf.tensor2d([[1, 0]]), 2).merge(metrics.topKAccuracy(i32([0]), tf.tensor2d([[1, 0]]), 1)),
      /top_2_accuracy.*top_1_accuracy/,
    );
    assert.throws(
      () =>
        metrics
          .meanIoU(i32([0]), i32([0]), 3)
          .merge(metrics.meanIoU(i32([0]), i32([0]), 3))
          .merge(metrics.accuracy(f32([1]), f32([1]))),
      /changed kind/,
    );
  });

  test('merge returns a new op and leaves the accumulated one unchanged', () => {
    const first = metrics.accuracy(f32([1, 1]), f32([1, 1]));
    const both = metrics.accuracy(f32([1, 1]), f32([0, 0])).merge(first);
    close(first.result(), 1);
    close(both.result(), 0.5);
  });

  test('createMetric streams a metric of your own', () => {
    const maxOf = (v: number[]) =>
      metrics.createMetric(
        'max',
        Math.max(...v),
        (a: number, b: number) => Math.max(a, b),
        (s) => s,
      );
    close(stream([() => maxOf([1, 7]), () => maxOf([3]), () => maxOf([5, 2])]), 7);
    const op = maxOf([1]);
    assert.ok(metrics.isMetricOp(op));
    assert.equal(op.kind, 'max');
    assert.ok(!metrics.isMetricOp({ merge: 1 }));
    assert.ok(!metrics.isMetricOp(tf.scalar(1)));
  });

  test('errors name the shapes, and say when labels are missing', () => {
    assert.throws(
      () =>
        metrics.accuracy(
          i32([1, 2]),
          tf.tensor2d([
            [0.1, 0.9],
            [0.8, 0.2],
          ]),
        ),
      /labels \[2\] and predictions \[2,2\] have different shapes; .*tf.argMax/,
    );
    assert.throws(
      () => metrics.accuracy(undefined as unknown as tf.Tensor, i32([1])),
      /labels must be a tf.Tensor, got undefined \(labels are undefined in PREDICT/,
    );
    assert.throws(() => metrics.mean(f32([1, 2]), { weights: f32([1, 2, 3]) }), /weights \[3\] cannot be broadcast to the values \[2\]/);
  });
});
