import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { articleModelFn, mnistInputFn } from './article-cnn';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quick-'));
  const est = new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 50, backend: process.env.B } });
  const steps = Number(process.env.STEPS ?? 100);
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: 10 });
  const t0 = Date.now();
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps });
  const s = (Date.now() - t0) / 1000;
  console.log(
    `backend ${tf.getBackend()}: ${steps} steps in ${s.toFixed(2)} s = ${((steps * 64) / s).toFixed(0)} img/s; tensors ${tf.memory().numTensors}`,
  );
  console.log(await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500)));
})();
