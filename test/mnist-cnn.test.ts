import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import type { SessionRunHook } from '../src/estimator/hooks/hook';
import { setQuiet } from '../src/host/log';
import { articleModelFn, mnistInputFn } from '../bench/article-cnn';
import { tmpDir } from './helpers/tmp';

setQuiet(true);

test("the article's CNN learns MNIST in a few hundred steps, resumes in a new Estimator, and leaks no tensors", async () => {
  const dir = tmpDir('mnist-');
  const counts: Record<number, number> = {};
  const probe: SessionRunHook = {
    afterRun: (ctx) => void ([100, 300].includes(ctx.globalStep) && (counts[ctx.globalStep] = tf.memory().numTensors)),
  };
  const est = new Estimator(articleModelFn, dir, {
    config: { randomSeed: 1, backend: 'native' },
    params: { learningRate: 2e-3, bnMomentum: 0.9 },
  });
  await est.train(mnistInputFn(ModeKeys.TRAIN, 64, 1), { steps: 300, hooks: [probe] });
  assert.equal(counts[300], counts[100], 'tf.memory().numTensors is flat from step 100 to 300');
  const m = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 1000));
  assert.equal(m.globalStep, 300);
  console.log(`# MNIST test accuracy after 300 steps: ${m.accuracy}`);
  // Momentum 0.9: the moving averages have converged by step 300 (0.99 needs ~1,000 steps).
  assert.ok(m.accuracy > 0.6 && m.accuracy <= 1, `test accuracy ${m.accuracy}`);
  const resumed = new Estimator(articleModelFn, dir, { config: { backend: 'native' }, params: { bnMomentum: 0.9 } });
  await resumed.train(mnistInputFn(ModeKeys.TRAIN, 64, 2), { steps: 20 });
  const m2 = await resumed.evaluate(mnistInputFn(ModeKeys.EVAL, 1000), { steps: 2 });
  assert.equal(m2.globalStep, 320);
  const preds: Array<Record<string, unknown>> = [];
  for await (const p of resumed.predict(mnistInputFn(ModeKeys.PREDICT, 100), { yieldSingleExamples: true })) {
    preds.push(p as Record<string, unknown>);
    if (preds.length === 200) break;
  }
  assert.equal(preds.length, 200);
  assert.equal((preds[0].probabilities as Float32Array).length, 10);
  assert.equal(typeof preds[0].classes, 'number');
});

test('a few steps of the CNN give the same losses on the native and the cpu backend from the same seed', async () => {
  const losses = async (backend: string) => {
    const out: number[] = [];
    const rec: SessionRunHook = {
      beforeRun: () => ({ fetches: { loss: 'loss' } }),
      afterRun: (_c, v) => void out.push(v.results.loss as number),
    };
    const est = new Estimator(articleModelFn, tmpDir(), { config: { randomSeed: 3, backend } });
    await est.train(mnistInputFn(ModeKeys.TRAIN, 4, 5), { steps: 3, hooks: [rec] });
    return out;
  };
  const native = await losses('native');
  const cpu = await losses('cpu');
  native.forEach((l, i) => assert.ok(Math.abs(l - cpu[i]) < 1e-3, `step ${i + 1}: native ${l} vs cpu ${cpu[i]}`));
});
