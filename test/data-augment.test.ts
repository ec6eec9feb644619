import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { addNoise, randomShift, randomFlipLeftRight, resetSeeds, datasets, Example } from '../src/data';

beforeEach(() => resetSeeds());

/** A 7x7 image with a single lit pixel at (y, x). */
function dot(y: number, x: number): tf.Tensor2D {
  const v = new Float32Array(49);
  v[y * 7 + x] = 1;
  return tf.tensor2d(v, [7, 7]);
}

function litPixel(t: tf.Tensor): [number, number] {
  const v = t.dataSync();
  const i = v.findIndex((x) => x === 1);
  const w = t.shape[1] as number;
  return [Math.floor(i / w), i % w];
}

/** Runs f and asserts it added exactly one tensor (its result). */
function oneTensor(f: () => tf.Tensor): tf.Tensor {
  const before = tf.memory().numTensors;
  const out = f();
  assert.equal(tf.memory().numTensors, before + 1, 'only the result tensor remains');
  return out;
}

test('randomShift moves the image by whole pixels within maxShift, filling with zeros', () => {
  const img = dot(3, 3);
  const shifts = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const out = oneTensor(() => randomShift(img, 2, { seed: 11 }));
    assert.deepEqual(out.shape, [7, 7]);
    const [y, x] = litPixel(out);
    assert.ok(Math.abs(y - 3) <= 2 && Math.abs(x - 3) <= 2, `shifted to ${y},${x}`);
    assert.equal(out.sum().dataSync()[0], 1, 'one lit pixel, the rest zero');
    shifts.add(`${y},${x}`);
    out.dispose();
  }
  assert.ok(shifts.size > 10, `only ${shifts.size} distinct shifts`);
  // maxShift 0 is the identity; [rows, cols] limits each axis.
  assert.deepEqual(litPixel(randomShift(img, 0)), [3, 3]);
  for (let i = 0; i < 20; i++) assert.equal(litPixel(randomShift(img, [0, 3]))[0], 3);
  assert.throws(() => randomShift(img, 1.5), /maxShift must be a non-negative integer/);
});

test('seeded augmentation repeats its sequence in every run, and each call draws anew', () => {
  const img = dot(3, 3);
  const run = () => Array.from({ length: 8 }, () => litPixel(randomShift(img, 3, { seed: 'a' })).join(','));
  const first = run();
  resetSeeds();
  assert.deepEqual(run(), first, 'same seed, same sequence after resetSeeds');
  assert.ok(new Set(first).size > 1, 'successive calls differ');
  const noise = () =>
    addNoise(tf.fill([4, 4], 0.5), 0.1, { seed: 5 })
      .dataSync()
      .join();
  const n1 = noise();
  const n2 = noise();
  resetSeeds();
  assert.equal(noise(), n1);
  assert.notEqual(n1, n2);
});

test('each image of a batch [N, H, W, C] gets its own shift and flip', () => {
  const batchOf = (y: number, x: number) => tf.stack(Array.from({ length: 16 }, () => dot(y, x))).expandDims(-1) as tf.Tensor4D;
  const centred = batchOf(3, 3);
  const shifted = oneTensor(() => randomShift(centred, 3, { seed: 1 }));
  assert.deepEqual(shifted.shape, [16, 7, 7, 1]);
  const positions = new Set(tf.unstack(shifted.squeeze([3])).map((t) => litPixel(t).join(',')));
  assert.ok(positions.size > 3, `only ${positions.size} distinct shifts in the batch`);
  const leftEdge = batchOf(3, 0);
  const flipped = oneTensor(() => randomFlipLeftRight(leftEdge, { seed: 2 }));
  const xs = tf.unstack(flipped.squeeze([3])).map((t) => litPixel(t)[1]);
  assert.ok(xs.includes(0) && xs.includes(6), `flips: ${xs}`);
  assert.ok(xs.every((x) => x === 0 || x === 6));
});

test('randomFlipLeftRight mirrors [H, W] and [H, W, C] images about half the time', () => {
  let flips = 0;
  const img = dot(2, 1);
  for (let i = 0; i < 40; i++) {
    const out = oneTensor(() => randomFlipLeftRight(img, { seed: 9 }));
    const [y, x] = litPixel(out);
    assert.equal(y, 2);
    assert.ok(x === 1 || x === 5);
    if (x === 5) flips++;
  }
  assert.ok(flips > 5 && flips < 35, `${flips} flips of 40`);
  const rgb = tf.tensor3d([
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
  ]);
  const out = randomFlipLeftRight(rgb);
  assert.ok(
    [
      [1, 2, 3, 4, 5, 6],
      [4, 5, 6, 1, 2, 3],
    ].some((v) => v.join() === Array.from(out.dataSync()).join()),
  );
});

test('addNoise adds noise of the requested spread, clipped to [0, 1] unless told not to', () => {
  const img = tf.fill([100, 100], 0.5);
  const noisy = oneTensor(() => addNoise(img, 0.1, { seed: 3 }));
  const d = tf.sub(noisy, img);
  const std = Math.sqrt(tf.mean(tf.square(d)).dataSync()[0]);
  assert.ok(Math.abs(std - 0.1) < 0.01, `std ${std}`);
  const wide = addNoise(img, 2, { seed: 3 });
  assert.ok(wide.min().dataSync()[0] >= 0 && wide.max().dataSync()[0] <= 1);
  const unclipped = addNoise(img, 2, { seed: 3, clip: false });
  assert.ok(unclipped.max().dataSync()[0] > 1);
  assert.throws(() => addNoise(img, -1), /stddev must be >= 0/);
});

test('helpers work inside dataset.map and tf.tidy without leaking', async () => {
  const before = tf.memory().numTensors;
  const ds = datasets.mnist
    .test()
    .take(32)
    .map((e: Example) => ({
      image: randomFlipLeftRight(randomShift(addNoise(e.image, 0.05, { seed: 1 }), 2, { seed: 1 }), { seed: 1 }),
      label: e.label,
    }))
    .batch(16);
  await ds.forEachAsync((b) => {
    assert.deepEqual((b as { image: tf.Tensor }).image.shape, [16, 28, 28]);
    tf.dispose(b);
  });
  tf.tidy(() => {
    randomShift(tf.zeros([28, 28]), 2);
    randomFlipLeftRight(tf.zeros([28, 28, 1]));
    addNoise(tf.zeros([28, 28]), 0.1);
  });
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => randomShift(tf.zeros([5]), 1), /image must be \[H, W\], \[H, W, C\] or \[N, H, W, C\], got shape \[5\]/);
});
