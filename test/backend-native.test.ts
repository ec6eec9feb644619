import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { registerNativeBackend } from '../src/backend/native';
import { batchNormTraining, adamUpdate } from '../src/backend/custom-kernels';

// Runs fn on the cpu backend and on native with the same inputs; compares to 1e-4 relative.
async function compare(name: string, make: () => tf.Tensor[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], tol = 1e-4): Promise<void> {
  const inputs = make().map((t) => t.arraySync());
  const dtypes = make().map((t) => t.dtype);
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const xs = inputs.map((v, i) => tf.tensor(v as number[], undefined, dtypes[i]));
      const r = fn(...xs);
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }));
    });
  };
  const want = await run('cpu');
  const got = await run('native');
  assert.equal(got.length, want.length);
  got.forEach((g, k) => {
    assert.deepEqual(g.shape, want[k].shape, `${name}: output ${k} shape`);
    let scale = 1e-6;
    for (const v of want[k].data) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    g.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[k].data[i]) / scale)));
    assert.ok(worst <= tol, `${name}: output ${k} differs by ${worst.toExponential(2)} (relative to max |value|)`);
  });
}

let seed = 1;
const rnd = (shape: number[]) => tf.randomUniform(shape, -1, 1, 'float32', seed++);

before(async () => {
  const r = registerNativeBackend();
  assert.ok(r.addon, `the native addon must be built for these tests (npm install builds it; needs libdnnl-dev): ${r.error}`);
});

describe('native kernels match the cpu backend', () => {
  const convCases: Array<{ n: number; h: number; w: number; ci: number; co: number; k: [number, number]; s: [number, number]; pad: 'same' | 'valid'; d: [number, number] }> = [
    { n: 1, h: 7, w: 9, ci: 3, co: 5, k: [3, 3], s: [1, 1], pad: 'same', d: [1, 1] },
    { n: 64, h: 12, w: 12, ci: 8, co: 16, k: [3, 3], s: [1, 1], pad: 'valid', d: [1, 1] },
    { n: 2, h: 11, w: 8, ci: 4, co: 6, k: [3, 2], s: [2, 2], pad: 'same', d: [1, 1] },
    { n: 3, h: 13, w: 13, ci: 2, co: 3, k: [3, 3], s: [2, 1], pad: 'valid', d: [1, 1] },
    { n: 2, h: 12, w: 12, ci: 3, co: 4, k: [3, 3], s: [1, 1], pad: 'same', d: [2, 2] },
  ];
  for (const c of convCases) {
    const label = `n${c.n} ${c.h}x${c.w}x${c.ci}->${c.co} k${c.k} s${c.s} ${c.pad} d${c.d}`;
    test(`conv2d forward, fused bias+relu, and both backprops: ${label}`, async () => {
      const x = () => rnd([c.n, c.h, c.w, c.ci]);
      const f = () => rnd([...c.k, c.ci, c.co]);
      const b = () => rnd([c.co]);
      await compare(`conv2d ${label}`, () => [x(), f()], (xx, ff) => tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d));
      await compare(`fused ${label}`, () => [x(), f(), b()], (xx, ff, bb) => tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ff as tf.Tensor4D, strides: c.s, pad: c.pad, dilations: c.d, bias: bb, activation: 'relu' }));
      if (c.d[0] === 1) {
        await compare(`grads ${label}`, () => [x(), f()], (xx, ff) => {
          const g = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad))));
          return g([xx, ff]);
        });
      }
    });
  }

  for (const [pool, size, stride, pad] of [[3, 3, 2, 'valid'], [2, 2, 2, 'same'], [3, 3, 1, 'same']] as const) {
    test(`max and average pooling with gradients: ${pool}x${size} stride ${stride} ${pad}`, async () => {
      for (const n of [1, 64]) {
        const x = () => rnd([n, 11, 10, 4]);
        for (const op of [tf.maxPool, tf.avgPool]) {
          await compare(`${op.name} n${n}`, () => [x()], (xx) => op(xx as tf.Tensor4D, [pool, size], stride, pad));
          await compare(`${op.name} grad n${n}`, () => [x()], (xx) => tf.grad((a: tf.Tensor) => { const y = op(a as tf.Tensor4D, [pool, size], stride, pad); return tf.sum(tf.mul(y, tf.randomUniform(y.shape, 0, 1, 'float32', 99))); })(xx));
        }
      }
    });
  }

  test('sum and mean over contiguous and scattered axes, relu and its gradient, mean gradient', async () => {
    const x = () => rnd([4, 5, 6, 7]);
    for (const axis of [[0, 1, 2], [1, 2], [3], [0, 2], undefined]) {
      await compare(`sum ${axis}`, () => [x()], (a) => tf.sum(a, axis));
      await compare(`mean keepDims ${axis}`, () => [x()], (a) => tf.mean(a, axis, true));
      await compare(`mean grad ${axis}`, () => [x()], (a) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, axis), 3)))(a));
    }
    await compare('relu + grad', () => [x()], (a) => [tf.relu(a), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), t)))(a)]);
  });
});

test('batch norm training kernel: statistics, output and gradients match tfjs composite ops', async () => {
  await initBackend('native');
  const x = rnd([8, 5, 5, 6]);
  const gamma = rnd([6]);
  const beta = rnd([6]);
  // Random per-element weights: with per-channel constants the true dx is exactly zero.
  const w = rnd([8, 5, 5, 6]);
  const loss = (useKernel: boolean) => (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    if (useKernel) return tf.sum(tf.mul(batchNormTraining(xx, g, b, 1e-3)[0], w));
    const { mean, variance } = tf.moments(xx, [0, 1, 2]);
    return tf.sum(tf.mul(tf.batchNorm(xx, mean, variance, b, g, 1e-3), w));
  };
  const [y, mean, variance] = batchNormTraining(x, gamma, beta, 1e-3);
  const m = tf.moments(x, [0, 1, 2]);
  const ref = tf.batchNorm(x, m.mean, m.variance, beta, gamma, 1e-3);
  const rel = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]);
  assert.ok(rel(y, ref) < 1e-4 && rel(mean, m.mean) < 1e-4 && rel(variance, m.variance) < 1e-4);
  const gk = tf.grads(loss(true))([x, gamma, beta]);
  const gr = tf.grads(loss(false))([x, gamma, beta]);
  gk.forEach((g, i) => assert.ok(rel(g, gr[i]) < 1e-4, `gradient ${i}: ${rel(g, gr[i])}`));
});

test('Adam update kernel equals the composed TF1 update', async () => {
  await initBackend('native');
  const [v, m, s, g] = [rnd([50]), rnd([50]), tf.abs(rnd([50])), rnd([50])];
  const [nv, nm, ns] = adamUpdate(v, m, s, g, 0.01, 0.9, 0.999, 1e-8);
  const em = tf.add(tf.mul(m, 0.9), tf.mul(g, 0.1));
  const es = tf.add(tf.mul(s, 0.999), tf.mul(tf.square(g), 0.001));
  const ev = tf.sub(v, tf.div(tf.mul(em, 0.01), tf.add(tf.sqrt(es), 1e-8)));
  for (const [a, b] of [[nv, ev], [nm, em], [ns, es]]) assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] < 1e-6);
});
