// Runs the same computation on tfjs's cpu backend and on another backend, with the same
// deterministic inputs, and asserts every output agrees to a tolerance relative to the
// largest value. Shared by the native and wasm kernel tests.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { makeCnn, disposeCnn, trainStep, syntheticBatch } from '../../bench/cnn-step';

export type Spec = { shape: number[]; dtype?: 'float32' | 'int32'; lo?: number; hi?: number };
export type Outputs = tf.Tensor | tf.Tensor[];

/** Deterministic values in [lo, hi) (mulberry32), the same on every backend. */
export function values(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

let seed = 1;

/** Runs fn on cpu and on `backend` with the same inputs; every output within tol of cpu's. */
export async function sameAsCpu(
  backend: string,
  name: string,
  specs: Spec[],
  fn: (...xs: tf.Tensor[]) => Outputs,
  tol = 1e-4,
): Promise<void> {
  const data = specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = values(n, seed++, s.lo ?? -1, s.hi ?? 1);
    return s.dtype === 'int32' ? Int32Array.from(v, Math.floor) : v;
  });
  const run = async (on: string) => {
    await tf.setBackend(on);
    return tf.tidy(() => {
      const xs = specs.map((s, i) => tf.tensor(data[i], s.shape, s.dtype ?? 'float32'));
      const r = fn(...xs);
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, data: t.dataSync().slice() }));
    });
  };
  const want = await run('cpu');
  const got = await run(backend);
  assert.equal(got.length, want.length, `${name}: number of outputs`);
  got.forEach((g, k) => {
    assert.deepEqual(g.shape, want[k].shape, `${name}: output ${k} shape`);
    let scale = 1e-6;
    for (const v of want[k].data) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    g.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[k].data[i]) / scale)));
    assert.ok(
      worst <= tol,
      `${name}: output ${k} on ${backend} differs from cpu by ${worst.toExponential(2)} of max |value| ${scale.toPrecision(3)}`,
    );
  });
}

/** sum(t * r) for a fixed random r, so the gradient flowing into t is not all ones. */
export function weighted(t: tf.Tensor): tf.Scalar {
  const r = tf.tensor(values(t.size, 999, -1, 1), t.shape);
  return tf.sum(tf.mul(t, r));
}

/** The article's CNN trained on one synthetic batch for `steps` steps on `backend`: the losses. */
export async function cnnLosses(backend: string, steps: number, batch: number): Promise<number[]> {
  await tf.setBackend(backend);
  const model = makeCnn(3);
  // One batch again and again: the model memorises it, so the loss must fall.
  const { images, labels } = syntheticBatch(batch, 100);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(trainStep(model, images, labels, { learningRate: 0.01 }));
  tf.dispose([images, labels]);
  disposeCnn(model);
  return out;
}

/** Three steps of the CNN on cpu and on `backend` from the same seed: the same losses to 1e-3. */
export async function assertCnnTrainsAsOnCpu(backend: string): Promise<void> {
  // Batch 4 keeps the cpu backend's naive Conv2DBackpropFilter affordable.
  const cpu = await cnnLosses('cpu', 3, 4);
  const other = await cnnLosses(backend, 3, 4);
  assertSameLosses(backend, other, cpu);
  assert.ok(cpu[2] < cpu[0], `the loss falls (${cpu})`);
}

export function assertSameLosses(backend: string, got: number[], cpu: number[]): void {
  cpu.forEach((l, i) =>
    assert.ok(Math.abs(got[i] - l) <= 1e-3 * Math.max(1, Math.abs(l)), `step ${i + 1}: ${backend} loss ${got[i]} vs cpu ${l}`),
  );
}
