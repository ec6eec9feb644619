// Training the article's CNN on the native backend: the same losses as tfjs's cpu backend from
// the same seed, no tensor leak over many steps, and recycled output buffers that never
// overwrite an array someone still holds.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend, NativeBackend } from '../src/backend/native';
import { BufferPool } from '../src/backend/native/buffer-pool';
import { assertCnnTrainsAsOnCpu } from './helpers/backend-compare';
import { makeCnn, disposeCnn, trainStep, syntheticBatch } from '../bench/cnn-step';

before(async () => {
  const r = registerNativeBackend();
  assert.ok(
    r.addon,
    `the native addon is not available (${r.error}). Build it: apt-get install libdnnl-dev && npm rebuild (or node scripts/build-native.js)`,
  );
});

test('the CNN trains to the same losses on native as on cpu from the same seed', async () => {
  await assertCnnTrainsAsOnCpu('native');
});

test('training on native leaks no tensors and reuses its buffers', async () => {
  await tf.setBackend('native');
  const model = makeCnn(4);
  const { images, labels } = syntheticBatch(64, 5);
  for (let i = 0; i < 3; i++) trainStep(model, images, labels);
  const tensors = tf.memory().numTensors;
  const pool = (tf.backend() as NativeBackend).pool;
  const before = pool.stats();
  for (let i = 0; i < 30; i++) trainStep(model, images, labels);
  assert.equal(tf.memory().numTensors, tensors, 'tf.memory().numTensors is flat from step 3 to step 33');
  const after = pool.stats();
  assert.ok(after.hits - before.hits > 30 * 10, `buffers are recycled (${after.hits - before.hits} reuses)`);
  assert.ok(after.misses - before.misses <= 4, `steady steps allocate (almost) no new buffers (${after.misses - before.misses})`);
  assert.ok(after.pooledBytes < 256 * 1024 * 1024, `the pool stays small (${after.pooledBytes} bytes)`);
  tf.dispose([images, labels]);
  disposeCnn(model);
});

test('recycled buffers never overwrite arrays read with dataSync, views from slice, or user arrays', async () => {
  await tf.setBackend('native');
  const n = 64 * 1024;
  const user = new Float32Array(n).fill(-2);
  const x = tf.tensor(user, [n]);
  // A kernel output read by the caller, then disposed.
  const y = tf.relu(tf.neg(x));
  const read = y.dataSync();
  // A view into a kernel output (cpu's Slice shares the buffer), whose source is disposed.
  const big = tf.relu(tf.neg(x));
  const view = tf.slice(big, [0], [n / 2]);
  tf.dispose([y, big]);
  for (let i = 0; i < 20; i++) tf.tidy(() => tf.relu(tf.add(tf.relu(x), i + 1)).dataSync());
  assert.ok(
    read.every((v) => v === 2),
    'an array from dataSync keeps its values after dispose',
  );
  assert.ok(
    view.dataSync().every((v) => v === 2),
    'a slice keeps its values after its source is disposed',
  );
  assert.ok(
    user.every((v) => v === -2),
    'the array passed to tf.tensor is never written',
  );
  tf.dispose([x, view]);
});

test('the buffer pool recycles a buffer only when no entry refers to it and nobody read it, within its budget', () => {
  const pool = new BufferPool(64 * 1024);
  const a = pool.take(4096);
  pool.retain(a);
  pool.retain(a.subarray(10)); // a view, as Slice makes
  pool.release(a);
  assert.notEqual(pool.take(4096), a, 'still referred to by the view');
  pool.release(a.subarray(10));
  assert.equal(pool.take(4096), a, 'recycled once the last entry is gone');
  const b = pool.take(2048);
  pool.retain(b);
  pool.escape(b);
  pool.release(b);
  assert.notEqual(pool.take(2048), b, 'a buffer read by the caller is never recycled');
  // Budget: 64 KiB holds three of these four ~16 KiB buffers; the least recently used size goes.
  const held = [4097, 4098, 4099, 4100].map((n) => pool.take(n));
  for (const h of held) {
    pool.retain(h);
    pool.release(h);
  }
  assert.ok(pool.stats().pooledBytes <= 64 * 1024, `${pool.stats().pooledBytes} bytes pooled`);
  assert.equal(pool.take(4100), held[3], 'the most recent size is kept');
  assert.notEqual(pool.take(4097), held[0], 'the oldest size was evicted');
});
