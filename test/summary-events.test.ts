// A real Estimator training run writes TensorBoard event files: decoded here with the
// independent decoder (summary-decoder.ts), not the library's reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { decode as decodePng } from 'fast-png';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as summary from '../src/estimator/summary';
import { activeCollector } from '../src/estimator/summary/collect';
import type { SessionRunHook } from '../src/estimator/hooks/hook';
import { setQuiet } from '../src/host/log';
import { decodeEventFile, DecodedEvent, eventFilesIn } from './summary-decoder';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  const hidden = layers.dense(x, 4, { activation: 'relu' });
  const pred = layers.dense(hidden, 1);
  summary.histogram('hidden', hidden);
  summary.image('inputs', tf.reshape(tf.sigmoid(x), [-1, 1, 3, 1]), { maxOutputs: 2 });
  summary.scalar('pred_mean', tf.mean(pred));
  const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
  if (mode === 'eval') return new EstimatorSpec({ mode, loss, predictions: { hidden } });
  return new EstimatorSpec({
    mode,
    loss,
    predictions: { hidden },
    trainOp: train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }),
  });
};

/** Remembers, for every step, the loss, the hidden activations and summary.scalar('pred_mean') the step produced. */
function recorder(): SessionRunHook & { seen: Map<number, { loss: number; hidden: number[][]; predMean: number }> } {
  const seen = new Map<number, { loss: number; hidden: number[][]; predMean: number }>();
  return {
    seen,
    // summary.scalar values are fetchable by name at steps where summaries are recorded (the
    // built-in SummarySaverHook's beforeRun, which runs before user hooks, opened a collector).
    beforeRun: () => ({ fetches: { loss: 'loss', hidden: 'hidden', ...(activeCollector() ? { predMean: 'pred_mean' } : {}) } }),
    afterRun: (ctx, v) =>
      void seen.set(ctx.globalStep, {
        loss: v.results.loss as number,
        hidden: v.results.hidden as number[][],
        predMean: v.results.predMean as number,
      }),
  };
}

const value = (e: DecodedEvent, tag: string): number | undefined => e.values.find((v) => v.tag === tag)?.simpleValue;
const close = (a: number, b: number, tol: number): boolean => Math.abs(a - b) <= tol * (1 + Math.abs(b));

function onlyFile(dir: string): DecodedEvent[] {
  const files = eventFilesIn(dir);
  assert.equal(files.length, 1, `one event file in ${dir}: ${files.join(', ')}`);
  return decodeEventFile(files[0]);
}

test('training writes TensorBoard event files: loss and summaries at every summary step, PNG images, histograms of the logged values, global_step/sec', async () => {
  const dir = tmpDir('events-');
  const est = new Estimator(modelFn, dir, { config: { saveSummarySteps: 5, logStepCountSteps: 5 } });
  const rec = recorder();
  await est.train(() => linearDataset(64).repeat(), { steps: 20, hooks: [rec] });
  const events = onlyFile(dir);
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  assert.deepEqual(
    events.filter((e) => e.sessionLogStatus === 1).map((e) => e.step),
    [1],
    'SessionLog START at the first step',
  );
  const lossSteps = events.filter((e) => value(e, 'loss') !== undefined);
  assert.deepEqual(
    lossSteps.map((e) => e.step),
    [1, 6, 11, 16],
  );
  const rows = linearDataset(64, 64).take(1) as unknown as tf.data.Dataset<{ xs: tf.Tensor }>;
  const xs = (await rows.toArray())[0].xs.arraySync() as number[][];
  for (const e of lossSteps) {
    const seen = rec.seen.get(e.step)!;
    assert.equal(value(e, 'loss'), Math.fround(seen.loss));
    assert.equal(value(e, 'pred_mean'), Math.fround(seen.predMean));
    // Two images of the step's first two examples: 3 pixels each, sigmoid of the features.
    const imgs = e.values.filter((v) => v.image);
    assert.deepEqual(
      imgs.map((v) => v.tag),
      ['inputs/image/0', 'inputs/image/1'],
    );
    const batch = ((e.step - 1) % 8) * 8; // batches of 8 over 64 rows, repeated
    imgs.forEach((v, i) => {
      const png = decodePng(v.image!.png);
      assert.deepEqual([png.width, png.height, png.channels, v.image!.width, v.image!.height, v.image!.colorspace], [3, 1, 1, 3, 1, 1]);
      const expected = xs[batch + i].map((x) => Math.floor((1 / (1 + Math.exp(-x))) * 255.5));
      Array.from(png.data).forEach((p, k) =>
        assert.ok(Math.abs(p - expected[k]) <= 1, `pixel ${k} of image ${i} at step ${e.step}: ${p} vs ${expected[k]}`),
      );
    });
    // The histogram describes exactly the hidden activations of that step.
    const h = e.values.find((v) => v.tag === 'hidden')!.histo!;
    const flat = seen.hidden.flat();
    assert.equal(h.num, 8 * 4);
    assert.equal(h.min, Math.min(...flat));
    assert.equal(h.max, Math.max(...flat));
    assert.ok(
      close(
        h.sum,
        flat.reduce((a, b) => a + b, 0),
        1e-6,
      ),
    );
    assert.ok(
      close(
        h.sumSquares,
        flat.reduce((a, b) => a + b * b, 0),
        1e-6,
      ),
    );
    assert.equal(
      h.bucket.reduce((a, b) => a + b, 0),
      h.num,
    );
    assert.ok(h.min >= 0, 'relu outputs');
  }
  const rates = events.filter((e) => value(e, 'global_step/sec') !== undefined);
  assert.ok(rates.length >= 1 && rates.every((e) => value(e, 'global_step/sec')! > 0));

  // A second train() call (a new Estimator on the same directory) continues the same file.
  await new Estimator(modelFn, dir, { config: { saveSummarySteps: 5, logStepCountSteps: 5 } }).train(() => linearDataset(64).repeat(), {
    steps: 10,
  });
  const all = onlyFile(dir);
  assert.deepEqual(
    all.filter((e) => e.sessionLogStatus === 1).map((e) => e.step),
    [1, 21],
  );
  assert.deepEqual(
    all.filter((e) => value(e, 'loss') !== undefined).map((e) => e.step),
    [1, 6, 11, 16, 21, 26],
  );
  const scalars = await summary.readScalars(dir);
  assert.deepEqual(
    scalars.get('loss')!.map((p) => p.step),
    [1, 6, 11, 16, 21, 26],
  );
});

test('evaluate writes its metrics at the evaluated global step into eval_<name>', async () => {
  const dir = tmpDir('events-eval-');
  const est = new Estimator(modelFn, dir, { config: { saveSummarySteps: 5 } });
  await est.train(() => linearDataset(64).repeat(), { steps: 7 });
  const m = await est.evaluate(() => linearDataset(16), { name: 'holdout' });
  const saved = onlyFile(path.join(dir, 'eval_holdout')).filter((e) => e.values.length);
  assert.equal(saved.length, 1);
  assert.equal(saved[0].step, 7);
  assert.equal(value(saved[0], 'loss'), Math.fround(m.loss));
  await est.evaluate(() => linearDataset(16));
  assert.equal(onlyFile(path.join(dir, 'eval')).filter((e) => value(e, 'loss') !== undefined).length, 1);
});

test('evaluate also writes the summaries modelFn records on the first eval batch', async () => {
  const dir = tmpDir('events-eval-');
  const est = new Estimator(modelFn, dir, { config: { saveSummarySteps: 5 } });
  await est.train(() => linearDataset(64).repeat(), { steps: 3 });
  await est.evaluate(() => linearDataset(16));
  const saved = onlyFile(path.join(dir, 'eval')).filter((e) => e.values.length);
  assert.deepEqual(
    saved.map((e) => e.values.map((v) => v.tag).sort()),
    [['hidden', 'inputs/image/0', 'inputs/image/1', 'loss', 'pred_mean']],
  );
});
