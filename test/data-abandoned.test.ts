// What an abandoned tf.data iterator still buffers (data/abandoned-iterator.ts): freed once made,
// outside in, and only tensors the dataset made and nobody kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { freeAbandonedIterator } from '../src/data/abandoned-iterator';
import { RememberingWork } from '../src/framework/owned-scope';

test('a prefetch over a shuffle: both buffers are freed, the shuffle once the batches above it are made', async () => {
  const work = new RememberingWork();
  const before = tf.memory().numTensors;
  const ds = tf.data
    .array(Array.from({ length: 100 }, (_, i) => i))
    .map((i) => tf.scalar(i as number))
    .shuffle(20)
    .batch(4)
    .prefetch(3);
  const it = await work.run(() => ds.iterator());
  const first = await work.run(() => it.next());
  tf.dispose(first.value as tf.Tensor);
  // Three batches in the prefetch, still being made from the shuffle's twenty scalars.
  const freed = await freeAbandonedIterator(it, (t) => work.madeIt(t));
  assert.ok(freed >= 3 + 16, `freed ${freed}`);
  assert.equal(tf.memory().numTensors, before);
});

test("the user's tensors and kept ones are left alone", async () => {
  const work = new RememberingWork();
  const users = Array.from({ length: 6 }, (_, i) => tf.scalar(i));
  const kept = work.run(() => tf.keep(tf.scalar(7)));
  const before = tf.memory().numTensors;
  // A map may pass a tensor through as it is.
  const ds = tf.data.array([0, 1, 2, 3, 4, 5]).map((i) => (i === 3 ? kept : users[i as number]));
  const it = await work.run(() => ds.prefetch(4).iterator());
  await work.run(() => it.next());
  assert.equal(await freeAbandonedIterator(it, (t) => work.madeIt(t)), 0);
  assert.equal([...users, kept].filter((t) => t.isDisposed).length, 0);
  assert.equal(tf.memory().numTensors, before);
  // tf.data.array hands out clones: those are the dataset's.
  const clones = await work.run(() => tf.data.array(users).prefetch(4).iterator());
  await work.run(() => clones.next());
  assert.equal(await freeAbandonedIterator(clones, (t) => work.madeIt(t)), 3, "the three prefetched clones left, not the user's");
  assert.equal(users.filter((t) => t.isDisposed).length, 0);
  tf.dispose([...users, kept]);
});

test('anything that is not a tf.data iterator is left alone', async () => {
  assert.equal(await freeAbandonedIterator(undefined, () => true), 0);
  assert.equal(await freeAbandonedIterator({ next: () => 1, buffer: [1, 2] }, () => true), 0);
});
