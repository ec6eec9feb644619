import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setQuiet } from '../src/host/log';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as data from '../src/data';
import type { SliceElement } from '../src/data';
import { tmpDir } from './helpers/tmp';

setQuiet(true);

async function collect<T extends tf.TensorContainer>(ds: tf.data.Dataset<T>): Promise<T[]> {
  return ds.toArrayForTest();
}

/** Row values of features (a tensor) per element, as plain arrays. */
function rows(els: SliceElement[], key: 'features' | 'labels' = 'features'): unknown[] {
  return els.map((e) => (e[key] as tf.Tensor).arraySync());
}

// y = 2 x0 - 3 x1 + 1 on a fixed grid: a regression the notebook could make itself.
function regressionData(n: number): { x: number[][]; y: number[][] } {
  const x: number[][] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.sin(i * 1.3);
    const b = Math.cos(i * 0.7);
    x.push([a, b]);
    y.push([2 * a - 3 * b + 1]);
  }
  return { x, y };
}

function regressionModel(features: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor | undefined, mode: ModeKey) {
  const x = features instanceof tf.Tensor ? features : tf.stack([features.a, features.b], 1);
  const pred = layers.dense(x, 1);
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: { y: pred } });
  const loss = tf.losses.meanSquaredError(labels!, pred) as tf.Scalar;
  return new EstimatorSpec({
    mode,
    loss,
    trainOp: mode === ModeKeys.TRAIN ? train.sgd(0.2).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) : undefined,
  });
}

describe('data.fromTensorSlices', () => {
  test('slices features and labels along axis 0 into {features, labels}', async () => {
    const els = await collect(
      data.fromTensorSlices(
        tf.tensor2d([
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
        [10, 20, 30],
      ),
    );
    assert.equal(els.length, 3);
    assert.deepEqual(rows(els), [
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    assert.deepEqual(rows(els, 'labels'), [10, 20, 30]);
    assert.deepEqual((els[0].features as tf.Tensor).shape, [2]);
  });

  test('objects of features stay objects, batch() stacks each, no labels when none are given', async () => {
    const ds = data.fromTensorSlices({ age: [30, 40, 50], height: tf.tensor2d([[1], [2], [3]]) }).batch(2);
    const els = (await collect(ds)) as unknown as SliceElement[];
    assert.equal(els.length, 2);
    const f = els[0].features as Record<string, tf.Tensor>;
    assert.deepEqual(Object.keys(f).sort(), ['age', 'height']);
    assert.deepEqual(f.age.arraySync(), [30, 40]);
    assert.deepEqual(f.height.shape, [2, 1]);
    assert.equal(els[0].labels, undefined);
  });

  test('mismatched rows and scalars are refused with the fix', () => {
    assert.throws(
      () => data.fromTensorSlices(tf.zeros([4, 2]), tf.zeros([3])),
      /features has 4 rows but labels has 3.*same first dimension/,
    );
    assert.throws(() => data.fromTensorSlices({ a: [1, 2], b: [1] }), /features.a has 2 rows but features.b has 1/);
    assert.throws(() => data.fromTensorSlices(tf.scalar(1)), /features is a scalar/);
    assert.throws(() => data.fromTensorSlices({}), /features must be a tensor/);
  });
});

describe('data.inputFn (numpy_input_fn)', () => {
  const x = tf.tensor2d(Array.from({ length: 10 }, (_, i) => [i, -i]));
  const y = tf.tensor1d(
    Array.from({ length: 10 }, (_, i) => i),
    'int32',
  );

  test('batches in order without shuffle, a smaller last batch, numEpochs passes', async () => {
    const els = await collect(data.inputFn({ x, y, batchSize: 4, numEpochs: 2, shuffle: false })());
    assert.deepEqual(
      els.map((e) => (e.labels as tf.Tensor).shape[0]),
      [4, 4, 2, 4, 4, 2],
    );
    assert.deepEqual(rows(els, 'labels').flat(), [...Array(10).keys(), ...Array(10).keys()]);
    assert.deepEqual((els[1].features as tf.Tensor).arraySync(), [
      [4, -4],
      [5, -5],
      [6, -6],
      [7, -7],
    ]);
    assert.equal((els[0].labels as tf.Tensor).dtype, 'int32');
  });

  test('shuffle permutes every pass; a seed repeats the order on each call', async () => {
    const fn = data.inputFn({ x, y, batchSize: 10, numEpochs: 2, shuffle: true, seed: 7 });
    const a = rows(await collect(fn()), 'labels') as number[][];
    const b = rows(await collect(fn()), 'labels') as number[][];
    assert.deepEqual(a, b);
    for (const pass of a)
      assert.deepEqual(
        [...pass].sort((p, q) => p - q),
        [...Array(10).keys()],
      );
    assert.notDeepEqual(a[0], [...Array(10).keys()]);
    assert.notDeepEqual(a[0], a[1]);
    const other = rows(await collect(data.inputFn({ x, y, batchSize: 10, shuffle: true, seed: 8 })()), 'labels');
    assert.notDeepEqual(other[0], a[0]);
  });

  test('numEpochs null repeats forever', async () => {
    const els = await collect(data.inputFn({ x, batchSize: 3, numEpochs: null, shuffle: false })().take(9));
    assert.equal(els.length, 9);
    assert.deepEqual(rows(els)[3], [[9, -9]]);
    assert.deepEqual(rows(els)[4], [
      [0, -0],
      [1, -1],
      [2, -2],
    ]);
  });

  test('bad options say what to pass', () => {
    assert.throws(() => data.inputFn({ x, y } as never), /say whether to shuffle/);
    assert.throws(() => data.inputFn({ x, y, batchSize: 0, shuffle: true }), /batchSize must be a positive integer/);
    assert.throws(() => data.inputFn({ x, y, numEpochs: 0, shuffle: true }), /numEpochs must be a positive integer, or null/);
    assert.throws(() => data.inputFn({ x, y: [1, 2], shuffle: true }), /x has 10 rows but y has 2/);
  });
});

describe('Estimator on in-memory data', () => {
  test('fromTensorSlices and inputFn train a regression; tensors stay flat across steps', async () => {
    const { x, y } = regressionData(256);
    const est = new Estimator(regressionModel, tmpDir());
    const trainFn = data.inputFn({ x, y, batchSize: 32, numEpochs: null, shuffle: true, seed: 1 });
    await est.train(trainFn, { steps: 20 });
    const before = tf.memory().numTensors;
    await est.train(trainFn, { steps: 200 });
    assert.equal(tf.memory().numTensors, before, 'per-step tensors must be disposed');
    const m = await est.evaluate(() => data.fromTensorSlices(x, y).batch(64));
    assert.equal(m.globalStep, 220);
    assert.ok(m.loss < 0.01, `eval MSE ${m.loss} should be near 0 for a linear target`);
    const w = est.getVariableValue('dense/kernel').arraySync() as number[][];
    assert.ok(Math.abs(w[0][0] - 2) < 0.1 && Math.abs(w[1][0] + 3) < 0.1, `learned weights ${JSON.stringify(w)}`);
  });

  test('feature objects reach modelFn as objects', async () => {
    const { x, y } = regressionData(64);
    const est = new Estimator(regressionModel, tmpDir());
    const features = { a: x.map((r) => r[0]), b: x.map((r) => r[1]) };
    await est.train(data.inputFn({ x: features, y, batchSize: 16, numEpochs: 3, shuffle: true }));
    const m = await est.evaluate(data.inputFn({ x: features, y, batchSize: 16, shuffle: false }));
    assert.equal(m.globalStep, 12);
    const preds: unknown[] = [];
    for await (const p of est.predict(data.inputFn({ x: features, batchSize: 16, shuffle: false })))
      preds.push((p as Record<string, unknown>).y);
    assert.equal(preds.length, 64);
  });

  test('tf.data.zip([xs, ys]).batch(n) gets a hint that says what happened and names the helpers', async () => {
    const { x, y } = regressionData(8);
    const est = new Estimator(regressionModel, tmpDir());
    const zipped = () => tf.data.zip([tf.data.array(x), tf.data.array(y)]).batch(4) as unknown as tf.data.Dataset<tf.TensorContainer>;
    await assert.rejects(est.train(zipped, { steps: 1 }), (e: Error) => {
      assert.match(e.message, /a float32 tensor of shape \[4,/);
      assert.match(e.message, /single tensor.*stacks an element that is an array, such as tf.data.zip\(\[xs, ys\]\), into one tensor/);
      assert.match(e.message, /data.fromTensorSlices\(xs, ys\).batch\(32\)/);
      assert.match(e.message, /data.inputFn\(\{x: xs, y: ys/);
      assert.doesNotMatch(e.message, /isDisposedInternal|dataId|kept/);
      return true;
    });
  });
});
