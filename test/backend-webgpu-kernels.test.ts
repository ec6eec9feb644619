// Our own WGSL kernels for the webgpu backend (src/backend/webgpu/), checked against tfjs's cpu
// backend on chromium's SwiftShader (a Vulkan driver on the CPU): the split-K filter gradient
// of conv2d across strides, paddings, odd sizes, batch 1 and 64 and the article CNN's two
// shapes; its use through tf.grad; and no tensor left behind.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { CHROMIUM_SWIFTSHADER_ICD } from '../src/backend/webgpu/setup';
import { planFilterGrad } from '../src/backend/webgpu/conv-backprop-filter';
import { planBatchNorm } from '../src/backend/webgpu/batch-norm';
import { BN_TRAIN, hasKernel } from '../src/backend/custom-kernels';
import { batchNormTraining } from '../src/framework/fused-ops';
import { initBackend } from '../src/backend/select';
import { setQuiet } from '../src/host/log';
import { assertCnnTrainsAsOnCpu, sameAsCpu, weighted } from './helpers/backend-compare';
import { cnnLoss, disposeCnn, makeCnn, syntheticBatch } from '../bench/cnn-step';

process.env.VK_DRIVER_FILES ??= CHROMIUM_SWIFTSHADER_ICD;
setQuiet(true);

before(async () => {
  await initBackend('webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
});

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Output size of a convolution, as tfjs computes it. */
function outSize(n: number, f: number, s: number, pad: Pad, axis: 1 | 2): number {
  if (pad === 'same') return Math.ceil(n / s);
  if (pad === 'valid') return Math.ceil((n - f + 1) / s);
  return Math.floor((n + pad[axis][0] + pad[axis][1] - f) / s) + 1;
}

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
}

function filterGrad(c: Case) {
  const [n, h, w] = c.x;
  const [fh, fw, , cout] = c.filter;
  const dyShape = [n, outSize(h, fh, c.stride, c.pad, 1), outSize(w, fw, c.stride, c.pad, 2), cout];
  const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter } as unknown as tf.NamedAttrMap;
  return {
    specs: [{ shape: c.x }, { shape: dyShape }],
    fn: (x: tf.Tensor, dy: tf.Tensor) => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor,
  };
}

const CASES: Array<[string, Case]> = [
  ['stride 1 valid', { x: [2, 7, 7, 3], filter: [3, 3, 3, 5], stride: 1, pad: 'valid' }],
  ['stride 1 same, odd sizes', { x: [3, 9, 11, 5], filter: [3, 3, 5, 7], stride: 1, pad: 'same' }],
  ['stride 2 same', { x: [2, 9, 8, 4], filter: [3, 3, 4, 6], stride: 2, pad: 'same' }],
  ['stride 2 valid, 5x5 filter', { x: [2, 13, 13, 3], filter: [5, 5, 3, 9], stride: 2, pad: 'valid' }],
  [
    'explicit padding, 2x3 filter',
    {
      x: [2, 6, 7, 3],
      filter: [2, 3, 3, 4],
      stride: 1,
      pad: [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0],
      ],
    },
  ],
  ['batch 1, wide tiles (K 72, cout 80)', { x: [1, 10, 10, 8], filter: [3, 3, 8, 80], stride: 1, pad: 'same' }],
  ['batch 64', { x: [64, 8, 8, 4], filter: [3, 3, 4, 8], stride: 1, pad: 'valid' }],
  ["the article's first conv, batch 64", { x: [64, 28, 28, 1], filter: [3, 3, 1, 32], stride: 1, pad: 'valid' }],
  // Batch 8: tfjs's cpu reference takes ~45 s for this shape at batch 64 on a loaded 2-core machine.
  ["the article's second conv, batch 8", { x: [8, 12, 12, 32], filter: [3, 3, 32, 64], stride: 1, pad: 'valid' }],
];

for (const [name, c] of CASES) {
  test(`Conv2DBackpropFilter on webgpu = cpu to 1e-4 of max |dW|: ${name}`, async () => {
    const { specs, fn } = filterGrad(c);
    await sameAsCpu('webgpu', name, specs, fn, 1e-4);
  });
}

test('the split-K plan: many splits where the reduction is long, one where it is short', () => {
  const big = planFilterGrad(288, 64, 256 * 100);
  assert.ok(big.splits > 100 && big.tm === 4 && big.tn === 4, JSON.stringify(big));
  assert.ok(
    big.splits * big.tilesPerSplit * 16 >= big.rows && (big.splits - 1) * big.tilesPerSplit * 16 < big.rows,
    'the splits cover every row once',
  );
  const small = planFilterGrad(27, 5, 2 * 25);
  assert.equal(small.splits, 1);
  assert.deepEqual([small.tm, small.tn], [1, 1]);
});

test("through tf.grad: conv2d's filter gradient on webgpu = cpu", async () => {
  await sameAsCpu('webgpu', 'grad of conv2d', [{ shape: [4, 9, 9, 3] }, { shape: [3, 3, 3, 8] }], (x, f) =>
    tf.grad((ff: tf.Tensor) => weighted(tf.conv2d(x as tf.Tensor4D, ff as tf.Tensor4D, 2, 'same')))(f),
  );
});

test("the gradient ran our program, not the stock one (its pipeline is in the backend's cache)", async () => {
  await tf.setBackend('webgpu');
  const cache = (tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache;
  const keys = Object.keys(cache);
  assert.ok(
    keys.some((k) => k.startsWith('tfjsEstimatorConv2DFilterGrad_')),
    keys.join(' '),
  );
  assert.ok(!keys.some((k) => k.startsWith('conv2DDerFilter_')), 'the stock program never ran');
});

test('no tensor is left behind over repeated calls (the partial sums are freed)', async () => {
  await tf.setBackend('webgpu');
  const x = tf.randomUniform([16, 12, 12, 8]);
  const dy = tf.randomUniform([16, 10, 10, 16]);
  const attrs = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 8, 16] } as unknown as tf.NamedAttrMap;
  assert.ok(planFilterGrad(72, 16, 1600).splits > 1, 'the case runs the summing program');
  const run = async () => {
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor;
    await dw.data();
    dw.dispose();
  };
  await run();
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  for (let i = 0; i < 5; i++) await run();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.memory().numBytes, bytes);
  tf.dispose([x, dy]);
});

/** tf.moments + tf.batchNorm: what layers.batchNormalization computes where BN_TRAIN is missing. */
function composite(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, eps: number): tf.Tensor[] {
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  return [tf.batchNorm(x, mean, variance, offset, scale, eps), mean, variance];
}

const BN_CASES: Array<[string, number[], number]> = [
  ['NHWC, 3 channels', [2, 5, 7, 3], 0],
  ["the article's first batch norm, batch 8 (many splits)", [8, 26, 26, 32], 0],
  ['80 channels (two channel tiles), a mean far from 0', [4, 6, 6, 80], 50],
  ['rank 2 (after a dense layer), 3 rows', [3, 10], 0],
];

for (const [name, shape, bias] of BN_CASES) {
  test(`batch norm (training) on webgpu = cpu's tf.moments + tf.batchNorm, forward and gradient: ${name}`, async () => {
    await tf.setBackend('webgpu');
    assert.ok(hasKernel(BN_TRAIN), 'the webgpu backend registers the fused batch norm');
    const c = shape[shape.length - 1];
    const eps = 1e-3;
    const specs = [{ shape, lo: bias - 2, hi: bias + 3 }, { shape: [c], lo: 0.5, hi: 1.5 }, { shape: [c] }];
    const fused = (x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
      tf.getBackend() === 'cpu' ? composite(x, s, o, eps) : batchNormTraining(x, s, o, eps);
    await sameAsCpu('webgpu', `${name}: y, mean, variance`, specs, (x, s, o) => fused(x, s, o), 1e-4);
    // Gradient of a weighted sum of y (so dy is not uniform) with respect to x, scale, offset.
    await sameAsCpu('webgpu', `${name}: dx, dscale, doffset`, specs, (x, s, o) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => weighted(fused(a, b, d)[0]))([x, s, o]),
    );
  });
}

test('the batch-norm plan splits long columns and covers every row once', () => {
  const p = planBatchNorm(256 * 26 * 26, 32);
  assert.ok(p.splits > 100 && p.tile === 32, JSON.stringify(p));
  assert.ok(p.splits * p.rowsPerSplit >= p.rows && (p.splits - 1) * p.rowsPerSplit < p.rows);
  assert.equal(planBatchNorm(10, 3).splits, 1);
});

test('batch norm on webgpu leaves no tensor behind (the partial sums are freed)', async () => {
  await tf.setBackend('webgpu');
  const x = tf.randomUniform([8, 10, 10, 16]);
  const s = tf.ones([16]);
  const o = tf.zeros([16]);
  const run = async () => {
    const outs = tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(x, s, o, 1e-3);
      const g = tf.grads((a: tf.Tensor) => tf.sum(tf.square(batchNormTraining(a, s, o, 1e-3)[0])))([x]);
      return [y, mean, variance, ...g];
    });
    await Promise.all(outs.map((t) => t.data()));
    tf.dispose(outs);
  };
  await run();
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await run();
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([x, s, o]);
  const keys = Object.keys((tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache);
  for (const k of ['tfjsEstimatorBnPartials_false', 'tfjsEstimatorBnPartials_true', 'tfjsEstimatorBnApply_true']) {
    assert.ok(
      keys.some((key) => key.startsWith(k)),
      `${k} ran`,
    );
  }
});

/** The article CNN's gradients for one batch of 8 on `backend`, by variable. */
async function cnnGrads(backend: string): Promise<Record<string, Float32Array>> {
  await tf.setBackend(backend);
  const model = makeCnn(3);
  const { images, labels } = syntheticBatch(8, 100);
  const grads = tf.tidy(() => tf.variableGrads(() => cnnLoss(model, images, labels), Object.values(model.vars)).grads);
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(model.vars)) out[k] = (await grads[v.name].data()) as Float32Array;
  tf.dispose([...Object.values(grads), images, labels]);
  disposeCnn(model);
  return out;
}

test("the article CNN with our kernels: step-1 gradients = cpu to 1e-4 of each variable's max |gradient|, and 3 Adam steps give cpu's losses", async () => {
  const cpu = await cnnGrads('cpu');
  const gpu = await cnnGrads('webgpu');
  for (const [k, want] of Object.entries(cpu)) {
    // The conv biases feed batch norm, which cancels their gradient: it is rounding noise.
    if (k === 'b1' || k === 'b2') continue;
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const worst = gpu[k].reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    assert.ok(
      scale > 0 && worst <= 1e-4 * scale,
      `d${k}: webgpu differs from cpu by ${worst.toExponential(2)}, max |grad| ${scale.toExponential(2)}`,
    );
  }
  await assertCnnTrainsAsOnCpu('webgpu');
});

const POOL_CASES: Array<[string, number[], number, number, 'valid' | 'same']> = [
  ['2x2 stride 2 valid', [2, 8, 8, 3], 2, 2, 'valid'],
  ['3x3 stride 2 valid (the article: overlapping windows)', [2, 13, 13, 5], 3, 2, 'valid'],
  ['3x3 stride 1 same, odd sizes (padding)', [1, 7, 9, 4], 3, 1, 'same'],
  ['2x2 stride 2 same, odd sizes', [3, 7, 5, 2], 2, 2, 'same'],
];

const poolGrad = (f: number, s: number, pad: 'valid' | 'same') => (x: tf.Tensor) =>
  tf.grad((a: tf.Tensor) => weighted(tf.maxPool(a as tf.Tensor4D, f, s, pad)))(x);

for (const [name, shape, f, s, pad] of POOL_CASES) {
  test(`MaxPoolGrad on webgpu = cpu (no ties), = the stock webgpu kernel (ties: the last maximum): ${name}`, async () => {
    await sameAsCpu('webgpu', name, [{ shape }], poolGrad(f, s, pad), 1e-6);
    // Values rounded to halves: windows hold equal maxima; the gradient goes where the stock kernel sends it.
    const n = shape.reduce((a, b) => a * b, 1);
    const x = tf.tidy(() => tf.div(tf.round(tf.mul(tf.randomUniform(shape, -2, 2, 'float32', n), 2)), 2));
    const run = async (stock: boolean) => {
      process.env.TFJS_ESTIMATOR_WEBGPU_STOCK = stock ? '1' : '';
      const g = poolGrad(f, s, pad)(x);
      const v = await g.data();
      g.dispose();
      return v;
    };
    await tf.setBackend('webgpu');
    try {
      const ours = await run(false);
      const stock = await run(true);
      assert.deepEqual(Array.from(ours), Array.from(stock));
    } finally {
      delete process.env.TFJS_ESTIMATOR_WEBGPU_STOCK;
      x.dispose();
    }
  });
}

test('MaxPoolGrad ran our program (one dispatch instead of two)', async () => {
  await tf.setBackend('webgpu');
  const keys = Object.keys((tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache);
  assert.ok(
    keys.some((k) => k.startsWith('tfjsEstimatorMaxPoolGrad')),
    keys.join(' '),
  );
});
