// Every kernel of the native backend against tfjs's cpu backend on the same inputs: odd sizes,
// strides 1 and 2, same/valid/explicit padding, dilations, batch 1 and 64, each fused
// activation, and the gradients, to 1e-4 relative to the largest value. The addon must be
// built: without it these tests fail and say how to build it.
import * as fs from 'fs';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { NativeBackend, registerNativeBackend } from '../src/backend/native';
import { CONV2D } from '../src/backend/custom-kernels';
import { nativeFallbacks } from '../src/backend/native/kernels';
import { Spec, Outputs, sameAsCpu, values, weighted } from './helpers/backend-compare';
import {
  adamUpdate,
  batchNormMovingAverages,
  batchNormTraining,
  conv2d,
  maxPool,
  sparseSoftmaxCrossEntropyPerExample,
} from '../src/framework/fused-ops';

/** Runs fn on cpu and on native with the same inputs; every output within tol of cpu's. */
const same = (name: string, specs: Spec[], fn: (...xs: tf.Tensor[]) => Outputs, tol = 1e-4): Promise<void> =>
  sameAsCpu('native', name, specs, fn, tol);

/** Asserts the named native kernels handled every call since the last reset (no cpu fallback). */
function noFallbacks(label: string, names?: string[]): void {
  const fb = nativeFallbacks(true);
  const hit = Object.entries(fb).filter(([n]) => !names || names.includes(n));
  assert.deepEqual(hit, [], `${label}: native kernels fell back to cpu: ${JSON.stringify(fb)}`);
}

before(async () => {
  const r = registerNativeBackend();
  assert.ok(
    r.addon,
    `the native addon is not available (${r.error}). Build it: apt-get install libdnnl-dev && npm rebuild (or node scripts/build-native.js)`,
  );
  await tf.setBackend('native');
  nativeFallbacks(true);
});

const ACTS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const;

describe('convolution', () => {
  // Every convolution with at most 4 input channels through the direct kernels (by default only
  // those where they beat oneDNN), so that all their paths meet the cpu backend.
  let mode = 1;
  before(() => (mode = registerNativeBackend().addon!.setConvDirect(2)));
  after(() => registerNativeBackend().addon!.setConvDirect(mode));
  type Case = {
    n: number;
    h: number;
    w: number;
    ci: number;
    co: number;
    k: [number, number];
    s: [number, number];
    pad: 'same' | 'valid' | tf.backend_util.ExplicitPadding;
    d: [number, number];
  };
  const cases: Case[] = [
    { n: 1, h: 7, w: 9, ci: 3, co: 5, k: [3, 3], s: [1, 1], pad: 'same', d: [1, 1] },
    { n: 64, h: 10, w: 10, ci: 4, co: 8, k: [3, 3], s: [1, 1], pad: 'valid', d: [1, 1] },
    { n: 2, h: 11, w: 8, ci: 4, co: 6, k: [3, 2], s: [2, 2], pad: 'same', d: [1, 1] },
    { n: 3, h: 13, w: 13, ci: 2, co: 3, k: [3, 3], s: [2, 1], pad: 'valid', d: [1, 1] },
    { n: 4, h: 15, w: 15, ci: 5, co: 7, k: [5, 5], s: [2, 2], pad: 'valid', d: [1, 1] },
    { n: 2, h: 9, w: 9, ci: 1, co: 32, k: [3, 3], s: [1, 1], pad: 'valid', d: [1, 1] },
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
      d: [1, 1],
    },
    { n: 2, h: 12, w: 12, ci: 3, co: 4, k: [3, 3], s: [1, 1], pad: 'same', d: [2, 2] },
    { n: 1, h: 11, w: 10, ci: 2, co: 3, k: [2, 3], s: [1, 1], pad: 'valid', d: [3, 2] },
    // Few input channels run the direct kernels (conv-direct.cc): the article's first layer (at
    // batch 8: at 64 the cpu backend took 2 s per activation), channels that are not a multiple
    // of the vector width, more than 9 taps, 1x1, windows wider than the image, several images
    // per thread and one image split over threads.
    { n: 8, h: 28, w: 28, ci: 1, co: 32, k: [3, 3], s: [1, 1], pad: 'valid', d: [1, 1] },
    { n: 1, h: 13, w: 11, ci: 2, co: 17, k: [3, 3], s: [2, 2], pad: 'same', d: [1, 1] },
    { n: 64, h: 9, w: 7, ci: 3, co: 40, k: [5, 3], s: [2, 1], pad: 'same', d: [1, 1] },
    { n: 3, h: 6, w: 5, ci: 1, co: 3, k: [1, 1], s: [1, 1], pad: 'valid', d: [1, 1] },
    { n: 2, h: 7, w: 9, ci: 4, co: 64, k: [7, 7], s: [2, 2], pad: 'same', d: [1, 1] },
    { n: 1, h: 2, w: 3, ci: 1, co: 5, k: [5, 5], s: [1, 1], pad: 'same', d: [1, 1] },
    { n: 64, h: 11, w: 9, ci: 3, co: 16, k: [3, 3], s: [2, 2], pad: 'valid', d: [1, 1] },
    { n: 1, h: 31, w: 29, ci: 2, co: 48, k: [3, 3], s: [1, 1], pad: 'same', d: [1, 1] },
    // 3x3 stride 1 over whole 16-channel blocks: Winograd on AVX-512 CPUs (conv.cc), the
    // article's second layer and an odd-sized one with padding.
    { n: 4, h: 12, w: 12, ci: 32, co: 64, k: [3, 3], s: [1, 1], pad: 'valid', d: [1, 1] },
    { n: 2, h: 9, w: 7, ci: 16, co: 32, k: [3, 3], s: [1, 1], pad: 'same', d: [1, 1] },
  ];
  for (const c of cases) {
    const label = `n${c.n} ${c.h}x${c.w}x${c.ci}->${c.co} k${c.k} s${c.s} ${JSON.stringify(c.pad)} d${c.d}`;
    const x: Spec = { shape: [c.n, c.h, c.w, c.ci] };
    const f: Spec = { shape: [...c.k, c.ci, c.co] };
    const b: Spec = { shape: [c.co] };
    const dilated = c.d[0] > 1 || c.d[1] > 1;
    test(`conv2d forward and fused bias + each activation: ${label}`, async () => {
      await same(`conv2d ${label}`, [x, f], (xx, ff) => tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d));
      for (const activation of ACTS) {
        await same(`fused ${activation} ${label}`, [x, f, b], (xx, ff, bb) =>
          tf.fused.conv2d({
            x: xx as tf.Tensor4D,
            filter: ff as tf.Tensor4D,
            strides: c.s,
            pad: c.pad,
            dilations: c.d,
            bias: bb,
            activation,
            leakyreluAlpha: 0.1,
          }),
        );
      }
      noFallbacks(label);
    });
    if (dilated) continue; // tfjs has no gradient for dilated convolutions
    test(`conv2d gradients (input and filter, plain and fused relu): ${label}`, async () => {
      await same(`grads ${label}`, [x, f], (xx, ff) =>
        tf.grads((a: tf.Tensor, w: tf.Tensor) => weighted(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad)))([xx, ff]),
      );
      await same(`fused grads ${label}`, [x, f, b], (xx, ff, bb) =>
        tf.grads((a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
          weighted(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, strides: c.s, pad: c.pad, bias, activation: 'relu' })),
        )([xx, ff, bb]),
      );
      noFallbacks(label);
    });
  }

  test('the direct kernels run one input channel into whole vectors of output channels, or any ic <= 4 when asked', () => {
    const addon = registerNativeBackend().addon!;
    // [n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups]
    const shape = (ic: number, oc = 32, groups = 1) => Int32Array.from([2, 5, 5, ic, 3, 3, oc, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, groups]);
    const was = addon.setConvDirect(1);
    try {
      assert.equal(addon.convImpl(shape(1)), 'direct');
      assert.equal(addon.convImpl(shape(1, 64)), 'direct');
      for (const [ic, oc] of [
        [1, 33],
        [2, 32],
        [3, 64],
        [5, 32],
      ])
        assert.notEqual(addon.convImpl(shape(ic, oc)), 'direct', `ic ${ic} oc ${oc}`);
      addon.setConvDirect(2);
      for (const ic of [1, 2, 3, 4]) assert.equal(addon.convImpl(shape(ic, 5)), 'direct', `ic ${ic}`);
      assert.notEqual(addon.convImpl(shape(5)), 'direct');
      assert.notEqual(addon.convImpl(shape(3, 3, 3)), 'direct'); // depthwise
      addon.setConvDirect(0);
      assert.notEqual(addon.convImpl(shape(1)), 'direct');
    } finally {
      addon.setConvDirect(was);
    }
  });

  test('3x3 stride-1 convolutions of 16-channel blocks run Winograd where the CPU has AVX-512, others direct', () => {
    const addon = registerNativeBackend().addon!;
    // [n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups]
    const shape = (ic: number, oc: number, k: number, s: number) => {
      const o = Math.floor((12 - k) / s) + 1;
      return Int32Array.from([4, 12, 12, ic, o, o, oc, k, k, s, s, 1, 1, 0, 0, 0, 0, 1]);
    };
    const avx512 = /\bavx512f\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (avx512 && process.env.TFJS_ESTIMATOR_WINOGRAD !== '0') assert.match(addon.convImpl(shape(32, 64, 3, 1)), /wino/);
    assert.doesNotMatch(addon.convImpl(shape(32, 64, 3, 2)), /wino/);
    assert.doesNotMatch(addon.convImpl(shape(32, 64, 5, 1)), /wino/);
  });

  test('the conv2d helper equals tf.fused.conv2d, with gradients, and skips the input gradient nobody asked for', async () => {
    const specs: Spec[] = [{ shape: [3, 10, 9, 2] }, { shape: [3, 3, 2, 5] }, { shape: [5] }];
    for (const activation of ['linear', 'relu'] as const) {
      for (const pad of ['same', 'valid'] as const) {
        await same(`helper ${activation} ${pad}`, specs, (xx, ff, bb) => [
          conv2d({ x: xx as tf.Tensor4D, filter: ff as tf.Tensor4D, bias: bb, strides: 2, pad, activation }),
          ...tf.grads((a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
            weighted(conv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, bias, strides: 2, pad, activation })),
          )([xx, ff, bb]),
        ]);
      }
    }
    // Only the filter and bias are variables: Conv2DBackpropInput must not run.
    await tf.setBackend('native');
    const calls: string[] = [];
    const kc = tf.getKernel('Conv2DBackpropInput', 'native')!;
    tf.unregisterKernel('Conv2DBackpropInput', 'native');
    tf.registerKernel({ ...kc, kernelFunc: ((a: Parameters<tf.KernelFunc>[0]) => (calls.push('dx'), kc.kernelFunc(a))) as tf.KernelFunc });
    try {
      tf.tidy(() => {
        const img = tf.randomUniform([2, 8, 8, 1]) as tf.Tensor4D;
        const w = tf.variable(tf.randomUniform([3, 3, 1, 4]));
        const { grads } = tf.variableGrads(() => tf.sum(conv2d({ x: img, filter: w as unknown as tf.Tensor4D, activation: 'relu' })), [w]);
        assert.deepEqual(grads[w.name].shape, [3, 3, 1, 4]);
        w.dispose();
      });
    } finally {
      tf.unregisterKernel('Conv2DBackpropInput', 'native');
      tf.registerKernel(kc);
    }
    assert.deepEqual(calls, []);
    // A constant bias: its gradient (computed with the filter's) is disposed, not leaked.
    const w = tf.variable(tf.randomUniform([3, 3, 2, 4]));
    const img = tf.randomUniform([2, 6, 6, 2]) as tf.Tensor4D;
    const bias = tf.randomUniform([4]);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(conv2d({ x: img, filter: w as unknown as tf.Tensor4D, bias })), [w]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    assert.equal(tf.memory().numTensors, count);
    tf.dispose([w, img, bias]);
    noFallbacks('conv2d helper');
  });
});

describe('depthwise convolution', () => {
  type Case = {
    n: number;
    h: number;
    w: number;
    ci: number;
    m: number;
    k: [number, number];
    s: [number, number];
    pad: 'same' | 'valid';
    d: [number, number];
  };
  const cases: Case[] = [
    { n: 2, h: 9, w: 9, ci: 3, m: 2, k: [3, 3], s: [1, 1], pad: 'same', d: [1, 1] },
    { n: 64, h: 8, w: 8, ci: 4, m: 1, k: [3, 3], s: [2, 2], pad: 'valid', d: [1, 1] },
    { n: 1, h: 7, w: 10, ci: 5, m: 3, k: [2, 3], s: [1, 1], pad: 'valid', d: [1, 1] },
    { n: 1, h: 10, w: 7, ci: 5, m: 3, k: [3, 3], s: [1, 1], pad: 'same', d: [2, 2] },
  ];
  for (const c of cases) {
    const label = `n${c.n} ${c.h}x${c.w}x${c.ci} x${c.m} k${c.k} s${c.s} ${c.pad} d${c.d}`;
    const x: Spec = { shape: [c.n, c.h, c.w, c.ci] };
    const f: Spec = { shape: [...c.k, c.ci, c.m] };
    const b: Spec = { shape: [c.ci * c.m] };
    test(`depthwise forward, fused bias + relu, and gradients: ${label}`, async () => {
      await same(`depthwise ${label}`, [x, f], (xx, ff) =>
        tf.depthwiseConv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d),
      );
      await same(`fused depthwise ${label}`, [x, f, b], (xx, ff, bb) =>
        tf.fused.depthwiseConv2d({
          x: xx as tf.Tensor4D,
          filter: ff as tf.Tensor4D,
          strides: c.s,
          pad: c.pad,
          dilations: c.d,
          bias: bb,
          activation: 'relu',
        }),
      );
      if (c.d[0] === 1) {
        await same(`depthwise grads ${label}`, [x, f], (xx, ff) =>
          tf.grads((a: tf.Tensor, w: tf.Tensor) => weighted(tf.depthwiseConv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad)))([xx, ff]),
        );
      }
      noFallbacks(label);
    });
  }
});

describe('pooling', () => {
  const cases: Array<{ size: [number, number]; stride: [number, number]; pad: 'same' | 'valid' }> = [
    { size: [3, 3], stride: [2, 2], pad: 'valid' },
    { size: [2, 2], stride: [2, 2], pad: 'same' },
    { size: [3, 3], stride: [1, 1], pad: 'same' },
    { size: [3, 2], stride: [2, 1], pad: 'valid' },
  ];
  for (const c of cases) {
    test(`max and average pooling with gradients: ${c.size} stride ${c.stride} ${c.pad}, batch 1 and 64`, async () => {
      for (const n of [1, 64]) {
        const x: Spec = { shape: [n, 11, 10, n === 1 ? 19 : 4] };
        for (const op of [tf.maxPool, tf.avgPool]) {
          const label = `${op === tf.maxPool ? 'max' : 'avg'} n${n}`;
          await same(label, [x], (xx) => op(xx as tf.Tensor4D, c.size, c.stride, c.pad));
          await same(`${label} grad`, [x], (xx) => tf.grad((a: tf.Tensor) => weighted(op(a as tf.Tensor4D, c.size, c.stride, c.pad)))(xx));
        }
      }
      noFallbacks(`pool ${c.size}`);
    });
  }
});

describe("max pooling with a workspace (the layers' max pooling)", () => {
  // Inputs through relu: many windows hold several zeros, so the tie rule (first maximum in
  // row-major order) decides where the gradient goes.
  const cases: Array<{ x: number[]; size: [number, number]; stride: [number, number]; pad: 'same' | 'valid' }> = [
    { x: [64, 26, 26, 32], size: [3, 3], stride: [2, 2], pad: 'valid' },
    { x: [64, 10, 10, 64], size: [3, 3], stride: [2, 2], pad: 'valid' },
    { x: [2, 11, 10, 19], size: [2, 2], stride: [2, 2], pad: 'same' },
    { x: [3, 9, 8, 5], size: [3, 2], stride: [1, 2], pad: 'same' },
  ];
  for (const c of cases) {
    test(`forward and gradient as cpu's tf.maxPool: [${c.x}] ${c.size} stride ${c.stride} ${c.pad}`, async () => {
      const x: Spec = { shape: c.x };
      const pool = (a: tf.Tensor) => maxPool(tf.relu(a) as tf.Tensor4D, c.size, c.stride, c.pad);
      await same(`maxPool [${c.x}]`, [x], (xx) => tf.grad((a: tf.Tensor) => weighted(pool(a)))(xx));
      await same(`maxPool [${c.x}] forward`, [x], (xx) =>
        tf.grad((a: tf.Tensor) => {
          const y = pool(a);
          return tf.sum(y);
        })(xx),
      );
      noFallbacks(`maxPool [${c.x}]`);
    });
  }
  test('outside a gradient tape it is tf.maxPool (no workspace)', async () => {
    await same('maxPool no tape', [{ shape: [2, 7, 7, 3] }], (xx) => maxPool(xx as tf.Tensor4D, [3, 3], [2, 2], 'valid'));
  });
});

describe('matrix products', () => {
  const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
    { a: [7, 5], b: [7, 3], ta: true, tb: false },
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [4, 5, 7], b: [4, 7, 3], ta: false, tb: false },
    { a: [4, 5, 7], b: [7, 3], ta: false, tb: false },
    { a: [1, 7, 5], b: [4, 3, 7], ta: true, tb: true },
    { a: [2, 3, 5, 7], b: [2, 3, 7, 4], ta: false, tb: false },
    { a: [64, 64], b: [64, 10], ta: false, tb: false },
    // Large enough for oneDNN's matmul (small products run a plain loop).
    { a: [2, 70, 300], b: [2, 300, 130], ta: false, tb: false },
    { a: [300, 70], b: [130, 300], ta: true, tb: true },
    { a: [3, 70, 300], b: [300, 130], ta: false, tb: false },
  ];
  for (const c of cases) {
    const label = `[${c.a}]${c.ta ? 'ᵀ' : ''} x [${c.b}]${c.tb ? 'ᵀ' : ''}`;
    test(`matMul, fused matMul with bias and activations, and gradients: ${label}`, async () => {
      const n = c.tb ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
      await same(`matMul ${label}`, [{ shape: c.a }, { shape: c.b }], (a, b) => tf.matMul(a, b, c.ta, c.tb));
      for (const activation of ACTS) {
        await same(`fused ${activation} ${label}`, [{ shape: c.a }, { shape: c.b }, { shape: [n] }], (a, b, bias) =>
          tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias, activation, leakyreluAlpha: 0.1 }),
        );
      }
      // tfjs's BatchMatMul gradient does not reduce broadcast batch dimensions: only equal ones.
      if (tf.util.arraysEqual(c.a.slice(0, -2), c.b.slice(0, -2))) {
        await same(`matMul grads ${label}`, [{ shape: c.a }, { shape: c.b }], (a, b) =>
          tf.grads((x: tf.Tensor, y: tf.Tensor) => weighted(tf.matMul(x, y, c.ta, c.tb)))([a, b]),
        );
      }
      noFallbacks(label);
    });
  }
});

describe('broadcasting arithmetic and tile', () => {
  const pairs: Array<[number[], number[]]> = [
    [
      [16, 9, 9, 8],
      [16, 9, 9, 8],
    ],
    [[16, 9, 9, 8], [8]],
    [
      [16, 9, 9, 8],
      [16, 9, 9, 1],
    ],
    [
      [2, 1, 30, 8],
      [5, 1, 8],
    ],
    [[], [64, 70]],
    [
      [70, 1],
      [1, 64],
    ],
  ];
  const ops = [tf.add, tf.sub, tf.mul, tf.div, tf.squaredDifference, tf.maximum, tf.minimum] as const;
  for (const [a, b] of pairs) {
    test(`add, sub, mul, div, squaredDifference, maximum, minimum with gradients: [${a}] and [${b}]`, async () => {
      await same(`ops [${a}] [${b}]`, [{ shape: a }, { shape: b, lo: 0.5, hi: 2 }], (x, y) => ops.map((op) => op(x, y)));
      await same(`grads [${a}] [${b}]`, [{ shape: a }, { shape: b, lo: 0.5, hi: 2 }], (x, y) =>
        // (tfjs's SquaredDifference/Maximum gradients do not reduce broadcast dimensions: left out.)
        tf.grads((p: tf.Tensor, q: tf.Tensor) => weighted(tf.sub(tf.add(tf.mul(p, q), tf.div(p, q)), q)))([x, y]),
      );
      noFallbacks(`[${a}] [${b}]`);
    });
  }

  test('unary maths: square, sqrt, rsqrt, neg, abs, exp, log, sigmoid, tanh, with gradients', async () => {
    const x: Spec = { shape: [16, 9, 9, 8], lo: 0.1, hi: 3 };
    const fns = [tf.square, tf.sqrt, tf.rsqrt, tf.neg, tf.abs, tf.exp, tf.log, tf.sigmoid, tf.tanh];
    await same('unary', [x], (a) => fns.map((f) => f(a)));
    await same('unary grads', [x], (a) =>
      tf.grad((t: tf.Tensor) => weighted(tf.add(tf.mul(tf.square(t), tf.sqrt(t)), tf.exp(tf.neg(t)))))(a),
    );
    noFallbacks('unary');
  });

  test('maximum and minimum propagate NaN like Math.max', async () => {
    await tf.setBackend('native');
    const a = tf.fill([64, 80], NaN);
    const b = tf.ones([64, 80]);
    for (const r of [tf.maximum(a, b), tf.minimum(b, a)]) assert.ok(r.dataSync().every(Number.isNaN));
    tf.dispose([a, b]);
  });

  test('tile over each axis', async () => {
    await same('tile', [{ shape: [5, 7, 3] }], (x) => [tf.tile(x, [40, 1, 1]), tf.tile(x, [2, 30, 3]), tf.tile(x, [1, 1, 200])]);
    noFallbacks('tile');
  });
});

describe('normalisation, reductions, element-wise', () => {
  test('batch norm with given statistics (inference), rank 4 and 2, with and without scale/offset', async () => {
    for (const shape of [
      [3, 5, 4, 6],
      [7, 6],
    ]) {
      const c: Spec = { shape: [6] };
      const v: Spec = { shape: [6], lo: 0.1, hi: 2 };
      await same(`batchNorm ${shape}`, [{ shape }, c, v, c, c], (x, m, va, off, sc) => tf.batchNorm(x, m, va, off, sc, 1e-3));
      await same(`batchNorm no scale ${shape}`, [{ shape }, c, v], (x, m, va) => tf.batchNorm(x, m, va, undefined, undefined, 1e-3));
    }
    noFallbacks('batchNorm', ['FusedBatchNorm']);
  });

  test('training batch norm kernel: output, statistics and gradients equal tf.moments + tf.batchNorm', async () => {
    for (const shape of [
      [8, 5, 5, 6],
      [16, 13, 13, 32],
    ]) {
      const ch = shape[3];
      const specs: Spec[] = [{ shape, lo: 2, hi: 4 }, { shape: [ch] }, { shape: [ch] }];
      const reference = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return [tf.batchNorm(x, mean, variance, b, g, 1e-3), mean, variance];
      };
      // cpu runs tfjs's composite ops; native runs the fused kernel.
      await same(`bn ${shape}`, specs, (x, g, b) => (tf.getBackend() === 'cpu' ? reference(x, g, b) : batchNormTraining(x, g, b, 1e-3)));
      await same(`bn grads ${shape}`, specs, (x, g, b) =>
        tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          weighted(tf.getBackend() === 'cpu' ? reference(xx, gg, bb)[0] : batchNormTraining(xx, gg, bb, 1e-3)[0]),
        )([x, g, b]),
      );
    }
  });

  test('batch norm + relu (one pass on native) equals tf.moments + tf.batchNorm + tf.relu, with gradients', async () => {
    for (const shape of [
      [64, 26, 26, 32],
      [64, 10, 10, 64],
      [3, 7, 5, 6],
    ]) {
      const ch = shape[3];
      const specs: Spec[] = [{ shape, lo: -1, hi: 2 }, { shape: [ch] }, { shape: [ch] }];
      const bnRelu = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        if (tf.getBackend() === 'cpu') {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          return tf.relu(tf.batchNorm(x, mean, variance, b, g, 1e-3));
        }
        return tf.relu(batchNormTraining(x, g, b, 1e-3)[0]);
      };
      await same(`bn+relu ${shape}`, specs, bnRelu);
      await same(`bn+relu grads ${shape}`, specs, (x, g, b) =>
        tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => weighted(bnRelu(xx, gg, bb)))([x, g, b]),
      );
    }
    noFallbacks('bn+relu');
  });

  test('batch norm -> relu -> max pooling (one forward and one backward kernel on native) equals the composed ops, with gradients', async () => {
    // The layers' chain: on native neither the batch norm's nor the relu's output is written,
    // and the three gradients are one kernel. Odd channel counts take the scalar tail; 'same'
    // padding, stride 1 and 2x2 windows cover the other pooling geometries.
    const cases: Array<{ shape: number[]; size: [number, number]; stride: [number, number]; pad: 'same' | 'valid' }> = [
      { shape: [64, 26, 26, 32], size: [3, 3], stride: [2, 2], pad: 'valid' },
      { shape: [64, 10, 10, 64], size: [3, 3], stride: [2, 2], pad: 'valid' },
      { shape: [3, 9, 8, 11], size: [3, 3], stride: [1, 1], pad: 'same' },
      { shape: [2, 7, 6, 5], size: [2, 2], stride: [2, 2], pad: 'same' },
      { shape: [1, 5, 5, 3], size: [3, 2], stride: [2, 1], pad: 'valid' },
    ];
    for (const c of cases) {
      const ch = c.shape[3];
      const specs: Spec[] = [{ shape: c.shape, lo: -1, hi: 2 }, { shape: [ch] }, { shape: [ch] }];
      const chain = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        if (tf.getBackend() === 'cpu') {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          return tf.maxPool(tf.relu(tf.batchNorm(x, mean, variance, b, g, 1e-3)) as tf.Tensor4D, c.size, c.stride, c.pad);
        }
        return maxPool(tf.relu(batchNormTraining(x, g, b, 1e-3)[0]) as tf.Tensor4D, c.size, c.stride, c.pad);
      };
      const label = `bn+relu+maxPool [${c.shape}] ${c.size} stride ${c.stride} ${c.pad}`;
      await same(label, specs, (x, g, b) => tf.grad((xx: tf.Tensor) => tf.sum(chain(xx, g, b)))(x));
      await same(`${label} grads`, specs, (x, g, b) =>
        tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => weighted(chain(xx, gg, bb)))([x, g, b]),
      );
    }
    noFallbacks('bn+relu+maxPool');
  });

  test("the fused chain's input gradient summed per channel (a convolution's bias gradient) is dx's true sum", async () => {
    // The batch norm gradient sums dx on the way and Sum reads that. The sum is ~0 (a batch
    // norm's input gradient sums to zero per channel), so it is checked against dx's own
    // values summed in float64, not against cpu's rounding noise.
    await tf.setBackend('native');
    const [x, g, b] = [
      tf.randomUniform([8, 12, 12, 16], -1, 2, 'float32', 5),
      tf.randomUniform([16], 0.5, 1.5, 'float32', 6),
      tf.randomUniform([16], -0.5, 0.5, 'float32', 7),
    ];
    const dx = tf.grad((xx: tf.Tensor) =>
      weighted(maxPool(tf.relu(batchNormTraining(xx, g, b, 1e-3)[0]) as tf.Tensor4D, [3, 3], [2, 2], 'valid')),
    )(x);
    const values = dx.dataSync(); // computes the pending dx
    assert.ok((tf.backend() as NativeBackend).channelSumsOf(dx.dataId), 'computing dx recorded its channel sums');
    const got = tf.sum(dx, [0, 1, 2]).dataSync();
    for (let j = 0; j < 16; j++) {
      let [want, mag] = [0, 0];
      for (let i = j; i < values.length; i += 16) {
        want += values[i];
        mag += Math.abs(values[i]);
      }
      assert.ok(Math.abs(got[j] - want) <= 1e-5 * mag, `channel ${j}: ${got[j]} vs ${want} (sum of |dx| ${mag})`);
    }
    tf.dispose([x, g, b, dx]);
  });

  test('a first-layer convolution before the chain: its filter gradient from dx computed image by image (never written), bias gradient ~0', async () => {
    const addon = registerNativeBackend().addon!;
    const original = addon.bnPooledDxFilterGrad;
    let fused = 0;
    addon.bnPooledDxFilterGrad = (...a: Parameters<typeof original>) => {
      fused++;
      return original(...a);
    };
    try {
      const cases: Array<{ x: number[]; filter: number[]; stride: number; pad: 'same' | 'valid' }> = [
        { x: [64, 28, 28, 1], filter: [3, 3, 1, 32], stride: 1, pad: 'valid' },
        { x: [3, 11, 9, 3], filter: [3, 2, 3, 5], stride: 2, pad: 'same' },
        { x: [2, 9, 9, 2], filter: [5, 5, 2, 9], stride: 1, pad: 'same' },
      ];
      for (const c of cases) {
        const co = c.filter[3];
        const specs: Spec[] = [
          { shape: c.x, lo: 0, hi: 1 },
          { shape: c.filter },
          { shape: [co] },
          { shape: [co], lo: 0.5, hi: 1.5 },
          { shape: [co] },
        ];
        const net = (x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const y = conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, bias, strides: c.stride, pad: c.pad });
          if (tf.getBackend() === 'cpu') {
            const { mean, variance } = tf.moments(y, [0, 1, 2]);
            return tf.maxPool(tf.relu(tf.batchNorm(y, mean, variance, b, g, 1e-3)) as tf.Tensor4D, 3, 2, 'valid');
          }
          return maxPool(tf.relu(batchNormTraining(y, g, b, 1e-3)[0]) as tf.Tensor4D, [3, 3], [2, 2], 'valid');
        };
        const label = `conv [${c.x}] * [${c.filter}] stride ${c.stride} ${c.pad} -> bn+relu+maxPool`;
        const before = fused;
        await same(`${label}: output, filter, gamma, beta gradients`, specs, (x, w, bias, g, b) => {
          const [dw, , dg, db] = tf.grads((ww: tf.Tensor, bb: tf.Tensor, gg: tf.Tensor, be: tf.Tensor) => weighted(net(x, ww, bb, gg, be)))(
            [w, bias, g, b],
          );
          return [net(x, w, bias, g, b), dw, dg, db];
        });
        assert.equal(fused, before + 1, `${label}: the fused filter gradient ran`);
        // The bias gradient is a batch norm input gradient's sum: zero but for rounding.
        await tf.setBackend('native');
        const ts = specs.map((sp, i) => tf.randomUniform(sp.shape, sp.lo ?? -1, sp.hi ?? 1, 'float32', 40 + i));
        const [dw, dbias] = tf.grads((ww: tf.Tensor, bb: tf.Tensor) => weighted(net(ts[0], ww, bb, ts[3], ts[4])))([ts[1], ts[2]]);
        const scale = tf.max(tf.abs(dw)).dataSync()[0];
        assert.ok(tf.max(tf.abs(dbias)).dataSync()[0] <= 1e-4 * scale, `${label}: bias gradient ~0`);
        tf.dispose([...ts, dw, dbias]);
      }
      noFallbacks('first layer before the chain');
    } finally {
      addon.bnPooledDxFilterGrad = original;
    }
  });

  test('softmax on native equals cpu, with its gradient', async () => {
    for (const shape of [
      [64, 10],
      [3, 5, 7],
      [1, 1],
      [2, 1000],
    ]) {
      const specs: Spec[] = [{ shape, lo: -80, hi: 80 }];
      await same(`softmax [${shape}]`, specs, (l) => tf.softmax(l));
      await same(`softmax grad [${shape}]`, specs, (l) => tf.grad((ll: tf.Tensor) => weighted(tf.softmax(ll)))(l));
    }
    noFallbacks('softmax', ['Softmax']);
  });

  test('inference batch norm -> relu -> max pooling (evaluate, predict) pools on the fly and equals cpu', async () => {
    const cases: Array<{ shape: number[]; size: [number, number]; stride: [number, number]; pad: 'same' | 'valid' }> = [
      { shape: [50, 26, 26, 32], size: [3, 3], stride: [2, 2], pad: 'valid' },
      { shape: [3, 9, 8, 11], size: [3, 3], stride: [1, 1], pad: 'same' },
      { shape: [2, 7, 6, 5], size: [2, 2], stride: [2, 2], pad: 'same' },
    ];
    for (const c of cases) {
      const ch = c.shape[3];
      const specs: Spec[] = [
        { shape: c.shape, lo: -1, hi: 2 },
        { shape: [ch] },
        { shape: [ch], lo: 0.1, hi: 2 },
        { shape: [ch] },
        { shape: [ch] },
      ];
      const label = `inference bn+relu+maxPool [${c.shape}] ${c.size} stride ${c.stride} ${c.pad}`;
      await same(label, specs, (x, m, v, off, g) => [
        tf.maxPool(tf.relu(tf.batchNorm(x, m, v, off, g, 1e-3)) as tf.Tensor4D, c.size, c.stride, c.pad),
        // without offset and scale, and with one value standing for every channel (not deferred)
        tf.maxPool(tf.relu(tf.batchNorm(x, m, v)) as tf.Tensor4D, c.size, c.stride, c.pad),
        tf.maxPool(
          tf.relu(tf.batchNorm(x, tf.scalar(0.1), tf.scalar(1.5), tf.scalar(0.5), tf.scalar(2))) as tf.Tensor4D,
          c.size,
          c.stride,
          c.pad,
        ),
        // the batch norm's own output, read as a tensor
        tf.add(tf.batchNorm(x, m, v, off, g, 1e-3), 0),
        // reshaped so that the channels regroup before the relu and the pooling: not fused
        tf.maxPool(
          tf.relu(tf.reshape(tf.batchNorm(x, m, v, off, g, 1e-3), [c.shape[0], c.shape[1], c.shape[2] * ch, 1])) as tf.Tensor4D,
          c.size,
          c.stride,
          c.pad,
        ),
      ]);
    }
    noFallbacks('inference chain', ['MaxPool', 'FusedBatchNorm', 'Relu']);
  });

  /** Inputs of an inference conv chain: x, filter, bias, mean, variance (positive), offset, scale. */
  const convChainSpecs = (x: number[], f: number[]): Spec[] => {
    const ch = f[3];
    return [
      { shape: x, lo: -1, hi: 2 },
      { shape: f },
      { shape: [ch] },
      { shape: [ch] },
      { shape: [ch], lo: 0.1, hi: 2 },
      { shape: [ch] },
      { shape: [ch] },
    ];
  };

  test('inference conv -> batch norm -> relu -> max pooling of a first layer runs image by image and equals cpu', async () => {
    const addon = registerNativeBackend().addon!;
    const fused = addon.convBnReluMaxPool;
    let calls = 0;
    addon.convBnReluMaxPool = (...a: Parameters<typeof fused>) => {
      const ran = fused(...a);
      if (ran) calls++;
      return ran;
    };
    try {
      const cases: Array<{ x: number[]; f: number[]; stride: number; pad: 'same' | 'valid'; pool: [number, number] }> = [
        { x: [50, 28, 28, 1], f: [3, 3, 1, 32], stride: 1, pad: 'valid', pool: [3, 2] }, // the article's first layer
        { x: [3, 11, 9, 3], f: [3, 2, 3, 5], stride: 2, pad: 'same', pool: [2, 1] }, // channels not whole vectors
        { x: [2, 9, 9, 4], f: [5, 5, 4, 16], stride: 1, pad: 'same', pool: [3, 3] },
      ];
      for (const c of cases) {
        const specs = convChainSpecs(c.x, c.f);
        const before = calls;
        const chain = (x: tf.Tensor, f: tf.Tensor, bias: tf.Tensor, m: tf.Tensor, v: tf.Tensor, off: tf.Tensor, g: tf.Tensor) => {
          // the layers' convolution (its own kernel; tfjs's fused conv2d on cpu)
          const conv = () => conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias, strides: c.stride, pad: c.pad });
          const pool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.pool[0], c.pool[1], 'valid');
          const plainConv = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.stride, c.pad);
          const bnOfPending = tf.batchNorm(conv(), m, v, off, g, 1e-3);
          return [
            pool(tf.relu(tf.batchNorm(conv(), m, v, off, g, 1e-3))),
            pool(tf.relu(tf.batchNorm(plainConv, m, v))), // tfjs's own Conv2D kernel, no bias
            // the convolution and the batch norm read as tensors of their own
            tf.add(plainConv, 0),
            tf.add(bnOfPending, 0),
            pool(tf.relu(bnOfPending)),
          ];
        };
        await same(`inference conv+bn+relu+maxPool x [${c.x}] filter [${c.f}] stride ${c.stride} ${c.pad}`, specs, chain);
        assert.ok(calls >= before + 2, `x [${c.x}]: the image-by-image chain ran ${calls - before} times, expected 2`);
      }
      // Under a gradient tape the convolution's output is saved for its gradient: not deferred.
      const x = tf.randomUniform([2, 8, 8, 1]);
      const f = tf.randomUniform([3, 3, 1, 16]);
      const before = calls;
      const dx = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.maxPool(tf.relu(tf.conv2d(t as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid')), 3, 2, 'valid')),
      )(x);
      assert.equal(calls, before, 'no fused inference chain under a tape');
      assert.ok(Array.from(dx.dataSync()).every(Number.isFinite));
      tf.dispose([x, f, dx]);
    } finally {
      addon.convBnReluMaxPool = fused;
    }
    noFallbacks('inference conv chain', ['MaxPool', 'FusedBatchNorm', 'Relu', 'Conv2D', CONV2D]);
  });

  test('inference conv -> batch norm -> relu -> max pooling of a later layer runs a chunk of images at a time and equals cpu', async () => {
    const addon = registerNativeBackend().addon!;
    const pool = addon.maxPoolArgmax;
    const chunks: number[] = [];
    addon.maxPoolArgmax = (...a: Parameters<typeof pool>) => {
      chunks.push(a[0][0]);
      return pool(...a);
    };
    try {
      const cases: Array<{ x: number[]; f: number[]; stride: number; pad: 'same' | 'valid'; pool: [number, number]; chunks: number[] }> = [
        // the article's second layer at 90 images: 40 a chunk (1 MB of output each)
        { x: [90, 12, 12, 32], f: [3, 3, 32, 64], stride: 1, pad: 'valid', pool: [2, 2], chunks: [40, 40, 10] },
        { x: [45, 20, 20, 8], f: [3, 3, 8, 40], stride: 1, pad: 'same', pool: [3, 2], chunks: [16, 16, 13] },
        { x: [5, 9, 7, 6], f: [3, 2, 6, 10], stride: 2, pad: 'same', pool: [2, 1], chunks: [5] }, // channels not whole vectors
      ];
      for (const c of cases) {
        const specs = convChainSpecs(c.x, c.f);
        chunks.length = 0;
        const chain = (x: tf.Tensor, f: tf.Tensor, bias: tf.Tensor, m: tf.Tensor, v: tf.Tensor, off: tf.Tensor, g: tf.Tensor) => {
          const conv = () => conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias, strides: c.stride, pad: c.pad });
          const maxPool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.pool[0], c.pool[1], 'valid');
          const bnOfPending = tf.batchNorm(conv(), m, v, off, g, 1e-3);
          return [
            maxPool(tf.relu(tf.batchNorm(conv(), m, v, off, g, 1e-3))),
            // the convolution and the batch norm read as tensors of their own
            tf.add(bnOfPending, 0),
            maxPool(tf.relu(bnOfPending)),
          ];
        };
        await same(`inference conv+bn+relu+maxPool in chunks x [${c.x}] filter [${c.f}] stride ${c.stride} ${c.pad}`, specs, chain);
        assert.deepEqual(chunks.slice(0, c.chunks.length), c.chunks, `x [${c.x}]: images per chunk`);
      }
    } finally {
      addon.maxPoolArgmax = pool;
    }
    noFallbacks('inference conv chain in chunks', ['MaxPool', 'FusedBatchNorm', 'Relu', CONV2D]);
  });

  test('the fused chain still gives every intermediate to whoever reads it: relu output, pooling gradient, relu gradient', async () => {
    const shape = [4, 9, 9, 6];
    const specs: Spec[] = [{ shape, lo: -1, hi: 2 }, { shape: [6] }, { shape: [6] }];
    const parts = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const native = tf.getBackend() !== 'cpu';
      const { mean, variance } = native ? { mean: undefined, variance: undefined } : tf.moments(x, [0, 1, 2]);
      const bn = native ? batchNormTraining(x, g, b, 1e-3)[0] : tf.batchNorm(x, mean!, variance!, b, g, 1e-3);
      const r = tf.relu(bn);
      const pool = (t: tf.Tensor) =>
        native ? maxPool(t as tf.Tensor4D, [3, 3], [2, 2], 'valid') : tf.maxPool(t as tf.Tensor4D, 3, 2, 'valid');
      // The gradients of the pooling and of relu(pooling input), read as tensors of their own.
      const dPool = tf.grad((t: tf.Tensor) => weighted(pool(t)))(r);
      const dRelu = tf.grad((t: tf.Tensor) => weighted(pool(tf.relu(t))))(bn);
      return [tf.add(r, 0), pool(r), dPool, dRelu];
    };
    await same('fused chain intermediates', specs, parts);
    noFallbacks('fused chain intermediates');
  });

  test('a batch norm output read by other kernels too (reshaped, added, read back) is computed for them', async () => {
    const shape = [4, 6, 5, 8];
    const specs: Spec[] = [{ shape, lo: -1, hi: 2 }, { shape: [8] }, { shape: [8] }];
    const bn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      if (tf.getBackend() === 'cpu') {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.batchNorm(x, mean, variance, b, g, 1e-3);
      }
      return batchNormTraining(x, g, b, 1e-3)[0];
    };
    // relu first (fused), then the same output through a reshape, an add and a slice.
    const uses = (y: tf.Tensor) => [
      tf.relu(y),
      tf.add(tf.reshape(y, [-1, 8]), 1),
      tf.slice(y, [1, 0, 0, 0], [2, 6, 5, 8]),
      tf.relu(tf.reshape(y, [24, 40])),
    ];
    await same('bn output reused', specs, (x, g, b) => uses(bn(x, g, b)));
    await same('bn output reused, gradients', specs, (x, g, b) =>
      tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.addN(uses(bn(xx, gg, bb)).map((t) => weighted(t))))([x, g, b]),
    );
    // Its input disposed before the output is read: the output is still right.
    await tf.setBackend('native');
    const [x, g, b] = specs.map((sp, i) =>
      tf.tensor(
        values(
          sp.shape.reduce((p, q) => p * q, 1),
          50 + i,
          -1,
          2,
        ),
        sp.shape,
      ),
    );
    const [y, mean, variance] = batchNormTraining(x, g, b, 1e-3);
    const want = tf.tidy(() => tf.batchNorm(x, mean, variance, b, g, 1e-3).dataSync().slice());
    x.dispose();
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.relu(tf.neg(tf.fill(shape, i + 1))).dataSync()); // recycle buffers
    const got = y.dataSync();
    assert.ok(
      got.every((v, i) => Math.abs(v - want[i]) < 1e-5),
      'the output computed after its input went matches tf.batchNorm',
    );
    tf.dispose([y, mean, variance, g, b]);
  });

  test('sum and mean over contiguous and scattered axes, with gradients', async () => {
    const x: Spec = { shape: [4, 5, 6, 7] };
    for (const axis of [[0, 1, 2], [1, 2], [3], [0], [0, 2], [0, 1, 3], [3, 1], [], undefined]) {
      await same(`sum ${axis}`, [x], (a) => tf.sum(a, axis));
      await same(`mean keepDims ${axis}`, [x], (a) => tf.mean(a, axis, true));
      await same(`mean grad ${axis}`, [x], (a) => tf.grad((t: tf.Tensor) => weighted(tf.mean(t, axis)))(a));
    }
    noFallbacks('sum/mean');
  });

  test('relu and its gradient, large and small', async () => {
    for (const shape of [
      [8, 26, 26, 32],
      [3, 5],
    ]) {
      await same(`relu ${shape}`, [{ shape }], (a) => [tf.relu(a), tf.grad((t: tf.Tensor) => weighted(tf.relu(t)))(a)]);
    }
    noFallbacks('relu');
  });

  test('sparse softmax cross-entropy kernel equals logSoftmax with one-hot labels, with gradient', async () => {
    const specs: Spec[] = [
      { shape: [64, 10], lo: -5, hi: 5 },
      { shape: [64], dtype: 'int32', lo: 0, hi: 10 },
    ];
    const reference = (l: tf.Tensor, y: tf.Tensor) => tf.neg(tf.sum(tf.mul(tf.oneHot(y as tf.Tensor1D, 10), tf.logSoftmax(l)), -1));
    const f = (l: tf.Tensor, y: tf.Tensor) => (tf.getBackend() === 'cpu' ? reference(l, y) : sparseSoftmaxCrossEntropyPerExample(y, l));
    await same('xent', specs, (l, y) => [f(l, y), tf.grad((t: tf.Tensor) => weighted(f(t, y)))(l)]);
  });

  test('float32 tensors that hold integer arrays (casts from int32 and bool) are read as numbers', async () => {
    const ints: Spec = { shape: [2, 6, 6, 3], dtype: 'int32', lo: -5, hi: 5 };
    const asFloat = (t: tf.Tensor) => tf.cast(t, 'float32');
    await same('cast sum/mean/relu', [ints], (a) => [
      tf.sum(asFloat(a)),
      tf.mean(asFloat(a), [1, 2]),
      tf.relu(asFloat(a)),
      tf.sum(tf.cast(tf.greater(a, 0), 'float32')),
    ]);
    await same('cast conv/pool/matmul', [ints, { shape: [3, 3, 3, 4], dtype: 'int32', lo: -3, hi: 3 }], (a, f) => [
      tf.conv2d(asFloat(a) as tf.Tensor4D, asFloat(f) as tf.Tensor4D, 1, 'same'),
      tf.maxPool(asFloat(a) as tf.Tensor4D, 2, 2, 'valid'),
      tf.matMul(tf.reshape(asFloat(a), [12, 18]), tf.reshape(asFloat(f), [18, 6])),
    ]);
    const labels: Spec = { shape: [8], dtype: 'int32', lo: 0, hi: 5 };
    await same('float labels', [{ shape: [8, 5] }, labels], (l, y) =>
      tf.getBackend() === 'cpu'
        ? tf.neg(tf.sum(tf.mul(tf.oneHot(y as tf.Tensor1D, 5), tf.logSoftmax(l)), -1))
        : sparseSoftmaxCrossEntropyPerExample(tf.cast(y, 'float32'), l),
    );
    noFallbacks('casts', ['Sum', 'Relu', 'Conv2D', 'MaxPool', 'BatchMatMul']);
  });

  test("batch norm's moving averages kernel equals the composed update, bit for bit", async () => {
    const specs: Spec[] = [{ shape: [37] }, { shape: [37], lo: 0, hi: 2 }, { shape: [37] }, { shape: [37], lo: 0, hi: 1 }];
    const composed = (mm: tf.Tensor, mv: tf.Tensor, m: tf.Tensor, v: tf.Tensor, momentum: number, correction: number) => [
      tf.add(tf.mul(mm, momentum), tf.mul(m, 1 - momentum)),
      tf.add(tf.mul(mv, momentum), tf.mul(tf.mul(v, correction), 1 - momentum)),
    ];
    await same('moving averages', specs, (mm, mv, m, v) =>
      tf.getBackend() === 'cpu' ? composed(mm, mv, m, v, 0.99, 64 / 63) : batchNormMovingAverages(mm, mv, m, v, 0.99, 64 / 63),
    );
    // The same roundings as the composed ops (on native too): the same moving averages exactly.
    await tf.setBackend('native');
    const ts = specs.map((sp, i) => tf.randomUniform(sp.shape, sp.lo ?? -1, sp.hi ?? 1, 'float32', 70 + i));
    const fused = batchNormMovingAverages(ts[0], ts[1], ts[2], ts[3], 0.9, 8 / 7);
    const plain = composed(ts[0], ts[1], ts[2], ts[3], 0.9, 8 / 7);
    for (const [k, t] of fused.entries()) assert.deepEqual(t.dataSync(), plain[k].dataSync(), `output ${k}`);
    tf.dispose([...ts, ...fused, ...plain]);
    noFallbacks('moving averages');
  });

  test('Adam update kernel equals the composed TF1 update (lr_t as a number and as a scalar tensor)', async () => {
    const specs: Spec[] = [{ shape: [300] }, { shape: [300] }, { shape: [300], lo: 0, hi: 1 }, { shape: [300] }];
    for (const lrAsTensor of [false, true]) {
      await same('adam', specs, (v, m, s, g) => {
        if (tf.getBackend() === 'native') return adamUpdate(v, m, s, g, lrAsTensor ? tf.scalar(0.01) : 0.01, 0.9, 0.999, 1e-8);
        const nm = tf.add(tf.mul(m, 0.9), tf.mul(g, 0.1));
        const ns = tf.add(tf.mul(s, 0.999), tf.mul(tf.square(g), 0.001));
        return [tf.sub(v, tf.div(tf.mul(nm, 0.01), tf.add(tf.sqrt(ns), 1e-8))), nm, ns];
      });
    }
  });

  test("Adam update kernel given the beta powers computes TF1's lr_t from them (number and tensor rate) = the composed update", async () => {
    const specs: Spec[] = [
      { shape: [300] },
      { shape: [300] },
      { shape: [300], lo: 0, hi: 1 },
      { shape: [300] },
      { shape: [], lo: 0.4, hi: 0.6 },
      { shape: [], lo: 0.99, hi: 0.995 },
    ];
    for (const lrAsTensor of [false, true]) {
      await same('adam, beta powers', specs, (v, m, s, g, b1p, b2p) => {
        if (tf.getBackend() === 'native') {
          const powers = { beta1Power: b1p as tf.Scalar, beta2Power: b2p as tf.Scalar };
          return adamUpdate(v, m, s, g, lrAsTensor ? tf.scalar(0.01) : 0.01, 0.9, 0.999, 1e-8, powers);
        }
        const lrT = tf.div(tf.mul(0.01, tf.sqrt(tf.sub(1, b2p))), tf.sub(1, b1p));
        const nm = tf.add(tf.mul(m, 0.9), tf.mul(g, 0.1));
        const ns = tf.add(tf.mul(s, 0.999), tf.mul(tf.square(g), 0.001));
        return [tf.sub(v, tf.div(tf.mul(nm, lrT), tf.add(tf.sqrt(ns), 1e-8))), nm, ns];
      });
    }
    noFallbacks('adam with powers');
  });
});

describe('the addon checks buffer lengths against the shapes it is given', () => {
  // A wrong length would read or write past the JavaScript array: the addon throws instead.
  test('pooling and batch norm entry points throw on short or long buffers, naming the argument', () => {
    const addon = registerNativeBackend().addon!;
    const f = (n: number) => new Float32Array(n);
    const pool = Int32Array.from([2, 6, 6, 3, 2, 2, 3, 3, 2, 2, 0, 0, 0, 0]); // [2,6,6,3] -> [2,2,2,3]
    const ws = f(48); // argmax and value per output element
    assert.throws(() => addon.maxPoolArgmax(pool, f(2 * 6 * 6 * 3 - 1), null, null, f(24), ws), /maxPoolArgmax x/);
    assert.throws(() => addon.maxPoolArgmax(pool, f(216), null, null, f(23), ws), /maxPoolArgmax y/);
    assert.throws(() => addon.maxPoolArgmax(pool, f(216), null, null, f(24), f(24)), /maxPoolArgmax workspace/);
    assert.throws(() => addon.maxPoolArgmax(pool, f(216), f(3), null, f(24), ws), /both be given/);
    assert.throws(() => addon.maxPoolArgmax(pool, f(216), f(2), f(3), f(24), ws), /maxPoolArgmax scale, shift/);
    assert.throws(() => addon.maxPoolScatter(pool, f(24), f(0), f(216)), /maxPoolScatter workspace/);
    assert.throws(() => addon.maxPoolScatter(pool, f(24), ws, f(215)), /maxPoolScatter dx/);
    assert.throws(() => addon.maxPoolScatter(pool, f(24), ws, f(216), f(3)), /both be given/);
    assert.throws(
      () => addon.bnPooledGradStats(pool, 1e-3, f(24), f(20), f(3), f(3), f(3), f(3), f(3), f(3), f(3), f(9)),
      /bnPooledGradStats workspace/,
    );
    assert.throws(
      () => addon.bnPooledGradStats(pool, 1e-3, f(24), ws, f(3), f(3), f(3), f(3), f(4), f(3), f(3), f(9)),
      /bnPooledGradStats per-channel/,
    );
    assert.throws(() => addon.bnPooledGradStats(pool, 1e-3, f(24), ws, f(3), f(3), f(3), f(3), f(3), f(3), f(3), f(8)), /constants/);
    assert.throws(() => addon.bnPooledDx(pool, f(216), f(24), ws, f(3), f(3), f(3), f(9), f(215), null), /bnPooledDx dx/);
    assert.throws(() => addon.bnPooledDx(pool, f(215), f(24), ws, f(3), f(3), f(3), f(9), f(216), null), /bnPooledDx x/);
    // A [2,8,8,2] image batch through a 3x3 valid convolution gives the pooling's [2,6,6,3] input.
    const conv = Int32Array.from([2, 8, 8, 2, 6, 6, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    const chain = (images: number, dw: number) => () =>
      addon.bnPooledDxFilterGrad(pool, conv, f(images), f(216), f(24), ws, f(3), f(3), f(3), f(9), f(dw), f(3));
    assert.throws(chain(255, 54), /bnPooledDxFilterGrad images/);
    assert.throws(chain(256, 53), /bnPooledDxFilterGrad dw/);
    const other = Int32Array.from([2, 8, 8, 2, 6, 6, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    assert.throws(
      () => addon.bnPooledDxFilterGrad(pool, other, f(256), f(216), f(24), ws, f(3), f(3), f(3), f(9), f(72), f(3)),
      /not the batch norm's input/,
    );
    assert.throws(() => addon.maxPoolBackward(pool, f(216), f(20), f(216)), /maxPoolBackward dy/);
    assert.throws(() => addon.bnTrainForward(72, 3, 1e-3, f(215), f(3), f(3), f(216), f(3), f(3)), /bnTrainForward x/);
    assert.throws(() => addon.bnTrainForward(72, 3, 1e-3, f(216), f(2), f(3), f(216), f(3), f(3)), /per-channel/);
    assert.throws(() => addon.bnTrainForward(72, 3, 1e-3, f(216), f(3), f(3), f(217), f(3), f(3)), /bnTrainForward y/);
    assert.throws(
      () => addon.bnTrainBackward(72, 3, 1e-3, f(216), f(216), f(3), f(3), f(3), f(200), f(3), f(3)),
      /bnTrainBackward x, dy, dx/,
    );
    assert.throws(() => addon.bnTrainBackward(72, 3, 1e-3, f(216), f(216), f(3), f(3), f(3), f(216), f(3), f(3), f(100)), /reluOut/);
    assert.throws(() => addon.affine(72, 3, f(216), f(3), f(4), true, f(216)), /affine shift/);
    assert.throws(() => addon.affine(72, 3, f(216), f(3), f(3), true, f(215)), /affine y/);
    assert.throws(() => addon.poolForward(pool, 0, f(215), f(24)), /poolForward x/);
    assert.throws(() => addon.poolForward(pool, 1, f(216), f(25)), /poolForward y/);
    assert.throws(() => addon.poolForward(pool, 7, f(216), f(24)), /unknown mode 7/);
    assert.throws(() => addon.avgPoolBackward(pool, 2, f(23), f(216)), /avgPoolBackward dy/);
    assert.throws(() => addon.avgPoolBackward(pool, 2, f(24), f(217)), /avgPoolBackward dx/);
    assert.throws(() => addon.bnInference(72, 3, 1e-3, f(216), f(3), f(2), null, null, f(216)), /bnInference variance/);
    assert.throws(() => addon.bnInference(72, 3, 1e-3, f(216), f(3), f(3), f(3), null, f(210)), /bnInference y/);
    // The right lengths pass.
    addon.maxPoolArgmax(pool, f(216), f(3), f(3), f(24), ws);
    // A workspace not written by maxPoolArgmax (indices out of range) is ignored, never followed.
    addon.maxPoolScatter(
      pool,
      f(24),
      Float32Array.from({ length: 48 }, () => 1e30),
      f(216),
    );
    addon.bnPooledGradStats(pool, 1e-3, f(24), ws, f(3), f(3), f(3), f(3), f(3), f(3), f(3), f(9));
    addon.bnPooledDx(pool, f(216), f(24), ws, f(3), f(3), f(3), f(9), f(216), f(3));
    chain(256, 54)();
    addon.bnTrainBackward(72, 3, 1e-3, f(216), f(216), f(3), f(3), f(3), f(216), f(3), f(3), f(216));
    addon.poolForward(pool, 1, f(216), f(24));
    addon.avgPoolBackward(pool, 2, f(24), f(216));
    addon.bnInference(72, 3, 1e-3, f(216), f(3), f(1), f(3), null, f(216)); // one value stands for every channel
  });

  test('convolution, matmul, element-wise and binary entry points throw on wrong buffer lengths, naming the argument', () => {
    const addon = registerNativeBackend().addon!;
    const f = (n: number) => new Float32Array(n);
    const i = (n: number) => new Int32Array(n);
    // [2,5,5,3] * [3,3,3,4] (stride 1, no padding) -> [2,3,3,4]; x 150, w 108, bias 4, y 72.
    const conv = Int32Array.from([2, 5, 5, 3, 3, 3, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    assert.throws(() => addon.conv2dForward(conv, f(149), f(108), null, 0, 0, f(72)), /conv2dForward x/);
    assert.throws(() => addon.conv2dForward(conv, f(150), f(107), null, 0, 0, f(72)), /conv2dForward w/);
    assert.throws(() => addon.conv2dForward(conv, f(150), f(108), f(3), 0, 0, f(72)), /conv2dForward bias/);
    assert.throws(() => addon.conv2dForward(conv, f(150), f(108), null, 0, 0, f(73)), /conv2dForward out/);
    assert.throws(() => addon.conv2dBackpropInput(conv, f(71), f(108), f(150)), /conv2dBackpropInput dy/);
    assert.throws(() => addon.conv2dBackpropInput(conv, f(72), f(108), f(151)), /conv2dBackpropInput dx/);
    assert.throws(() => addon.conv2dBackpropFilter(conv, f(150), f(72), f(100)), /conv2dBackpropFilter dw/);
    assert.throws(() => addon.conv2dBackpropFilter(conv, f(1), f(72), f(108)), /conv2dBackpropFilter x/);
    // Depthwise, multiplier 2: [2,5,5,3] * [3,3,3,2] -> [2,3,3,6]; the filter has 54 values.
    const depthwise = Int32Array.from([2, 5, 5, 3, 3, 3, 6, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 3]);
    assert.throws(() => addon.conv2dForward(depthwise, f(150), f(108), null, 0, 0, f(108)), /conv2dForward w/);
    // [2,4,6] x [6,5] (b broadcast over the batch) -> [2,4,5].
    const mm = Int32Array.from([2, 1, 4, 6, 5, 0, 0]);
    assert.throws(() => addon.matmul(mm, f(47), f(30), null, 0, 0, f(40)), /matmul a/);
    assert.throws(() => addon.matmul(mm, f(48), f(60), null, 0, 0, f(40)), /matmul b/);
    assert.throws(() => addon.matmul(mm, f(48), f(30), f(6), 0, 0, f(40)), /matmul bias/);
    assert.throws(() => addon.matmul(mm, f(48), f(30), null, 0, 0, f(20)), /matmul out/);
    assert.throws(() => addon.matmul(Int32Array.from([2, 3, 4, 6, 5, 0, 0]), f(48), f(90), null, 0, 0, f(120)), /matmul shape/);
    assert.throws(() => addon.relu(f(10), f(9)), /relu y/);
    assert.throws(() => addon.reluGrad(f(10), f(11), f(10)), /reluGrad x/);
    assert.throws(() => addon.reluGrad(f(10), f(10), f(1)), /reluGrad dx/);
    assert.throws(() => addon.reduceSum(2, 3, 4, 1, f(23), f(8)), /reduceSum x/);
    assert.throws(() => addon.reduceSum(2, 3, 4, 1, f(24), f(12)), /reduceSum out/);
    assert.throws(() => addon.reduceSum(-2, 3, -4, 1, f(24), f(8)), /negative/);
    assert.throws(() => addon.broadcastMiddle(2, 3, 4, 1, f(9), f(24)), /broadcastMiddle src/);
    assert.throws(() => addon.broadcastMiddle(2, 3, 4, 1, f(8), f(25)), /broadcastMiddle out/);
    assert.throws(() => addon.sparseSoftmaxXent(4, 5, f(19), i(4), f(4), f(20)), /sparseSoftmaxXent logits/);
    assert.throws(() => addon.sparseSoftmaxXent(4, 5, f(20), i(3), f(4), f(20)), /sparseSoftmaxXent labels/);
    assert.throws(() => addon.sparseSoftmaxXent(4, 5, f(20), i(4), f(5), f(20)), /sparseSoftmaxXent loss/);
    assert.throws(() => addon.sparseSoftmaxXent(4, 5, f(20), i(4), f(4), f(2)), /sparseSoftmaxXent softmax/);
    assert.throws(() => addon.sparseSoftmaxXentGrad(4, 5, f(20), i(4), f(3), f(20)), /sparseSoftmaxXentGrad dloss/);
    assert.throws(() => addon.sparseSoftmaxXentGrad(4, 5, f(20), i(4), f(4), f(21)), /sparseSoftmaxXentGrad dlogits/);
    assert.throws(() => addon.adamUpdate(f(8), f(8), f(7), f(8), f(8), f(8), f(8), 0.1, 0.9, 0.999, 1e-8), /adamUpdate s/);
    assert.throws(() => addon.adamUpdate(f(8), f(8), f(8), f(8), f(8), f(8), f(9), 0.1, 0.9, 0.999, 1e-8), /adamUpdate newS/);
    // [3,4] + [4] as the broadcast plan hands it over: shape [3,4], strides [4,1] and [0,1].
    const shape = Int32Array.from([3, 4]);
    const [as, bs] = [Int32Array.from([4, 1]), Int32Array.from([0, 1])];
    assert.throws(() => addon.binary(0, shape, as, bs, f(11), f(4), f(12)), /binary a/);
    assert.throws(() => addon.binary(0, shape, as, bs, f(12), f(12), f(12)), /binary b/);
    assert.throws(() => addon.binary(0, shape, as, bs, f(12), f(4), f(13)), /binary out/);
    assert.throws(() => addon.binary(0, shape, Int32Array.from([-4, 1]), bs, f(12), f(4), f(12)), /negative/);
    assert.throws(() => addon.unary(0, f(12), f(11)), /unary out/);
    assert.throws(() => addon.tile(Int32Array.from([2, 3]), Int32Array.from([2, 1]), f(5), f(12)), /tile x/);
    assert.throws(() => addon.tile(Int32Array.from([2, 3]), Int32Array.from([2, 1]), f(6), f(6)), /tile out/);
    // A buffer of the wrong type is named as well.
    assert.throws(() => addon.relu(f(4), new Int32Array(4) as unknown as Float32Array), /relu y: expected a Float32Array/);
    // The right lengths pass.
    addon.conv2dForward(conv, f(150), f(108), f(4), 1, 0, f(72));
    addon.conv2dBackpropInput(conv, f(72), f(108), f(150));
    addon.conv2dBackpropFilter(conv, f(150), f(72), f(108));
    addon.conv2dForward(depthwise, f(150), f(54), null, 0, 0, f(108));
    addon.matmul(mm, f(48), f(30), f(5), 1, 0, f(40));
    addon.relu(f(10), f(10));
    addon.reluGrad(f(10), f(10), f(10));
    addon.reduceSum(2, 3, 4, 1, f(24), f(8));
    addon.broadcastMiddle(2, 3, 4, 1, f(8), f(24));
    addon.sparseSoftmaxXent(4, 5, f(20), i(4), f(4), f(20));
    addon.sparseSoftmaxXentGrad(4, 5, f(20), i(4), f(4), f(20));
    addon.adamUpdate(f(8), f(8), f(8), f(8), f(8), f(8), f(8), 0.1, 0.9, 0.999, 1e-8);
    addon.binary(0, shape, as, bs, f(12), f(4), f(12));
    addon.unary(0, f(12), f(12));
    addon.tile(Int32Array.from([2, 3]), Int32Array.from([2, 1]), f(6), f(12));
  });
});
