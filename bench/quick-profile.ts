import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { articleModelFn, mnistInputFn } from './article-cnn';
import { profileKernels } from '../src/backend/profile';
import * as fs from 'fs'; import * as os from 'os'; import * as path from 'path';
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quick-'));
  const est = new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 0 } });
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: 3 });
  const prof = profileKernels();
  const t0 = Date.now();
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: 10 });
  const total = Date.now() - t0;
  const rows = prof.rows();
  const kernelMs = rows.reduce((a, r) => a + r.ms, 0);
  console.log(`10 steps: ${total} ms total, ${kernelMs.toFixed(0)} ms in kernels`);
  for (const r of rows.slice(0, 25)) console.log(`${r.kernel.padEnd(32)} ${String(r.calls / 10).padStart(6)}/step ${(r.ms / 10).toFixed(2).padStart(8)} ms/step`);
})();
