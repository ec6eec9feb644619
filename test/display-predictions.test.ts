import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decode, DecodedPng } from 'fast-png';
import { display } from '../src/display';
import type { PredictionRecord } from '../src/display';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { mnist } from '../src/data/mnist';
import type { MimeBundle } from '../src/host/sink';

process.env.TFJS_ESTIMATOR_QUIET = '1';

function cards(b: MimeBundle): string[] {
  return (b['text/html'] as string).split(/<div class="tfjs-estimator-prediction(?=[ "])/).slice(1);
}

function png(b: MimeBundle): DecodedPng {
  return decode(Buffer.from(b['image/png'] as string, 'base64'));
}

function onehot(k: number, n = 10, p = 0.91): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i === k ? p : (1 - p) / (n - 1)));
}

describe('display.predictions', () => {
  test('reads only `limit` records from an async generator and closes it', async () => {
    let yielded = 0;
    let closed = false;
    async function* predictions(): AsyncGenerator<PredictionRecord> {
      try {
        for (let i = 0; i < 1000; i++) {
          yielded++;
          yield { classes: i % 10, probabilities: onehot(i % 10) };
        }
      } finally {
        closed = true;
      }
    }
    const b = await display.predictions(predictions(), { limit: 5 });
    assert.equal(yielded, 5);
    assert.equal(closed, true, "the generator's finally ran (est.predict disposes there)");
    assert.equal(cards(b).length, 5);
    assert.equal(b['image/png'], undefined, 'no images given: no image grid');
    assert.match(b['text/plain'] as string, /^Predictions: 5 examples\n# {2}predicted {2}p {6}true\n0 {2}0 {10}0\.910/);
  });

  test('images, true labels and mistakes: cards, bars, the PNG grid with red and green borders', async () => {
    const images = tf.tidy(() => tf.linspace(0, 1, 4 * 28 * 28).reshape([4, 28, 28, 1]));
    const records: PredictionRecord[] = [
      { classes: 3, probabilities: onehot(3) },
      { classes: 1, probabilities: onehot(1) },
      { classes: 7, probabilities: onehot(7, 10, 0.6) },
      { classes: 0, probabilities: onehot(0) },
    ];
    const labels = tf.tensor1d([3, 1, 2, 0], 'int32');
    const before = tf.memory().numTensors;
    const b = await display.predictions(records, {
      images,
      labels,
      classNames: ['zero', 'one', 'two', 'three', '4', '5', '6', 'seven', '8', '9'],
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    const c = cards(b);
    assert.equal(c.length, 4);
    assert.deepEqual(
      c.map((h) => h.startsWith(' mistake')),
      [false, false, true, false],
    );
    assert.match(c[2], /predicted <b[^>]*>seven<\/b> <span[^>]*>\(60\.0%\)/);
    assert.match(c[2], /✗ true: <b>two<\/b>/);
    assert.match(c[0], /✓ true: <b>three<\/b>/);
    // Ten bars per example; the predicted one is as wide as its probability.
    assert.equal((c[2].match(/height:7px/g) ?? []).length, 10);
    assert.match(c[2], /width:60\.0%;height:100%;background:#d9534f/);
    const img = /src="data:image\/png;base64,([^"]+)"/.exec(c[1]);
    assert.ok(img);
    assert.deepEqual([decode(Buffer.from(img[1], 'base64')).width, decode(Buffer.from(img[1], 'base64')).height], [84, 84]);
    // Grid fallback: 4 cells of 84 + 2*3 px; the third (a mistake) framed in red, others green.
    const p = png(b);
    assert.deepEqual([p.width, p.height, p.channels], [4 * 90, 90, 3]);
    const at = (x: number, y: number): number[] => Array.from(p.data.subarray((y * p.width + x) * 3, (y * p.width + x) * 3 + 3));
    assert.deepEqual(at(2 * 90 + 1, 1), [217, 83, 79]);
    assert.deepEqual(at(0 * 90 + 1, 1), [92, 184, 92]);
    assert.match(b['text/plain'] as string, /3\/4 correct \(75\.0%\)/);
    assert.match(b['text/plain'] as string, /2 {2}seven +0\.600 {2}two +MISTAKE/);
    tf.dispose([images, labels]);
  });

  test('records can carry their own image, logits instead of probabilities, or be bare values', async () => {
    const digit = Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => ((x + y) % 2 ? 1 : 0)));
    const a = await display.predictions([{ image: digit, logits: [0, 0, 5] }], { labels: [[0, 0, 1]] });
    assert.match(cards(a)[0], /predicted <b[^>]*>2<\/b> <span[^>]*>\(98\.7%\)/);
    assert.match(cards(a)[0], /✓ true/);
    assert.deepEqual([png(a).width, png(a).height], [90, 90]);
    const bare = await display.predictions([4, 2], { labels: [4, 3] });
    assert.match(bare['text/plain'] as string, /1\/2 correct/);
    const probsOnly = await display.predictions([[0.1, 0.7, 0.2]]);
    assert.match(cards(probsOnly)[0], /predicted <b[^>]*>1<\/b>/);
    await assert.rejects(
      display.predictions([{ foo: 1 }]),
      /prediction 0 has neither classes nor probabilities \(keys: foo\); pass classesKey or probabilitiesKey/,
    );
  });

  test("works on a real Estimator's predict() over MNIST", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'display-pred-'));
    const modelFn = (features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
      const logits = layers.dense(layers.flatten(features), 10);
      if (mode === ModeKeys.PREDICT) {
        return new EstimatorSpec({ mode, predictions: { classes: tf.argMax(logits, 1), probabilities: tf.softmax(logits) } });
      }
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, 10), logits) as tf.Scalar;
      return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
    };
    const batches = (kind: 'train' | 'test', n: number): tf.data.Dataset<tf.TensorContainer> =>
      (kind === 'train' ? mnist.trainBatches(32) : mnist.testBatches(n)).take(kind === 'train' ? 150 : 1).map((b) => ({
        features: (b as { image: tf.Tensor }).image,
        labels: (b as { label: tf.Tensor }).label,
      })) as unknown as tf.data.Dataset<tf.TensorContainer>;
    const est = new Estimator(modelFn, dir);
    await est.train(() => batches('train', 32));
    const raw = mnist.raw('test');
    const images = { data: raw.images.data.subarray(0, 16 * 784), shape: [16, 28, 28] };
    const labels = Array.from(raw.labels.data.subarray(0, 16));
    const b = await display.predictions(
      est.predict(() => batches('test', 64)),
      { images, labels },
    );
    const m = /(\d+)\/16 correct/.exec(b['text/plain'] as string);
    assert.ok(m, b['text/plain'] as string);
    assert.ok(Number(m[1]) >= 10, `a softmax regression trained 150 steps gets most of 16 digits right: ${m[1]}/16`);
    assert.equal(cards(b).length, 16);
    assert.deepEqual([png(b).width, png(b).height], [8 * 90, 2 * 90]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
