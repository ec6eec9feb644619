// Evaluate and predict against training, interleaved in one process (this machine's speed
// swings by 2x between runs, so only figures taken side by side compare): rounds of train()
// 300 steps at batch 64, evaluate() and predict() over the 10,000 test images at batch 500;
// prints each round's images/s and the ratios of the medians.
//   node dist/bench/inference-ratio.js [rounds=5]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { initBackend } from '../src/backend/select';
import { articleModelFn, mnistInputFn } from './article-cnn';
(async () => {
  setQuiet(true);
  await initBackend(process.env.TFJS_ESTIMATOR_BACKEND);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ratio-'));
  const est = new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 0, saveSummarySteps: 0, saveCheckpointsSteps: 1e6 } });
  await est.train(mnistInputFn(ModeKeys.TRAIN, 64, 3), { steps: 300 });
  await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
  const r: Record<string, number[]> = { train: [], evaluate: [], predict: [] };
  const sec = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
  for (let i = 0; i < Number(process.argv[2] ?? 5); i++) {
    let t0 = process.hrtime.bigint();
    await est.train(mnistInputFn(ModeKeys.TRAIN, 64, i), { steps: 300 });
    r.train.push((300 * 64) / sec(t0));
    t0 = process.hrtime.bigint();
    await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
    r.evaluate.push(10000 / sec(t0));
    t0 = process.hrtime.bigint();
    for await (const p of est.predict(mnistInputFn(ModeKeys.PREDICT, 500))) void p;
    r.predict.push(10000 / sec(t0));
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map(Math.round)]))));
  console.log(
    'median train',
    Math.round(med(r.train)),
    'eval/train',
    (med(r.evaluate) / med(r.train)).toFixed(2),
    'predict/train',
    (med(r.predict) / med(r.train)).toFixed(2),
  );
})();
