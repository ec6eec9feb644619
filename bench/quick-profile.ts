// Where one training step of the article's CNN goes, per kernel, through Estimator.train.
//   node dist/bench/quick-profile.js [steps=40]        (OMP_NUM_THREADS=n to set threads)
// On a shared machine wall times swing with the load, so every kernel call is timed on its
// own and reported as the median and the minimum over the steps (per kernel and input shape,
// summed per step): the minimum is close to what the kernel costs on an idle machine. The
// step's own time (from beforeRun to afterRun of a hook) is reported the same way; what it
// has beyond the kernels is the work outside them (tape, allocation, bookkeeping, hooks),
// split by phase of the step (bench/step-phases.ts).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { initBackend } from '../src/backend/select';
import { articleModelFn, mnistInputFn } from './article-cnn';
import { stepPhases } from './step-phases';
import { lastReplayReport } from '../src/estimator/loop-replay';

const STEPS = Number(process.argv[2] ?? 40);

/** Wraps every kernel of the backend: durations of each call, keyed by kernel and first input shape. */
function timeKernels(backendName: string): { calls: Map<string, number[]>; total: () => number; stop(): void } {
  const calls = new Map<string, number[]>();
  let total = 0;
  const originals = tf.getKernelsForBackend(backendName);
  for (const kc of originals) {
    const fn = kc.kernelFunc;
    tf.unregisterKernel(kc.kernelName, backendName);
    tf.registerKernel({
      ...kc,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = process.hrtime.bigint();
        const r = fn(args);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        total += ms;
        const first = Object.values(args.inputs)[0] as tf.TensorInfo | undefined;
        const key = `${kc.kernelName} [${first?.shape ?? ''}]`;
        const list = calls.get(key) ?? [];
        list.push(ms);
        calls.set(key, list);
        return r;
      }) as tf.KernelFunc,
    });
  }
  return {
    calls,
    total: () => total,
    stop: () => {
      for (const kc of originals) {
        tf.unregisterKernel(kc.kernelName, backendName);
        tf.registerKernel(kc);
      }
    },
  };
}

const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
const median = (a: number[]) => sorted(a)[a.length >> 1];

(async () => {
  setQuiet(true);
  const report = await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quick-'));
  let kernelClock = () => 0;
  const phases = stepPhases(() => kernelClock());
  const est = new Estimator(phases.wrap(articleModelFn), dir, {
    config: { logStepCountSteps: 0, saveSummarySteps: 0, saveCheckpointsSteps: 1_000_000 },
  });
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: 5 });
  const prof = timeKernels(tf.getBackend());
  kernelClock = prof.total;
  const stepMs: number[] = [];
  const outsideMs: number[] = [];
  let t0 = 0n;
  let k0 = 0;
  const timer = {
    beforeRun: () => {
      t0 = process.hrtime.bigint();
      k0 = prof.total();
    },
    afterRun: () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      stepMs.push(ms);
      outsideMs.push(ms - (prof.total() - k0));
    },
  };
  await est.train(mnistInputFn(ModeKeys.TRAIN), { steps: STEPS, hooks: [phases.first, timer, phases.last] });
  prof.stop();

  // Per kernel name: calls per step, and per step the sum over its shapes of each shape's median (min) per call.
  const rows = new Map<string, { calls: number; med: number; min: number }>();
  for (const [key, list] of prof.calls) {
    const name = key.slice(0, key.indexOf(' ['));
    const perStep = list.length / STEPS;
    const r = rows.get(name) ?? { calls: 0, med: 0, min: 0 };
    r.calls += perStep;
    r.med += median(list) * perStep;
    r.min += sorted(list)[0] * perStep;
    rows.set(name, r);
  }
  const table = [...rows].sort((a, b) => b[1].min - a[1].min);
  const kMed = table.reduce((a, [, r]) => a + r.med, 0);
  const kMin = table.reduce((a, [, r]) => a + r.min, 0);
  const sMed = median(stepMs);
  const sMin = sorted(stepMs)[0];
  const replay = lastReplayReport();
  console.log(
    `${report.name}, ${report.threads} threads, ${STEPS} steps (${replay.replayedSteps} replayed without modelFn` +
      `${replay.reason ? `; ${replay.reason}` : ''}; TFJS_ESTIMATOR_REPLAY=0 turns it off)`,
  );
  console.log(
    `step: median ${sMed.toFixed(2)} ms, min ${sMin.toFixed(2)} ms; in kernels: median ${kMed.toFixed(2)}, min ${kMin.toFixed(2)} ms`,
  );
  console.log(
    `outside kernels (step minus its kernels): median ${median(outsideMs).toFixed(2)} ms, min ${sorted(outsideMs)[0].toFixed(2)} ms`,
  );
  console.log(
    'outside kernels by phase (median ms/step): ' +
      phases
        .report()
        .map((r) => `${r.phase} ${r.outsideMs.toFixed(2)}`)
        .join(', '),
  );
  console.log(`${'kernel'.padEnd(34)} calls/step  median ms/step  min ms/step`);
  for (const [name, r] of table.slice(0, 24)) {
    console.log(`${name.padEnd(34)} ${r.calls.toFixed(1).padStart(10)} ${r.med.toFixed(3).padStart(15)} ${r.min.toFixed(3).padStart(12)}`);
  }
})();
