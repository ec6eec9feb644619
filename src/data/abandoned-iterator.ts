// tf.data's iterators have no return(): one abandoned mid-stream (train() stops at `steps`)
// keeps what its shuffle and prefetch buffers hold, and nobody frees those tensors. A
// shuffle(500) of {xs, ys} left 1,000 tensors per train() call, and a prefetch(n) left n batches.
// This frees them once they are made, level by level from the outside in: an element still being
// made by a level above pulls from the buffers below, so a level waits for the one above it.
// tf.data's own internals (LazyIterator's upstream / iterator / iterators, RingBuffer) are read
// where present; anything else is left alone.
import * as tf from '@tensorflow/tfjs';

interface Drainable {
  isEmpty(): boolean;
  shift(): unknown;
}

function drainable(x: unknown): x is Drainable {
  const b = x as Partial<Drainable> | null;
  return !!b && typeof b.isEmpty === 'function' && typeof b.shift === 'function';
}

function isIterator(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && typeof (x as { next?: unknown }).next === 'function';
}

/** The iterators an iterator reads from: upstream, a chain's current one, a zip's. */
function upstreamOf(it: Record<string, unknown>): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const add = (x: unknown): void => {
    if (isIterator(x)) out.push(x);
    else if (Array.isArray(x)) x.forEach(add);
    else if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) Object.values(x).forEach(add);
  };
  add(it.upstream);
  add(it.iterator);
  add(it.iterators);
  return out;
}

/**
 * Frees the elements an abandoned tf.data iterator still buffers: the tensors in them that
 * `ours` says the dataset made (a tensor of the user's that passes through stays theirs) and
 * that are not kept. Resolves, with how many it freed, once every level is done.
 */
export async function freeAbandonedIterator(iterator: unknown, ours: (t: tf.Tensor) => boolean): Promise<number> {
  if (!isIterator(iterator)) return 0;
  let freed = 0;
  const seen = new Set<object>();
  let level = [iterator];
  while (level.length > 0) {
    const pending: unknown[] = [];
    for (const it of level) {
      const buffer = it.buffer;
      if (drainable(buffer)) while (!buffer.isEmpty()) pending.push(buffer.shift());
    }
    for (const r of await Promise.allSettled(pending)) {
      if (r.status !== 'fulfilled') continue;
      const result = r.value as IteratorResult<tf.TensorContainer> | undefined;
      if (!result || result.done) continue;
      for (const t of tf.tensor_util.getTensorsInContainer(result.value)) {
        if (t.isDisposed || t.kept || !ours(t)) continue;
        t.dispose();
        freed += 1;
      }
    }
    for (const it of level) seen.add(it);
    level = level.flatMap(upstreamOf).filter((it) => !seen.has(it));
  }
  return freed;
}
