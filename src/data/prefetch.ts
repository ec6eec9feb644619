// The article's prefetch_to_device: a dataset whose next `bufferSize` batches are already on
// the active backend's device when a step asks for one. On webgpu the upload (a copy into a
// mapped staging buffer, then a queued buffer-to-buffer copy) is done here, between steps,
// while the GPU still runs the step before; on cpu-like backends moving is a no-op.
import * as tf from '@tensorflow/tfjs';

interface EngineInternals {
  backend: tf.KernelBackend;
  state: { tensorInfo: WeakMap<object, { backend: tf.KernelBackend }> };
  moveData(backend: tf.KernelBackend, dataId: object): void;
}

/** Every tensor in a batch (a tensor, or arrays/objects of them). */
function tensorsOf(x: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (x instanceof tf.Tensor) out.push(x);
  else if (Array.isArray(x)) for (const v of x) tensorsOf(v, out);
  else if (x !== null && typeof x === 'object') for (const v of Object.values(x)) tensorsOf(v, out);
  return out;
}

/**
 * Puts a tensor's data on the active backend, and on its device where the backend has one.
 * int32 and bool tensors (labels, ids) stay host-side until a kernel needs them: they are
 * small, and the losses' label check reads them on the host for free.
 */
export function moveToDevice(t: tf.Tensor): void {
  const engine = tf.engine() as unknown as EngineInternals;
  const info = engine.state.tensorInfo.get(t.dataId);
  if (info && info.backend !== engine.backend) engine.moveData(engine.backend, t.dataId);
  const gpu = engine.backend as unknown as { uploadToGPU?(dataId: object): void };
  if (t.dtype === 'float32' && typeof gpu.uploadToGPU === 'function') gpu.uploadToGPU(t.dataId);
}

async function* prefetching<T extends tf.TensorContainer>(
  dataset: tf.data.Dataset<T>,
  bufferSize: number,
): AsyncGenerator<T, void, undefined> {
  const it = await dataset.iterator();
  const queue: T[] = [];
  let done = false;
  try {
    for (;;) {
      // Top up first: the step that just ended has queued its GPU work, so these uploads overlap it.
      while (!done && queue.length <= bufferSize) {
        const r = await it.next();
        if (r.done) done = true;
        else {
          for (const t of tensorsOf(r.value)) moveToDevice(t);
          queue.push(r.value);
        }
      }
      if (queue.length === 0) return;
      yield queue.shift() as T;
    }
  } finally {
    // Abandoned early (training reached its steps): the batches nobody will take are freed.
    for (const b of queue.splice(0)) tf.dispose(b);
  }
}

/**
 * `dataset` with its next `bufferSize` batches (default 1) moved to the active backend and,
 * on webgpu, uploaded to the GPU ahead of the step that takes them. Put it last:
 * `data.prefetchToDevice(ds.map(...).batch(64), 2)`. Batches left when the consumer stops
 * early are disposed when the consumer closes the iterator (the Estimator does).
 */
export function prefetchToDevice<T extends tf.TensorContainer>(dataset: tf.data.Dataset<T>, bufferSize = 1): tf.data.Dataset<T> {
  if (!(dataset instanceof tf.data.Dataset))
    throw new TypeError('prefetchToDevice: the first argument must be a tf.data.Dataset (e.g. tf.data.array(rows).batch(64)).');
  if (!Number.isInteger(bufferSize) || bufferSize < 1)
    throw new RangeError(`prefetchToDevice: bufferSize must be an integer >= 1, got ${bufferSize}.`);
  const out = tf.data.generator(() => prefetching(dataset, bufferSize)) as tf.data.Dataset<T>;
  // tf.data's iterators have no return(); ours frees the queued batches (see openInput).
  out.iterator = async () => {
    const gen = prefetching(dataset, bufferSize);
    const it = await tf.data.generator(() => gen).iterator();
    return Object.assign(it, {
      return: async () => {
        await gen.return(undefined);
        return { done: true as const, value: undefined };
      },
    });
  };
  return out;
}
