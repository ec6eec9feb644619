// The MNIST datasets shuffle, repeat, take, skip and batch on indices; these tests hold them to
// what tf.data's own ops do on the same elements (reached through .map(x => x), which hands the
// pipeline to tf.data).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { datasets, Batch, Example } from '../src/data';
import { loadAddon } from '../src/backend/native/addon';

const { mnist } = datasets;
type AnyBatch = { image: tf.Tensor; label: tf.Tensor };

async function labels(ds: tf.data.Dataset<Example>): Promise<number[]> {
  const out: number[] = [];
  await ds.forEachAsync((e) => {
    out.push(e.label.dataSync()[0]);
    tf.dispose(e);
  });
  return out;
}

test("tf.data's batch() stacks dict elements into {image: [B,28,28], label: [B]}; ours builds the same tensors", async () => {
  const generic = (await mnist
    .test()
    .take(100)
    .map((e: Example) => e)
    .batch(32)
    .toArray()) as unknown as AnyBatch[];
  const ours = await mnist.test().take(100).batch(32).toArray();
  assert.deepEqual(
    generic.map((b) => b.image.shape),
    [
      [32, 28, 28],
      [32, 28, 28],
      [32, 28, 28],
      [4, 28, 28],
    ],
  );
  assert.deepEqual(
    generic.map((b) => b.label.shape),
    [[32], [32], [32], [4]],
  );
  assert.equal(generic[0].label.dtype, 'int32');
  assert.equal(ours.length, generic.length);
  for (let i = 0; i < ours.length; i++) {
    assert.deepEqual(ours[i].image.shape, generic[i].image.shape);
    assert.equal(ours[i].label.dtype, generic[i].label.dtype);
    assert.deepEqual(Array.from(ours[i].label.dataSync()), Array.from(generic[i].label.dataSync()));
    assert.deepEqual(Array.from(ours[i].image.dataSync()), Array.from(generic[i].image.dataSync()));
  }
  const noSmall = await mnist.test().take(100).batch(32, false).toArray();
  assert.deepEqual(
    noSmall.map((b: Batch) => b.label.shape[0]),
    [32, 32, 32],
  );
  assert.equal(mnist.test().take(100).batch(32).size, 4);
  assert.equal(mnist.test().take(100).batch(32, false).size, 3);
  tf.dispose([generic, ours, noSmall]);
});

test('batches of scattered examples (shuffled) hold exactly byte / 255, as the element path writes them', async () => {
  const batched = await mnist.train().shuffle(60000, 5).take(64).batch(64).toArray();
  const elements = (await mnist
    .train()
    .shuffle(60000, 5)
    .take(64)
    .map((e: Example) => e)
    .batch(64)
    .toArray()) as unknown as AnyBatch[];
  assert.deepEqual(Array.from(batched[0].label.dataSync()), Array.from(elements[0].label.dataSync()));
  assert.deepEqual(Array.from(batched[0].image.dataSync()), Array.from(elements[0].image.dataSync()));
  tf.dispose([batched, elements]);
  // The addon's gather checks the rows it is given against the bytes.
  const addon = loadAddon().addon;
  if (addon) {
    const bytes = new Uint8Array(10 * 4);
    assert.throws(() => addon.gatherUnitBytes(bytes, 4, Int32Array.from([10]), new Float32Array(4)), /row 10 is outside src/);
    assert.throws(() => addon.gatherUnitBytes(new Uint8Array(4), 4, Int32Array.from([0]), new Float32Array(3)), /dst/);
  }
});

test('take, skip and repeat match tf.data, sizes included', async () => {
  const first = await labels(mnist.test().take(10));
  assert.deepEqual(first, Array.from(mnist.raw('test').labels.data.subarray(0, 10)));
  assert.deepEqual(await labels(mnist.test().take(10).repeat(3)), [...first, ...first, ...first]);
  assert.deepEqual(await labels(mnist.test().take(10).skip(7)), first.slice(7));
  assert.deepEqual(await labels(mnist.test().skip(9995)), Array.from(mnist.raw('test').labels.data.subarray(9995)));
  assert.equal(mnist.test().take(10).repeat(3).size, 30);
  assert.equal(mnist.test().repeat().size, Infinity);
  assert.equal(mnist.test().skip(9995).size, 5);
  assert.equal(mnist.test().skip(-1).size, 0);
  assert.equal(mnist.test().take(0).size, 0);
  assert.deepEqual(await labels(mnist.test().take(0).repeat()), []);
  // The same sequence through tf.data's generic operators.
  const viaTfData = await labels(
    mnist
      .test()
      .map((e: Example) => e)
      .take(10)
      .repeat(2)
      .skip(5) as tf.data.Dataset<Example>,
  );
  assert.deepEqual(await labels(mnist.test().take(10).repeat(2).skip(5)), viaTfData);
});

test('shuffle is a seeded permutation: same seed same order, another seed or pass another order', async () => {
  const base = await labels(mnist.test().take(500));
  const a = await labels(mnist.test().take(500).shuffle(100, 'seed-1'));
  const b = await labels(mnist.test().take(500).shuffle(100, 'seed-1'));
  const c = await labels(mnist.test().take(500).shuffle(100, 'seed-2'));
  assert.deepEqual(a, b, 'a seed gives the same order in every run');
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, base);
  assert.deepEqual([...a].sort(), [...base].sort(), 'every example exactly once');
  // Numeric seeds work too; each pass over one dataset reshuffles, unless told not to.
  const ds = mnist.test().take(200).shuffle(200, 7);
  assert.notDeepEqual(await labels(ds), await labels(ds));
  const fixed = mnist.test().take(200).shuffle(200, 7, false);
  assert.deepEqual(await labels(fixed), await labels(fixed));
  // shuffle().repeat() gives each epoch its own order, reproducibly.
  const epochs = await labels(mnist.test().take(100).shuffle(100, 3).repeat(2));
  assert.notDeepEqual(epochs.slice(0, 100), epochs.slice(100));
  assert.deepEqual(epochs, await labels(mnist.test().take(100).shuffle(100, 3).repeat(2)));
  assert.throws(() => mnist.test().shuffle(0), /bufferSize must be a positive integer, got 0/);
});

test("a small shuffle buffer only mixes nearby examples, like tf.data's", async () => {
  // With a buffer of 10, the k-th example out was at most k + 9 in the file.
  const raw = mnist.raw('test');
  const images = await mnist.test().take(300).shuffle(10, 1).batch(300).toArray();
  const px = images[0].image.dataSync();
  const key = (bytes: ArrayLike<number>) => Buffer.from(Array.from(bytes)).toString('latin1');
  const fileIndex = new Map<string, number>();
  for (let i = 0; i < 300; i++) fileIndex.set(key(raw.images.data.subarray(i * 784, (i + 1) * 784)), i);
  assert.equal(fileIndex.size, 300, 'the first 300 images are distinct');
  const seen = new Set<number>();
  for (let k = 0; k < 300; k++) {
    const found = fileIndex.get(key(Array.from(px.subarray(k * 784, (k + 1) * 784), (v) => Math.round(v * 255)))) ?? -1;
    assert.ok(found >= 0 && found <= k + 9, `output ${k} came from example ${found}`);
    seen.add(found);
  }
  assert.equal(seen.size, 300);
  tf.dispose(images);
});

test("the article's pipeline train().shuffle(10000).repeat().batch(64) leaks nothing when abandoned", async () => {
  const before = tf.memory().numTensors;
  const it = await mnist.train().shuffle(10000, 'x').repeat().batch(64).iterator();
  for (let i = 0; i < 30; i++) {
    const { value } = await it.next();
    assert.deepEqual(value.image.shape, [64, 28, 28]);
    tf.dispose(value);
  }
  // No buffer of element tensors is left behind (tf.data's shuffle would hold 10,000 of them).
  assert.equal(tf.memory().numTensors, before);
  const it2 = await mnist.trainBatches(64, { repeat: true, shuffle: true, seed: 1 }).iterator();
  for (let i = 0; i < 30; i++) tf.dispose((await it2.next()).value);
  assert.equal(tf.memory().numTensors, before);
  // Element-wise use with tf.data's own map and batch frees the elements it stacks.
  const it3 = await mnist
    .test()
    .map((e: Example) => ({ image: tf.mul(e.image, 2), label: e.label }))
    .batch(16)
    .iterator();
  for (let i = 0; i < 5; i++) tf.dispose((await it3.next()).value);
  assert.equal(tf.memory().numTensors, before);
});

test('batches feed an Estimator-style loop: the mapped {xs, ys} pipeline of the tutorial notebook', async () => {
  const ds = mnist
    .train()
    .shuffle(10000, 1)
    .repeat()
    .batch(64)
    .map((b: Batch) => ({ xs: b.image, ys: b.label }));
  const [first] = (await ds.take(1).toArray()) as unknown as { xs: tf.Tensor; ys: tf.Tensor }[];
  assert.deepEqual(first.xs.shape, [64, 28, 28]);
  assert.deepEqual(first.ys.shape, [64]);
  tf.dispose(first);
});
