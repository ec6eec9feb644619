import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { display } from '../src/display';
import { PLOTLY_MIME, PlotlyTrace } from '../src/display/plotly';
import { rebin } from '../src/display/tensorboard';
import { EventFileWriter } from '../src/events/writer';
import { histogramOf } from '../src/estimator/summary/collect';
import * as summary from '../src/estimator/summary';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as metrics from '../src/estimator/metrics';
import * as layers from '../src/layers';
import type { MimeBundle } from '../src/host/sink';

process.env.TFJS_ESTIMATOR_QUIET = '1';

interface Figure {
  data: (PlotlyTrace & { x: number[]; y: number[]; xaxis: string; showlegend?: boolean; z?: number[][] })[];
  layout: Record<string, unknown> & { annotations?: { text: string }[] };
}

const figure = (b: MimeBundle): Figure => b[PLOTLY_MIME] as Figure;
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'display-tb-'));

/** A seeded normal sample, so histogram tests are deterministic. */
function normal(n: number, mean: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal([n], mean, 1, 'float32', seed).dataSync() as Float32Array);
}

/** Train events in dir, eval runs in dir/eval and dir/eval_holdout, written by the library's writer. */
function writeRuns(dir: string): void {
  const w = new EventFileWriter(dir);
  for (let step = 0; step <= 100; step += 10) {
    w.addScalars(step, { loss: 2 / (1 + step / 10), accuracy: step / 200, 'global_step/sec': 50 + step });
  }
  w.close();
  const e = new EventFileWriter(path.join(dir, 'eval'));
  e.addScalars(50, { loss: 0.5, accuracy: 0.3 });
  e.addScalars(100, { loss: 0.3, accuracy: 0.55 });
  e.close();
  const h = new EventFileWriter(path.join(dir, 'eval_holdout'));
  h.addScalars(100, { accuracy: 0.5 });
  h.close();
}

describe('display.scalars', () => {
  test('one chart per tag, loss first, train and eval runs overlaid from real event files', async () => {
    const dir = tmp();
    writeRuns(dir);
    const b = await display.scalars(dir);
    const f = figure(b);
    const titles = (f.layout.annotations ?? []).map((a) => a.text);
    assert.deepEqual(titles, ['<b>loss</b>', '<b>accuracy</b>', '<b>global_step/sec</b>']);
    const series = f.data.map((t) => `${t.xaxis} ${t.name}`);
    assert.deepEqual(series, ['x train', 'x eval', 'x2 train', 'x2 eval', 'x2 eval_holdout', 'x3 train']);
    const trainLoss = f.data[0];
    assert.deepEqual(trainLoss.x, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.ok(Math.abs(trainLoss.y[5] - 2 / 6) < 1e-6, 'simple_value is float32 on disk');
    assert.deepEqual(f.data[1].x, [50, 100]);
    assert.ok(Math.abs(f.data[1].y[1] - 0.3) < 1e-6);
    assert.deepEqual(f.data[4].x, [100]);
    assert.equal(f.data[4].mode, 'markers', 'a single point is drawn as a marker');
    // Each run appears once in the legend, with one colour across charts.
    assert.deepEqual(
      f.data.filter((t) => t.showlegend).map((t) => t.name),
      ['train', 'eval', 'eval_holdout'],
    );
    assert.equal((f.data[0].line as { color: string }).color, (f.data[2].line as { color: string }).color);
    assert.deepEqual(f.layout.grid, { rows: 2, columns: 2, pattern: 'independent', ygap: 0.35, xgap: 0.12 });
    assert.match(b['text/plain'] as string, /loss \[eval\]: 2 points, last 0\.3 at step 100/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('tags filter by name or pattern; smoothing adds a faint raw line under the smoothed one', async () => {
    const dir = tmp();
    writeRuns(dir);
    const only = figure(await display.scalars(dir, { tags: ['accuracy', /^global/] }));
    assert.deepEqual([...new Set(only.data.map((t) => t.xaxis))], ['x', 'x2']);
    assert.equal(only.data.length, 4);
    const smoothed = figure(await display.scalars(dir, { tags: ['loss'], smoothing: 0.6 }));
    assert.equal(smoothed.data.length, 4);
    assert.equal(smoothed.data[0].opacity, 0.3);
    const raw = smoothed.data[0].y;
    const ema = smoothed.data[1].y;
    assert.ok(Math.abs(ema[0] - raw[0]) < 1e-9, 'debiased: the first smoothed value is the first value');
    assert.ok(ema[3] > raw[3], 'a falling curve is smoothed from above');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a missing directory is an error; one without events says to train first', async () => {
    await assert.rejects(display.scalars('/nonexistent/model'), /model directory \/nonexistent\/model does not exist/);
    const dir = tmp();
    const b = await display.scalars(dir);
    assert.match(b['text/plain'] as string, /No scalar summaries in .* yet \(looked in train\); train or evaluate first/);
    assert.equal(b[PLOTLY_MIME], undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("an Estimator's own train and evaluate runs show up as train and eval curves", async () => {
    const dir = tmp();
    const xs = tf.tidy(() => tf.randomNormal([64, 3], 0, 1, 'float32', 5).arraySync() as number[][]);
    const data = (): tf.data.Dataset<tf.TensorContainer> =>
      tf.data
        .array(xs.map((x) => ({ features: x, labels: [x[0] - 2 * x[1] + 0.5 * x[2]] })))
        .batch(16)
        .map((b) => b) as unknown as tf.data.Dataset<tf.TensorContainer>;
    const modelFn = (features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
      const pred = layers.dense(features, 1);
      if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: pred });
      const loss = tf.losses.meanSquaredError(labels as tf.Tensor, pred) as tf.Scalar;
      summary.scalar('mean_prediction', tf.mean(pred));
      return new EstimatorSpec({
        mode,
        loss,
        trainOp: train.sgd(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }),
        evalMetricOps: { mae: metrics.meanAbsoluteError(labels as tf.Tensor, pred) },
      });
    };
    const est = new Estimator(modelFn, dir, { config: { saveSummarySteps: 5 } });
    await est.train(() => data().repeat(), { steps: 20 });
    await est.evaluate(() => data());
    await est.train(() => data().repeat(), { steps: 20 });
    await est.evaluate(() => data());
    const b = await display.scalars(dir);
    const f = figure(b);
    const tags = (f.layout.annotations ?? []).map((a) => a.text.replace(/<\/?b>/g, ''));
    assert.equal(tags[0], 'loss');
    assert.ok(tags.includes('mean_prediction'), `tags: ${tags}`);
    assert.ok(tags.includes('mae'), `tags: ${tags}`);
    const lossTrain = f.data.find((t) => t.xaxis === 'x' && t.name === 'train');
    const lossEval = f.data.find((t) => t.xaxis === 'x' && t.name === 'eval');
    assert.ok(lossTrain && lossEval, 'loss has both a train and an eval curve');
    assert.ok(lossTrain.x.length >= 4, `train loss at several summary steps: ${lossTrain.x}`);
    assert.deepEqual(lossEval.x, [20, 40]);
    assert.ok(lossEval.y[1] < lossEval.y[0], 'eval loss fell between the two evaluations');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('display.histograms', () => {
  test('a histogram tag over steps: a heatmap whose rows follow the distribution as it moves', async () => {
    const dir = tmp();
    const w = new EventFileWriter(dir);
    const samples = [normal(2000, 0, 1), normal(2000, 2, 2), normal(2000, 4, 3)];
    samples.forEach((s, i) => w.addSummary(i * 100, [{ tag: 'dense/kernel', histo: histogramOf(s) }]));
    w.close();
    const b = await display.histograms(dir, 'dense/kernel', { bins: 40 });
    const f = figure(b);
    assert.equal(f.data.length, 1);
    assert.equal(f.data[0].type, 'heatmap');
    assert.deepEqual(f.data[0].y, [0, 100, 200]);
    const z = f.data[0].z as number[][];
    const x = f.data[0].x;
    assert.equal(z.length, 3);
    z.forEach((row) => assert.ok(Math.abs(row.reduce((a, v) => a + v, 0) - 2000) < 1e-6, 'every value is counted once'));
    const peak = (row: number[]): number => x[row.indexOf(Math.max(...row))];
    z.forEach((row, i) => assert.ok(Math.abs(peak(row) - 2 * i) < 0.6, `step ${i * 100} peaks near ${2 * i}: ${peak(row)}`));
    assert.match(b['text/plain'] as string, /Histograms of dense\/kernel in train: 3 steps \(0\.\.200\)/);
    const lines = figure(await display.histograms(dir, 'dense/kernel', { mode: 'lines' }));
    assert.deepEqual(
      lines.data.map((t) => t.name),
      ['step 0', 'step 100', 'step 200'],
    );
    await assert.rejects(display.histograms(dir, 'nope'), /no histogram tag 'nope' in .*; tags: dense\/kernel/);
    await assert.rejects(display.histograms(dir, 'dense/kernel', { run: 'eval' }), /no run 'eval' in .*; runs: train/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('re-binning keeps every count, clipping TensorBoard edge buckets to [min, max]', () => {
    const h = {
      step: 0,
      wallTime: 0,
      min: 0.5,
      max: 3.5,
      num: 4,
      sum: 0,
      sumSquares: 0,
      bucketLimit: [1, 2, Number.MAX_VALUE],
      bucket: [1, 2, 1],
    };
    const counts = rebin(h, [0, 1, 2, 3, 4]);
    // The last bucket (2, MAX] is really (2, 3.5]: two thirds of it in [2,3), one third in [3,4).
    assert.deepEqual(
      counts.map((c) => Math.round(c * 1000) / 1000),
      [1, 2, 0.667, 0.333],
    );
    const same = { ...h, min: 2, max: 2, bucketLimit: [2.2], bucket: [3] };
    assert.deepEqual(rebin(same, [0, 1, 2, 3]), [0, 0, 3]);
  });
});
