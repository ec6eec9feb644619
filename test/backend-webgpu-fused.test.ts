// The project's fused kernels (backend/custom-kernels.ts) in WGSL for the webgpu backend,
// checked against tfjs's cpu backend (which composes each from tfjs ops) on chromium's
// SwiftShader: sparse softmax cross-entropy and its gradient, Adam's update (lr_t as a number
// and as a tensor, or computed in the kernel from the beta powers, as train.adam's apply does
// it), relu's and mean's gradients, conv + bias + relu and its lazy gradient, max
// pooling with its argmax and the gradient through it, batch norm's moving averages, Sum and
// Mean over axes that are not innermost (no transpose);
// odd sizes, batch 1 and larger. Then what they are for: fewer dispatches per training step,
// with no tensor left behind, and no dispatches for Adam's lr_t.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { CHROMIUM_SWIFTSHADER_ICD } from '../src/backend/webgpu/setup';
import {
  ADAM_UPDATE,
  BN_MOVING_AVERAGES,
  CONV2D,
  hasKernel,
  MAX_POOL,
  MEAN_GRAD,
  registerCustomGradients,
  RELU_GRAD,
  SPARSE_XENT,
} from '../src/backend/custom-kernels';
import { adamUpdate, batchNormMovingAverages, conv2d, maxPool, sparseSoftmaxCrossEntropyPerExample } from '../src/framework/fused-ops';
import { contiguousView } from '../src/backend/webgpu/mean-grad';
import { adamUpdate as webgpuAdamUpdate, storageBuffersPerStage } from '../src/backend/webgpu/adam';
import type { WebGPUBackendLike } from '../src/backend/webgpu/program';
import { initBackend } from '../src/backend/select';
import { setQuiet } from '../src/host/log';
import { sameAsCpu, values, weighted } from './helpers/backend-compare';
import { adam } from '../src/estimator/train-ops';
import { VariableStore } from '../src/framework/variables';
import { disposeCnn, makeCnn, syntheticBatch, trainStep } from '../bench/cnn-step';

process.env.VK_DRIVER_FILES ??= CHROMIUM_SWIFTSHADER_ICD;
setQuiet(true);

before(async () => {
  await initBackend('webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
  registerCustomGradients();
  for (const k of [SPARSE_XENT, ADAM_UPDATE, RELU_GRAD, MEAN_GRAD, CONV2D, MAX_POOL, BN_MOVING_AVERAGES])
    assert.ok(hasKernel(k), `webgpu registers ${k}`);
});

/** The pipelines the webgpu backend has compiled so far (a kernel's key shows it ran). */
async function pipelineKeys(): Promise<string[]> {
  await tf.setBackend('webgpu');
  return Object.keys((tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache);
}

/** Asserts that a program whose cache key starts with each prefix has run. */
async function assertProgramsRan(prefixes: string[]): Promise<void> {
  const keys = await pipelineKeys();
  for (const k of prefixes)
    assert.ok(
      keys.some((key) => key.startsWith(k)),
      `${k} ran`,
    );
}

/** An Adam update's inputs with the beta powers: v, m, s, g, beta1Power, beta2Power. */
const adamPowerSpecs = (shape: number[]) => [
  { shape },
  { shape, lo: -0.1, hi: 0.1 },
  { shape, lo: 0, hi: 0.01 },
  { shape },
  { shape: [], lo: 0.4, hi: 0.6 },
  { shape: [], lo: 0.99, hi: 0.995 },
];

const XENT_CASES: Array<[string, number, number, number]> = [
  ['batch 1, 3 classes', 1, 3, 0],
  ['batch 37, 10 classes', 37, 10, 0],
  ['batch 64, 13 classes, logits far from 0', 64, 13, 80],
];

for (const [name, rows, classes, shift] of XENT_CASES) {
  test(`sparse softmax cross-entropy on webgpu = cpu's logSoftmax composite, loss and dlogits: ${name}`, async () => {
    const specs = [
      { shape: [rows], dtype: 'int32' as const, lo: 0, hi: classes },
      { shape: [rows, classes], lo: shift - 4, hi: shift + 4 },
    ];
    await sameAsCpu('webgpu', `${name}: loss`, specs, (labels, logits) => sparseSoftmaxCrossEntropyPerExample(labels, logits));
    await sameAsCpu('webgpu', `${name}: dlogits`, specs, (labels, logits) =>
      tf.grad((l: tf.Tensor) => weighted(sparseSoftmaxCrossEntropyPerExample(labels, l)))(logits),
    );
  });
}

test('the cross-entropy ran our two programs', async () => {
  await assertProgramsRan(['tfjsEstimatorSparseSoftmaxXent', 'tfjsEstimatorSparseXentGrad']);
});

/** TF1's Adam composed from tfjs ops, as train-ops.ts does where ADAM_UPDATE is missing. */
function composedAdam(v: tf.Tensor, m: tf.Tensor, s: tf.Tensor, g: tf.Tensor, lr: number | tf.Scalar, b1: number, b2: number, eps: number) {
  const nm = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
  const ns = tf.add(tf.mul(s, b2), tf.mul(tf.square(g), 1 - b2));
  return [tf.sub(v, tf.div(tf.mul(nm, lr), tf.add(tf.sqrt(ns), eps))), nm, ns];
}

for (const shape of [[1], [7], [3, 3, 5, 7]]) {
  for (const lrAs of ['number', 'tensor'] as const) {
    test(`Adam's update on webgpu = cpu's composed update (var, m, v), shape [${shape}], lr_t as a ${lrAs}`, async () => {
      const [lr, b1, b2, eps] = [0.0123, 0.9, 0.999, 1e-8];
      const specs = [{ shape }, { shape, lo: -0.1, hi: 0.1 }, { shape, lo: 0, hi: 0.01 }, { shape }];
      await sameAsCpu('webgpu', `adam ${shape}`, specs, (v, m, s, g) =>
        tf.getBackend() === 'cpu'
          ? composedAdam(v, m, s, g, lr, b1, b2, eps)
          : adamUpdate(v, m, s, g, lrAs === 'number' ? lr : tf.scalar(lr), b1, b2, eps),
      );
    });
  }
}

test("Adam's update is one dispatch per variable, whichever way lr_t comes", async () => {
  await assertProgramsRan(['tfjsEstimatorAdamUpdate_uniform_', 'tfjsEstimatorAdamUpdate_tensor_']);
});

/** TF1's lr_t from the beta powers before their update, as train-ops.ts composes it where ADAM_UPDATE is missing. */
const composedLrT = (lr: tf.Scalar | number, b1p: tf.Tensor, b2p: tf.Tensor) =>
  tf.div(tf.mul(lr, tf.sqrt(tf.sub(1, b2p))), tf.sub(1, b1p)) as tf.Scalar;

for (const lrAs of ['number', 'tensor'] as const) {
  test(`Adam's update with the beta powers on webgpu (lr_t in the kernel) = cpu's composed lr_t and update, lr as a ${lrAs}`, async () => {
    const [lr, b1, b2, eps] = [0.0123, 0.9, 0.999, 1e-8];
    const shape = [3, 5, 7];
    // Powers of a few steps in: the bias corrections far from 1.
    const specs = adamPowerSpecs(shape);
    await sameAsCpu('webgpu', `adam, beta powers, lr ${lrAs}`, specs, (v, m, s, g, b1p, b2p) => {
      const rate = lrAs === 'number' ? lr : tf.scalar(lr);
      if (tf.getBackend() === 'cpu') return composedAdam(v, m, s, g, composedLrT(rate, b1p, b2p), b1, b2, eps);
      return adamUpdate(v, m, s, g, rate, b1, b2, eps, { beta1Power: b1p as tf.Scalar, beta2Power: b2p as tf.Scalar });
    });
  });
}

test('the beta powers ran the kernel that computes lr_t itself', async () => {
  await assertProgramsRan(['tfjsEstimatorAdamUpdate_uniformCorrected_', 'tfjsEstimatorAdamUpdate_tensorCorrected_']);
});

test('the webgpu device binds the 10 storage buffers of the update with the powers (setup asks the adapter for its limit)', async () => {
  await tf.setBackend('webgpu');
  assert.ok(storageBuffersPerStage(tf.backend() as unknown as WebGPUBackendLike) >= 10);
});

test("a pipeline's bind-group layout is made once (tfjs-webgpu asks for it at every dispatch), and ops still compute", async () => {
  await tf.setBackend('webgpu');
  // Large enough that tfjs-webgpu dispatches it instead of running it on the CPU.
  const x = tf.tensor(Float32Array.from({ length: 4096 }, (_, i) => i - 2048));
  const y = tf.relu(tf.relu(x)).dataSync();
  assert.equal(y[2047], 0);
  assert.equal(y[4095], 2047);
  const cache = (tf.backend() as unknown as { pipelineCache: Record<string, { getBindGroupLayout(i: number): object }> }).pipelineCache;
  const pipelines = Object.values(cache);
  assert.ok(pipelines.length > 0);
  for (const p of pipelines) assert.equal(p.getBindGroupLayout(0), p.getBindGroupLayout(0));
  x.dispose();
});

for (const lrAs of ['number', 'tensor'] as const) {
  test(`on a device that binds only 8 storage buffers, the update with the powers = cpu's (lr_t from a one-invocation program first), lr as a ${lrAs}`, async () => {
    const [lr, b1, b2, eps] = [0.0123, 0.9, 0.999, 1e-8];
    const shape = [37];
    const specs = adamPowerSpecs(shape);
    await sameAsCpu('webgpu', `adam, 8 storage buffers, lr ${lrAs}`, specs, (v, m, s, g, beta1Power, beta2Power) => {
      if (tf.getBackend() === 'cpu') return composedAdam(v, m, s, g, composedLrT(lr, beta1Power, beta2Power), b1, b2, eps);
      const backend = tf.backend() as unknown as WebGPUBackendLike;
      const inputs = { v, m, s, g, beta1Power, beta2Power, ...(lrAs === 'tensor' ? { lr: tf.scalar(lr) } : {}) };
      const attrs = { beta1: b1, beta2: b2, epsilon: eps, ...(lrAs === 'number' ? { lr } : {}) };
      return webgpuAdamUpdate(backend, inputs, attrs, 8).map((t) => tf.engine().makeTensorFromTensorInfo(t));
    });
  });
}

test('with 8 storage buffers, lr_t came from its own program', async () => {
  await assertProgramsRan(['tfjsEstimatorAdamLearningRate_uniform_', 'tfjsEstimatorAdamLearningRate_tensor_']);
});

test('with 8 storage buffers, the variables of one apply share one lr_t: one extra dispatch per apply, not per variable', async () => {
  await tf.setBackend('webgpu');
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const attrs = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  const vars = [7, 5, 3].map((n) => tf.tensor(values(n, n, -1, 1)));
  const squares = [7, 5, 3].map((n) => tf.tensor(values(n, n, 0, 1)));
  const counts: number[] = [];
  for (const t of [1, 2]) {
    const powers = { beta1Power: tf.scalar(0.9 ** t), beta2Power: tf.scalar(0.999 ** t) };
    counts.push(
      await dispatches(() => {
        for (const [k, v] of vars.entries()) {
          const outs = webgpuAdamUpdate(backend, { v, m: v, s: squares[k], g: v, ...powers }, attrs, 8);
          for (const o of outs) backend.disposeData(o.dataId);
        }
      }),
    );
    tf.dispose(Object.values(powers));
  }
  // Per apply: three updates and one lr_t.
  assert.deepEqual(counts, [4, 4]);
  tf.dispose([...vars, ...squares]);
});

const ADAM_SHAPES = [[7], [3, 3, 2, 5], [1]];

/** train.adam's apply as minimize() runs it, on fixed variables, with gradients that change from step to step. */
function adamApply(opt: ReturnType<typeof adam>, store: VariableStore, vars: tf.Variable[], t: number, lrAs: 'number' | 'tensor'): void {
  tf.tidy(() => {
    const lr = lrAs === 'number' ? 0.05 : tf.scalar(0.05);
    const grads = vars.map((v, k) => tf.tensor(values(v.size, 100 * t + k, -1, 1), v.shape));
    opt.beginApply(store, 'Adam', lr);
    vars.forEach((v, k) => opt.applyGradient(store, 'Adam', `w${k}`, v, grads[k], lr));
    opt.finishApply(store, 'Adam');
  });
}

function adamVariables(store: VariableStore): tf.Variable[] {
  return ADAM_SHAPES.map((shape, k) =>
    store.getOrCreate(`w${k}`, shape, { initializer: (sh) => tf.tensor(values(tf.util.sizeFromShape(sh), 40 + k, -1, 1), sh) }),
  );
}

for (const lrAs of ['number', 'tensor'] as const) {
  test(`train.adam on webgpu (lr_t folded into the kernel) = cpu's composed Adam over 6 steps: variables, slots, beta powers; lr as a ${lrAs}`, async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      assert.equal(hasKernel(ADAM_UPDATE), backend === 'webgpu', 'cpu composes the update');
      const store = new VariableStore(undefined);
      const vars = adamVariables(store);
      const opt = adam(0.05);
      for (let t = 0; t < 6; t++) adamApply(opt, store, vars, t, lrAs);
      const out = new Map(store.records().map((r) => [r.name, r.variable.dataSync().slice()]));
      store.dispose();
      return out;
    };
    const want = await run('cpu');
    const got = await run('webgpu');
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    assert.equal(want.size, 3 * ADAM_SHAPES.length + 2);
    for (const [name, w] of want) {
      const scale = Math.max(1e-6, ...w.map(Math.abs));
      const worst = Math.max(...got.get(name)!.map((x, i) => Math.abs(x - w[i]) / scale));
      assert.ok(worst <= 1e-4, `${name} differs from cpu by ${worst.toExponential(2)} of ${scale.toPrecision(3)}`);
    }
    // The powers moved: lr_t at step 6 is not lr_t at step 1.
    assert.ok(Math.abs(want.get('Adam/beta1_power')![0] - 0.9 ** 7) < 1e-6);
  });
}

for (const channels of [1, 37]) {
  test(`batch norm's moving averages on webgpu = cpu's composed update, ${channels} channels`, async () => {
    const [momentum, correction] = [0.99, 16 / 15];
    const specs = [
      { shape: [channels] },
      { shape: [channels], lo: 0.5, hi: 2 },
      { shape: [channels] },
      { shape: [channels], lo: 0, hi: 3 },
    ];
    await sameAsCpu('webgpu', `moving averages ${channels}`, specs, (mm, mv, mean, variance) =>
      tf.getBackend() === 'cpu'
        ? [
            tf.add(tf.mul(mm, momentum), tf.mul(mean, 1 - momentum)),
            tf.add(tf.mul(mv, momentum), tf.mul(tf.mul(variance, correction), 1 - momentum)),
          ]
        : batchNormMovingAverages(mm, mv, mean, variance, momentum, correction),
    );
  });
}

for (const shape of [
  [1, 5, 7, 3],
  [16, 9, 9, 8],
]) {
  test(`relu's gradient on webgpu = cpu's dy * step(x): [${shape}]`, async () => {
    await sameAsCpu('webgpu', `relu grad ${shape}`, [{ shape }], (x) => tf.grad((a: tf.Tensor) => weighted(tf.relu(a)))(x));
  });
}

const MEAN_CASES: Array<[number[], number[], boolean]> = [
  [[1, 5, 7, 3], [1, 2], false], // the CNN's global mean
  [[6, 4, 5, 9], [1, 2], true],
  [[37], [0], false], // the loss's mean
  [[3, 5, 7], [0], false],
  [[3, 5, 7], [2], true],
  [[3, 5, 7], [0, 2], false], // not one block: composed from tfjs ops inside the kernel
];

for (const [shape, axes, keepDims] of MEAN_CASES) {
  test(`mean's gradient on webgpu = cpu's: [${shape}] over axes ${axes}${keepDims ? ', keepDims' : ''}`, async () => {
    await sameAsCpu('webgpu', `mean grad ${shape} ${axes}`, [{ shape }], (x) =>
      tf.grad((a: tf.Tensor) => weighted(tf.mean(a, axes, keepDims)))(x),
    );
  });
}

test('the mean gradient views contiguous axes as [outer, reduced, inner]', async () => {
  assert.deepEqual(contiguousView([2, 3, 4, 5], [1, 2]), [2, 12, 5]);
  assert.deepEqual(contiguousView([2, 3, 4, 5], [3]), [24, 5, 1]);
  assert.equal(contiguousView([2, 3, 4], [0, 2]), undefined);
  await assertProgramsRan(['tfjsEstimatorReluGrad', 'tfjsEstimatorMeanGrad']);
});

interface ConvCase {
  x: number[];
  filter: number[];
  stride: number;
  pad: 'same' | 'valid';
  activation: 'relu' | 'linear';
  bias: boolean;
}

const CONV_CASES: Array<[string, ConvCase]> = [
  [
    'batch 1, odd sizes, stride 2 same, bias + relu',
    { x: [1, 9, 7, 3], filter: [3, 3, 3, 5], stride: 2, pad: 'same', activation: 'relu', bias: true },
  ],
  [
    'batch 5, valid, no bias, linear',
    { x: [5, 8, 8, 4], filter: [3, 3, 4, 6], stride: 1, pad: 'valid', activation: 'linear', bias: false },
  ],
  [
    "the article's first conv, batch 8",
    { x: [8, 28, 28, 1], filter: [3, 3, 1, 32], stride: 1, pad: 'valid', activation: 'relu', bias: true },
  ],
];

for (const [name, c] of CONV_CASES) {
  test(`conv + bias + relu on webgpu (CONV2D) = cpu's tf.fused.conv2d, output and the gradients of x, filter, bias: ${name}`, async () => {
    const specs = [{ shape: c.x }, { shape: c.filter, lo: -0.5, hi: 0.5 }, { shape: [c.filter[3]] }];
    const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        bias: c.bias ? b : undefined,
        strides: c.stride,
        pad: c.pad,
        activation: c.activation,
      });
    await sameAsCpu('webgpu', `${name}: y`, specs, f);
    await sameAsCpu('webgpu', `${name}: dx, dw${c.bias ? ', db' : ''}`, specs, (x, w, b) =>
      c.bias
        ? tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => weighted(f(xx, ww, bb)))([x, w, b])
        : tf.grads((xx: tf.Tensor, ww: tf.Tensor) => weighted(f(xx, ww, b)))([x, w]),
    );
  });
}

test("CONV2D's gradient with respect to the filter alone runs no input gradient (a first layer's)", async () => {
  await tf.setBackend('webgpu');
  const x = tf.randomUniform([2, 10, 10, 1]) as tf.Tensor4D;
  const w = tf.variable(tf.randomUniform([3, 3, 1, 4], -0.5, 0.5)) as tf.Variable<tf.Rank.R4>;
  const b = tf.variable(tf.zeros([4]));
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(conv2d({ x, filter: w, bias: b, activation: 'relu' })) as tf.Scalar, [w, b]);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const names = info.kernels.map((k) => k.name);
  assert.ok(names.includes(CONV2D) && names.includes('Conv2DBackpropFilter'), names.join(' '));
  assert.ok(!names.includes('Conv2DBackpropInput'), names.join(' '));
  tf.dispose([x, w, b]);
});

const POOL_CASES: Array<[string, number[], number, number, 'valid' | 'same']> = [
  ['batch 1, 3x3 stride 2 valid (the article: overlapping windows)', [1, 13, 13, 5], 3, 2, 'valid'],
  ['3x3 stride 1 same, odd sizes (padding)', [2, 7, 9, 4], 3, 1, 'same'],
  ['2x2 stride 2 same, odd sizes', [3, 7, 5, 2], 2, 2, 'same'],
  ["the article's second pool, batch 8", [8, 10, 10, 64], 3, 2, 'valid'],
];

/** [y, dx of a weighted sum of y]: MAX_POOL's own y on webgpu, tf.maxPool's on cpu. */
const pooled = (f: number, s: number, pad: 'valid' | 'same') => (x: tf.Tensor) => {
  const attrs = { filterSize: [f, f], strides: [s, s], pad, inShape: x.shape };
  const y =
    tf.getBackend() === 'cpu' ? tf.maxPool(x as tf.Tensor4D, f, s, pad) : (tf.engine().runKernel(MAX_POOL, { x }, attrs) as tf.Tensor[])[0];
  return [y, tf.grad((a: tf.Tensor) => weighted(maxPool(a as tf.Tensor4D, [f, f], [s, s], pad)))(x)];
};

for (const [name, shape, f, s, pad] of POOL_CASES) {
  test(`max pooling with its argmax (MAX_POOL) on webgpu = cpu, y and dx (no ties); dx = the stock webgpu kernel's (ties): ${name}`, async () => {
    await sameAsCpu('webgpu', name, [{ shape }], pooled(f, s, pad), 1e-6);
    // Values rounded to halves: windows hold equal maxima; the gradient goes where tfjs's
    // webgpu MaxPoolGrad sends it (the last maximum).
    const n = shape.reduce((a, b) => a * b, 1);
    await tf.setBackend('webgpu');
    const x = tf.tidy(() => tf.div(tf.round(tf.mul(tf.randomUniform(shape, -2, 2, 'float32', n), 2)), 2));
    const run = async (stock: boolean) => {
      process.env.TFJS_ESTIMATOR_WEBGPU_STOCK = stock ? '1' : '';
      const pool = (a: tf.Tensor) => (stock ? tf.maxPool(a as tf.Tensor4D, f, s, pad) : maxPool(a as tf.Tensor4D, [f, f], [s, s], pad));
      const g = tf.grad((a: tf.Tensor) => weighted(pool(a)))(x);
      const v = await g.data();
      g.dispose();
      return v;
    };
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

test('max pooling ran our argmax forward and its gradient', async () => {
  await assertProgramsRan(['tfjsEstimatorMaxPoolArgmax', 'tfjsEstimatorMaxPoolGradFromArgmax']);
});

const REDUCE_CASES: Array<[string, number[], number[], boolean, 'sum' | 'mean']> = [
  ["the article's first conv bias gradient, batch 64", [64, 26, 26, 32], [0, 1, 2], false, 'sum'],
  ["the article's global mean, batch 16", [16, 5, 5, 64], [1, 2], false, 'mean'],
  ['a dense bias gradient, 37 rows', [37, 10], [0], false, 'sum'],
  ['the middle axis, keepDims', [3, 20, 7], [1], true, 'mean'],
  ['short reductions and innermost axes: the stock kernel', [4, 3, 5], [0], false, 'sum'],
];

for (const [name, shape, axes, keepDims, op] of REDUCE_CASES) {
  test(`${op} over axes ${axes} of [${shape}] on webgpu = cpu: ${name}`, async () => {
    await sameAsCpu('webgpu', name, [{ shape }], (x) => (op === 'sum' ? tf.sum(x, axes, keepDims) : tf.mean(x, axes, keepDims)));
  });
}

test('the reductions over leading or middle axes ran our one-dispatch program (no transpose)', async () => {
  const keys = await pipelineKeys();
  assert.ok(
    keys.some((key) => key.startsWith('tfjsEstimatorStridedReduce')),
    keys.join(' '),
  );
});

/** Dispatches (the backend's recordAndSubmit calls) while `fn` runs. */
async function dispatches(fn: () => void): Promise<number> {
  const backend = tf.backend() as unknown as { recordAndSubmit: (...a: unknown[]) => unknown };
  const record = backend.recordAndSubmit;
  let n = 0;
  backend.recordAndSubmit = function (this: unknown, ...a: unknown[]) {
    n += 1;
    return record.apply(this, a);
  };
  try {
    fn();
  } finally {
    backend.recordAndSubmit = record;
  }
  return n;
}

test("the article CNN's training step on webgpu: under 60 dispatches (was 200 with tfjs's ops), and no tensor left behind", async () => {
  await tf.setBackend('webgpu');
  const model = makeCnn(3);
  const { images, labels } = syntheticBatch(2, 100);
  trainStep(model, images, labels);
  const tensors = tf.memory().numTensors;
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) counts.push(await dispatches(() => trainStep(model, images, labels)));
  assert.equal(tf.memory().numTensors, tensors);
  assert.ok(
    counts.every((n) => n < 60),
    `dispatches per step: ${counts}`,
  );
  tf.dispose([images, labels]);
  disposeCnn(model);
});

test("train.adam's apply on webgpu: one dispatch per variable and one per beta power's update, none for lr_t (was 5 more)", async () => {
  await tf.setBackend('webgpu');
  const store = new VariableStore(undefined);
  const vars = adamVariables(store);
  const opt = adam(0.05);
  adamApply(opt, store, vars, 0, 'number'); // creates the slots and powers
  const tensors = tf.memory().numTensors;
  const counts: number[] = [];
  for (let t = 1; t < 4; t++) counts.push(await dispatches(() => adamApply(opt, store, vars, t, 'number')));
  assert.equal(tf.memory().numTensors, tensors);
  assert.deepEqual(
    counts,
    [0, 0, 0].map(() => ADAM_SHAPES.length + 2),
    `dispatches per apply: ${counts}`,
  );
  store.dispose();
});
