// Step replay on and off, interleaved in one process (this machine's speed swings by 2x between
// runs, so only figures taken side by side compare): training images/s of the article's CNN,
// batch 64, over rounds of train() calls that alternate replaySteps true and false.
//   node dist/bench/replay-ab.js [steps per call=300] [rounds=6]
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-ab-'));
  const steps = Number(process.argv[2] ?? 300);
  const mk = (replaySteps: boolean) =>
    new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 0, saveSummarySteps: 0, saveCheckpointsSteps: 1e6, replaySteps } });
  await mk(true).train(mnistInputFn(ModeKeys.TRAIN, 64, 3), { steps: 300 });
  const res: Record<string, number[]> = { on: [], off: [] };
  for (let r = 0; r < Number(process.argv[3] ?? 6); r++) {
    for (const mode of r % 2 ? ['off', 'on'] : ['on', 'off']) {
      const t0 = process.hrtime.bigint();
      await mk(mode === 'on').train(mnistInputFn(ModeKeys.TRAIN, 64, r), { steps });
      res[mode].push((steps * 64) / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(
    JSON.stringify({
      on: res.on.map(Math.round),
      off: res.off.map(Math.round),
      medOn: Math.round(med(res.on)),
      medOff: Math.round(med(res.off)),
      ratio: (med(res.on) / med(res.off)).toFixed(3),
    }),
  );
})();
