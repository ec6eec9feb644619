// The portable fallback: tfjs-backend-wasm plus the training kernels it lacks. Each added or
// replaced kernel against the cpu backend; the article's CNN trains on wasm to the same losses
// as on cpu; no tensor leak; and Estimator.train runs on real MNIST with RunConfig.backend 'wasm'.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { registerWasmBackend } from '../src/backend/wasm';
import { CPU_BRIDGED_KERNELS } from '../src/backend/wasm/kernels';
import { Estimator } from '../src/estimator/estimator';
import { ModeKeys } from '../src/estimator/spec';
import { setQuiet } from '../src/host/log';
import { makeCnn, disposeCnn, trainStep, syntheticBatch } from '../bench/cnn-step';
import { articleModelFn, mnistInputFn } from '../bench/article-cnn';
import { Spec, Outputs, assertCnnTrainsAsOnCpu, assertSameLosses, sameAsCpu, weighted } from './helpers/backend-compare';

const same = (name: string, specs: Spec[], fn: (...xs: tf.Tensor[]) => Outputs, tol = 1e-4): Promise<void> =>
  sameAsCpu('wasm', name, specs, fn, tol);

before(async () => {
  const why = await registerWasmBackend();
  assert.equal(why, undefined, `the wasm backend did not start: ${why}`);
});

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
const convCases: { n: number; h: number; w: number; ci: number; co: number; k: [number, number]; s: [number, number]; pad: Pad }[] = [
  { n: 1, h: 7, w: 9, ci: 3, co: 5, k: [3, 3], s: [1, 1], pad: 'same' },
  { n: 64, h: 10, w: 10, ci: 4, co: 8, k: [3, 3], s: [1, 1], pad: 'valid' },
  { n: 2, h: 11, w: 8, ci: 4, co: 6, k: [3, 2], s: [2, 2], pad: 'same' },
  { n: 3, h: 13, w: 13, ci: 2, co: 3, k: [3, 3], s: [2, 1], pad: 'valid' },
  { n: 4, h: 14, w: 15, ci: 5, co: 7, k: [5, 5], s: [2, 2], pad: 'valid' }, // last rows unread: cropped
  { n: 2, h: 9, w: 9, ci: 1, co: 32, k: [3, 3], s: [1, 1], pad: 'valid' },
  {
    n: 2,
    h: 8,
    w: 7,
    ci: 3,
    co: 4,
    k: [3, 3],
    s: [1, 1],
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { n: 2, h: 8, w: 8, ci: 2, co: 3, k: [2, 4], s: [1, 1], pad: 'same' },
];

for (const c of convCases) {
  const label = `n${c.n} ${c.h}x${c.w}x${c.ci}->${c.co} k${c.k} s${c.s} ${JSON.stringify(c.pad)}`;
  test(`conv2d gradients on wasm equal cpu's: ${label}`, async () => {
    const specs: Spec[] = [{ shape: [c.n, c.h, c.w, c.ci] }, { shape: [...c.k, c.ci, c.co] }];
    await same(`grads ${label}`, specs, (x, f) =>
      tf.grads((a: tf.Tensor, w: tf.Tensor) => weighted(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad)))([x, f]),
    );
  });
}

test("depthwise convolution gradients and UnsortedSegmentSum (gather gradient) on wasm equal cpu's", async () => {
  assert.deepEqual(
    CPU_BRIDGED_KERNELS.filter((k) => !tf.getKernel(k, 'wasm')),
    [],
    'every bridged kernel is registered',
  );
  await same('depthwise grads', [{ shape: [2, 9, 8, 3] }, { shape: [3, 3, 3, 2] }], (x, f) =>
    tf.grads((a: tf.Tensor, w: tf.Tensor) => weighted(tf.depthwiseConv2d(a as tf.Tensor4D, w as tf.Tensor4D, 2, 'same')))([x, f]),
  );
  await same('gather grad', [{ shape: [10, 4] }, { shape: [7], dtype: 'int32', lo: 0, hi: 10 }], (table, idx) =>
    tf.grad((t: tf.Tensor) => weighted(tf.gather(t, idx)))(table),
  );
  await same('unsortedSegmentSum', [{ shape: [6, 3] }, { shape: [6], dtype: 'int32', lo: 0, hi: 4 }], (x, ids) =>
    tf.unsortedSegmentSum(x, ids as tf.Tensor1D, 4),
  );
});

test("Tile and MaxPoolGrad (ties after a ReLU) on wasm equal cpu's", async () => {
  await same('tile', [{ shape: [1, 1, 1, 5] }, { shape: [3, 1, 4] }, { shape: [2, 3] }, { shape: [7] }], (a, b, c, d) => [
    tf.tile(a, [6, 4, 3, 1]),
    tf.tile(b, [2, 5, 1]),
    tf.tile(c, [3, 2]),
    tf.tile(d, [4]),
    tf.tile(a, [1, 1, 1, 1]),
  ]);
  await same('tile int32', [{ shape: [2, 3], dtype: 'int32', lo: -5, hi: 5 }], (a) => tf.tile(a, [2, 3]));
  for (const [size, stride, pad] of [
    [3, 2, 'valid'],
    [2, 2, 'same'],
    [3, 1, 'same'],
    [3, 2, 'same'],
  ] as const) {
    // ReLU then pool: many windows with several zeros tied for the maximum.
    await same(`maxPool grad ${size}/${stride} ${pad}`, [{ shape: [3, 11, 10, 5] }], (a) =>
      tf.grad((t: tf.Tensor) => weighted(tf.maxPool(tf.relu(t) as tf.Tensor4D, size, stride, pad)))(a),
    );
  }
});

test("the article's CNN trains to the same losses on wasm as on cpu from the same seed", async () => {
  await assertCnnTrainsAsOnCpu('wasm');
});

test('training on wasm leaks no tensors and no wasm memory', async () => {
  await tf.setBackend('wasm');
  const model = makeCnn(4);
  const { images, labels } = syntheticBatch(16, 5);
  for (let i = 0; i < 3; i++) trainStep(model, images, labels);
  const tensors = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  for (let i = 0; i < 20; i++) trainStep(model, images, labels);
  assert.equal(tf.memory().numTensors, tensors, 'tf.memory().numTensors is flat from step 3 to step 23');
  assert.equal(tf.backend().numDataIds(), dataIds, 'the wasm backend holds as many buffers after step 23 as after step 3');
  tf.dispose([images, labels]);
  disposeCnn(model);
});

test('Estimator.train runs on wasm (RunConfig.backend) with real MNIST', async () => {
  setQuiet(true);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-est-'));
  try {
    const est = new Estimator(articleModelFn, dir, { config: { backend: 'wasm', logStepCountSteps: 0 }, params: { learningRate: 0.01 } });
    await est.train(mnistInputFn(ModeKeys.TRAIN, 32, 1), { steps: 6 });
    assert.equal(tf.getBackend(), 'wasm');
    const m = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 500), { steps: 1 });
    assert.equal(m.globalStep, 6);
    assert.ok(Number.isFinite(m.loss), `a finite eval loss (${m.loss})`);
  } finally {
    setQuiet(false);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('with OMP_NUM_THREADS=2 the threaded wasm build runs the CNN on two threads, gets the same losses, and lets the process exit', () => {
  const script = `
    const tf = require('@tensorflow/tfjs');
    const { registerWasmBackend, wasmThreads } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'backend', 'wasm'))});
    const { cnnLosses } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'backend-compare'))});
    (async () => {
      const why = await registerWasmBackend();
      const wasm = await cnnLosses('wasm', 3, 4);
      const cpu = await cnnLosses('cpu', 3, 4);
      console.log(JSON.stringify({ why: why ?? null, threads: wasmThreads(), wasm, cpu }));
    })();`;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: path.join(__dirname, '..', '..'),
    env: { ...process.env, OMP_NUM_THREADS: '2' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `the process ended by itself (signal ${r.signal}): ${r.stderr.slice(-500)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { why: string | null; threads: number; wasm: number[]; cpu: number[] };
  assert.equal(out.why, null);
  assert.equal(out.threads, 2, 'two threads in the pool');
  assertSameLosses('threaded wasm', out.wasm, out.cpu);
  assert.ok(Date.now() - started < 120_000);
});

test('when the threaded build cannot start, the single-threaded one runs and the process still exits', () => {
  // The first WebAssembly.instantiate (the threaded build's) fails, as on a platform without it.
  const script = `
    const instantiate = WebAssembly.instantiate;
    let first = true;
    WebAssembly.instantiate = function (...a) { if (first) { first = false; return Promise.reject(new Error('no threads here')); } return instantiate.apply(this, a); };
    const tf = require('@tensorflow/tfjs');
    const { registerWasmBackend, wasmThreads } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'backend', 'wasm'))});
    (async () => {
      const why = await registerWasmBackend();
      const y = tf.conv2d(tf.ones([1, 5, 5, 1]), tf.ones([3, 3, 1, 1]), 1, 'valid');
      console.log(JSON.stringify({ why: why ?? null, threads: wasmThreads(), backend: tf.getBackend(), sum: y.sum().dataSync()[0] }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: path.join(__dirname, '..', '..'),
    env: { ...process.env, OMP_NUM_THREADS: '2' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `the process ended by itself (signal ${r.signal}): ${r.stderr.slice(-500)}`);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { why: null, threads: 1, backend: 'wasm', sum: 81 });
});
