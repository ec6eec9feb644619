// evaluate() with the inference convolution -> batch norm -> relu -> pooling chain in chunks
// (conv-pool-chunks.ts) on and off, interleaved in one process (this machine's speed swings by
// 2x between runs): images/s of the article's CNN over the 10,000 test images at batch 500.
//   node dist/bench/conv-pool-chunks-ab.js [rounds=10]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { initBackend } from '../src/backend/select';
import { convPoolChunking } from '../src/backend/native/ops/conv-pool-chunks';
import { articleModelFn, mnistInputFn } from './article-cnn';
(async () => {
  setQuiet(true);
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conv-pool-chunks-ab-'));
  const est = new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 0, saveSummarySteps: 0 } });
  await est.train(mnistInputFn(ModeKeys.TRAIN, 64, 3), { steps: 30 });
  await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
  const r: Record<string, number[]> = { on: [], off: [] };
  const acc: Record<string, number> = {};
  for (let i = 0; i < Number(process.argv[2] ?? 10); i++) {
    for (const mode of i % 2 ? ['off', 'on'] : ['on', 'off']) {
      convPoolChunking(mode === 'on');
      const t0 = process.hrtime.bigint();
      const m = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
      r[mode].push(10000 / (Number(process.hrtime.bigint() - t0) / 1e9));
      acc[mode] = m.accuracy;
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(JSON.stringify({ on: r.on.map(Math.round), off: r.off.map(Math.round), acc }));
  console.log('median on', Math.round(med(r.on)), 'off', Math.round(med(r.off)), 'ratio', (med(r.on) / med(r.off)).toFixed(3));
})();
