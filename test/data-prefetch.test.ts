// data.prefetchToDevice: the same batches in the same order, `n` batches pulled ahead and (on
// webgpu, here chromium's SwiftShader) already in GPU buffers when taken, tensors made on
// another backend moved to the active one, and nothing leaked when the consumer stops early.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { prefetchToDevice } from '../src/data';
import { CHROMIUM_SWIFTSHADER_ICD } from '../src/backend/webgpu/setup';
import { initBackend } from '../src/backend/select';
import { setQuiet } from '../src/host/log';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { tmpDir } from './helpers/tmp';

process.env.VK_DRIVER_FILES ??= CHROMIUM_SWIFTSHADER_ICD;
setQuiet(true);

/** 10 batches {xs [2,3] float32, ys [2] int32}; `pulled` counts the elements the source produced. */
function source(counter: { pulled: number }) {
  return tf.data.generator(function* () {
    for (let i = 0; i < 10; i++) {
      counter.pulled += 1;
      yield { xs: tf.fill([2, 3], i), ys: tf.tensor([i, i + 1], [2], 'int32') };
    }
  }) as unknown as tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor }>;
}

test('prefetchToDevice yields the same batches in order, n ahead, and frees what an early stop leaves', async () => {
  await tf.setBackend('cpu');
  const base = tf.memory().numTensors;
  const counter = { pulled: 0 };
  const seen: number[] = [];
  await prefetchToDevice(source(counter), 3).forEachAsync((b) => {
    seen.push(b.xs.dataSync()[0], b.ys.dataSync()[1]);
    tf.dispose(b);
  });
  assert.deepEqual(seen, [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10]);
  assert.equal(tf.memory().numTensors, base, 'every batch consumed and disposed');

  const c2 = { pulled: 0 };
  const it = (await prefetchToDevice(source(c2), 2).iterator()) as unknown as AsyncIterator<{ xs: tf.Tensor }> & {
    return(): Promise<unknown>;
  };
  const first = await it.next();
  assert.equal(c2.pulled, 3, 'the first batch plus two more were pulled before the first was handed out');
  tf.dispose(first.value as tf.TensorContainer);
  await it.return();
  assert.equal(tf.memory().numTensors, base, 'the two queued batches were disposed when the iterator closed');
  assert.throws(() => prefetchToDevice(source(c2), 0), /bufferSize must be an integer >= 1/);
});

test('through Estimator.train: the steps stop before the data ends and no tensor is left behind', async () => {
  await tf.setBackend('cpu');
  const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    const loss = tf.losses.meanSquaredError(tf.cast(y!, 'float32'), tf.sum(layers.dense(x, 1), 1));
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };
  const est = new Estimator(modelFn, tmpDir('prefetch-est-'), { config: { backend: 'cpu', logStepCountSteps: 0 } });
  await est.train(() => prefetchToDevice(source({ pulled: 0 }), 2), { steps: 1 }); // variables exist from here on
  const base = tf.memory().numTensors;
  await est.train(() => prefetchToDevice(source({ pulled: 0 }), 2), { steps: 4 });
  assert.equal(tf.memory().numTensors, base);
});

test('on webgpu the float tensors of a prefetched batch are already in GPU buffers, moved from the backend that made them', async () => {
  await initBackend('webgpu');
  const backend = tf.backend() as unknown as { tensorMap: { get(id: object): { resource: unknown; values: unknown } } };
  // Made on cpu, consumed on webgpu: moved on the way.
  await tf.setBackend('cpu');
  const made = tf.data
    .array([0, 1, 2, 3])
    .map((i) => ({ xs: tf.fill([2, 2], i as number), ys: tf.scalar(i as number, 'int32') })) as unknown as tf.data.Dataset<{
    xs: tf.Tensor;
    ys: tf.Tensor;
  }>;
  const it = await made.iterator();
  const onCpu: Array<{ xs: tf.Tensor; ys: tf.Tensor }> = [];
  for (let r = await it.next(); !r.done; r = await it.next()) onCpu.push(r.value);
  await tf.setBackend('webgpu');
  const base = tf.memory().numTensors;
  const out: number[] = [];
  const fromCpu = tf.data.generator(function* () {
    yield* onCpu;
  }) as unknown as tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor }>;
  await prefetchToDevice(fromCpu, 2).forEachAsync((b) => {
    const xs = backend.tensorMap.get(b.xs.dataId);
    assert.ok(xs && xs.resource != null && xs.values == null, 'xs is in a GPU buffer, not on the host');
    assert.ok(backend.tensorMap.get(b.ys.dataId), 'ys is on webgpu too (host-side until a kernel needs it)');
    out.push(tf.tidy(() => tf.sum(tf.add(b.xs, tf.cast(b.ys, 'float32'))).dataSync()[0]));
  });
  assert.deepEqual(out, [0, 8, 16, 24]);
  tf.dispose(onCpu);
  assert.equal(tf.memory().numTensors, base - 8);
});
