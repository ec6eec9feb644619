// The step graph's buffer plan (backend/webgpu/buffer-plan.ts): values whose uses overlap never
// share a buffer, every buffer holds its largest value, and disjoint values do share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferLifetime, planBuffers } from '../src/backend/webgpu/buffer-plan';

/** Checks a plan's promises and returns its total bytes. */
function checked(lifetimes: BufferLifetime[]): number {
  const { slot, sizes } = planBuffers(lifetimes);
  assert.equal(slot.length, lifetimes.length);
  lifetimes.forEach((a, i) => {
    assert.ok(sizes[slot[i]] >= a.size, `value ${i} (${a.size} bytes) in a buffer of ${sizes[slot[i]]}`);
    lifetimes.forEach((b, j) => {
      if (j <= i || slot[i] !== slot[j]) return;
      assert.ok(a.last < b.first || b.last < a.first, `values ${i} and ${j} overlap in buffer ${slot[i]}`);
    });
  });
  return sizes.reduce((n, s) => n + s, 0);
}

/** The most bytes live at once: no plan can hold less. */
function peak(lifetimes: BufferLifetime[]): number {
  let most = 0;
  for (const at of lifetimes.map((l) => l.first)) {
    most = Math.max(
      most,
      lifetimes.filter((l) => l.first <= at && at <= l.last).reduce((n, l) => n + l.size, 0),
    );
  }
  return most;
}

test('a chain of values, each read only by the next dispatch, needs two buffers', () => {
  const chain = Array.from({ length: 10 }, (_, i) => ({ size: 1024, first: i, last: i + 1 }));
  const { sizes } = planBuffers(chain);
  assert.equal(sizes.length, 2);
  assert.equal(checked(chain), 2048);
});

test('a value is never placed where another one is still in use, even for one dispatch', () => {
  const values = [
    { size: 400, first: -1, last: 3 },
    { size: 400, first: 3, last: 5 },
    { size: 100, first: 4, last: 4 },
    { size: 800, first: 6, last: 9 },
  ];
  const { slot } = planBuffers(values);
  assert.notEqual(slot[0], slot[1]);
  assert.notEqual(slot[1], slot[2]);
  assert.equal(slot[3], slot[0], 'the largest value shares the buffer of one that ends before it starts');
  checked(values);
});

test('random steps: a valid plan, close to the peak of live values', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let total = 0;
  let bound = 0;
  for (let trial = 0; trial < 50; trial++) {
    const values = Array.from({ length: 80 }, () => {
      const first = Math.floor(rand() * 100) - 1;
      return { size: 4 * (1 + Math.floor(rand() * 4096)), first, last: first + Math.floor(rand() * 20) };
    });
    total += checked(values);
    bound += peak(values);
  }
  assert.ok(total < 1.6 * bound, `planned ${total} bytes; the peaks add to ${bound}`);
});

test('a value that ends before it starts is refused', () => {
  assert.throws(() => planBuffers([{ size: 4, first: 3, last: 2 }]), /used from dispatch 3 to 2/);
});
