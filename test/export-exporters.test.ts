import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Estimator, EvalResults } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import { trainAndEvaluate } from '../src/estimator/train-and-evaluate';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as metrics from '../src/estimator/metrics';
import { setQuiet } from '../src/host/log';
import { BestExporter, FinalExporter, LatestExporter, listExports } from '../src/estimator/export';
import { linearDataset, tmpDir } from './helpers/tmp';
import * as summary from '../src/estimator/summary';

setQuiet(true);

const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  const pred = layers.dense(layers.dense(x, 4, { activation: 'tanh', name: 'hidden' }), 1, { name: 'head' });
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: { value: pred } });
  const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
  if (mode === ModeKeys.EVAL) return new EstimatorSpec({ mode, loss, evalMetricOps: { mae: metrics.meanAbsoluteError(y!, pred) } });
  return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
};
const serving = () => ({ features: tf.zeros([1, 3]) });
const stepOf = (dir: string): number =>
  JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).userDefinedMetadata.tfjsEstimator.globalStep;

test('trainAndEvaluate with a LatestExporter keeps the newest exportsToKeep exports under modelDir/export/<name>', async () => {
  const est = new Estimator(modelFn, tmpDir('exporters-'), { config: { saveCheckpointsSteps: 2, randomSeed: 1 } });
  const latest = new LatestExporter('latest', serving, { exportsToKeep: 2 });
  const r = await trainAndEvaluate(
    est,
    { inputFn: () => linearDataset(64).repeat(), maxSteps: 8 },
    { inputFn: () => linearDataset(32), throttleSecs: 0, exporters: [latest] },
  );
  assert.deepEqual(
    r.history.map((m) => m.globalStep),
    [2, 4, 6, 8],
  );
  const kept = listExports(path.join(est.modelDir, 'export', 'latest'));
  assert.deepEqual(kept.map(stepOf), [6, 8], 'the two newest of four exports');
  assert.deepEqual(
    fs.readdirSync(path.join(est.modelDir, 'export', 'latest')).sort(),
    kept.map((k) => path.basename(k)).sort(),
    'nothing else in the folder',
  );
  assert.deepEqual(r.exportResults, [kept[1]]);
});

test('FinalExporter exports only the final evaluation', async () => {
  const est = new Estimator(modelFn, tmpDir('final-'));
  await est.train(() => linearDataset(32), { steps: 2 });
  const ckpt = est.latestCheckpoint() as string;
  const exportPath = path.join(est.modelDir, 'export', 'final');
  const final = new FinalExporter('final', serving);
  const r = { loss: 1, globalStep: 2 } as EvalResults;
  assert.equal(await final.export(est, exportPath, ckpt, r, false), undefined);
  const dir = await final.export(est, exportPath, ckpt, r, true);
  assert.deepEqual(listExports(exportPath), [dir]);
});

test('trainAndEvaluate gives FinalExporter its final call, when maxSteps is reached and when the input ends', async () => {
  // maxSteps 6 with saves every 3: the save at step 6 triggers the last evaluation, which is final.
  const est = new Estimator(modelFn, tmpDir('final-tae-'), { config: { saveCheckpointsSteps: 3, randomSeed: 4 } });
  const final = new FinalExporter('final', serving);
  const r = await trainAndEvaluate(
    est,
    { inputFn: () => linearDataset(64).repeat(), maxSteps: 6 },
    { inputFn: () => linearDataset(32), throttleSecs: 0, exporters: [final] },
  );
  assert.deepEqual(
    r.history.map((m) => m.globalStep),
    [3, 6],
  );
  const exported = listExports(path.join(est.modelDir, 'export', 'final'));
  assert.deepEqual(exported.map(stepOf), [6], 'exactly one export, of the last step');
  assert.deepEqual(r.exportResults, exported);

  // No maxSteps: training ends with the input (5 batches); the final export still happens once.
  const est2 = new Estimator(modelFn, tmpDir('final-tae-end-'), { config: { saveCheckpointsSteps: 5, randomSeed: 4 } });
  const r2 = await trainAndEvaluate(
    est2,
    { inputFn: () => linearDataset(64).take(5) },
    { inputFn: () => linearDataset(32), throttleSecs: 0, exporters: [new FinalExporter('final', serving)] },
  );
  assert.equal(r2.metrics.globalStep, 5);
  assert.deepEqual(listExports(path.join(est2.modelDir, 'export', 'final')).map(stepOf), [5]);
});

test('trainAndEvaluate writes each evaluation into modelDir/eval at its global step', async () => {
  const est = new Estimator(modelFn, tmpDir('tae-summaries-'), { config: { saveCheckpointsSteps: 4, saveSummarySteps: 2, randomSeed: 5 } });
  const r = await trainAndEvaluate(
    est,
    { inputFn: () => linearDataset(64).repeat(), maxSteps: 10 },
    { inputFn: () => linearDataset(32), throttleSecs: 0 },
  );
  assert.deepEqual(
    r.history.map((m) => m.globalStep),
    [4, 8, 10],
  );
  const evalScalars = await summary.readScalars(path.join(est.modelDir, 'eval'));
  assert.deepEqual(
    evalScalars.get('loss')?.map((p) => p.step),
    [4, 8, 10],
  );
  assert.deepEqual(
    evalScalars.get('mae')?.map((p) => p.step),
    [4, 8, 10],
  );
  for (const [i, m] of r.history.entries()) assert.ok(Math.abs(evalScalars.get('mae')![i].value - m.mae) < 1e-6);
  // Training summaries: the loss every saveSummarySteps, from the first step of the run.
  const trainScalars = await summary.readScalars(est.modelDir);
  assert.deepEqual(
    trainScalars.get('loss')?.map((p) => p.step),
    [1, 3, 5, 7, 9],
  );
});

test('BestExporter exports only when the evaluation improves, by loss or by a compareFn', async () => {
  const est = new Estimator(modelFn, tmpDir('best-'), { config: { randomSeed: 2 } });
  await est.train(() => linearDataset(32), { steps: 2 });
  const ckpt = est.latestCheckpoint() as string;
  const exportPath = path.join(est.modelDir, 'export', 'best');
  const result = (loss: number, step: number, extra: Record<string, number> = {}) => ({ loss, globalStep: step, ...extra }) as EvalResults;

  const best = new BestExporter('best', serving, { exportsToKeep: 2, eventDir: null });
  assert.ok(await best.export(est, exportPath, ckpt, result(1.0, 10), false), 'the first evaluation is the best so far');
  assert.equal(await best.export(est, exportPath, ckpt, result(2.0, 20), false), undefined, 'worse: no export');
  assert.equal(await best.export(est, exportPath, ckpt, result(1.0, 30), false), undefined, 'equal: no export');
  assert.ok(await best.export(est, exportPath, ckpt, result(0.5, 40), false));
  assert.ok(await best.export(est, exportPath, ckpt, result(0.25, 50), false));
  assert.equal(listExports(exportPath).length, 2, 'exportsToKeep applies to best exports too');
  assert.equal(best.bestEvalResult?.globalStep, 50);

  const byMae = new BestExporter('by_mae', serving, { compareFn: (b, c) => c.mae < b.mae, eventDir: null });
  const maePath = path.join(est.modelDir, 'export', 'by_mae');
  assert.ok(await byMae.export(est, maePath, ckpt, result(9, 1, { mae: 0.5 }), false));
  assert.equal(await byMae.export(est, maePath, ckpt, result(0.1, 2, { mae: 0.6 }), false), undefined, 'lower loss but higher mae');
  assert.ok(await byMae.export(est, maePath, ckpt, result(9, 3, { mae: 0.4 }), false));
  assert.equal(listExports(maePath).length, 2);
});

test('a new BestExporter on an existing modelDir starts from the best evaluation in its eval event files', async () => {
  const est = new Estimator(modelFn, tmpDir('best-history-'), { config: { randomSeed: 3 } });
  await est.train(() => linearDataset(64).repeat(), { steps: 30 });
  const earlier = await est.evaluate(() => linearDataset(32));
  await est.train(() => linearDataset(64).repeat(), { steps: 1 });
  const ckpt = est.latestCheckpoint() as string;
  const exportPath = path.join(est.modelDir, 'export', 'best');
  const exporter = new BestExporter('best', serving);
  const worse = { ...earlier, loss: earlier.loss + 1, globalStep: earlier.globalStep + 1 } as EvalResults;
  assert.equal(await exporter.export(est, exportPath, ckpt, worse, false), undefined, 'worse than the evaluation on disk');
  assert.equal(exporter.bestEvalResult?.globalStep, earlier.globalStep);
  assert.ok(Math.abs((exporter.bestEvalResult?.loss ?? NaN) - earlier.loss) < 1e-6);
  const better = { ...earlier, loss: earlier.loss / 2, globalStep: earlier.globalStep + 1 } as EvalResults;
  assert.ok(await exporter.export(est, exportPath, ckpt, better, false));
  assert.equal(listExports(exportPath).length, 1);
});

test('exporter arguments are checked', () => {
  assert.throws(() => new LatestExporter('', serving), /name must be a non-empty folder name/);
  assert.throws(() => new LatestExporter('a/b', serving), /folder name/);
  assert.throws(() => new LatestExporter('ok', serving, { exportsToKeep: 0 }), /exportsToKeep must be a positive integer or null/);
  assert.throws(() => new BestExporter('ok', 'nope' as never), /servingInputFn must be a function/);
});
