// The one run loop of train, evaluate and predict: the hooks of every mode (passed to the call
// and carried by the EstimatorSpec) see begin, afterCreateSession, beforeRun/afterRun on every
// step from the first, and end with the outcome; summaries recorded by the input pipeline are
// written at the step that consumes the batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { decode as decodePng } from 'fast-png';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as summary from '../src/estimator/summary';
import type { RunContext, SessionInfo, SessionRunHook } from '../src/estimator/hooks/hook';
import { KeyboardInterrupt, requestInterrupt } from '../src/host/interrupt';
import { closeAllWriters } from '../src/estimator/summary/writer-cache';
import { setQuiet } from '../src/host/log';
import { linearDataset, tmpDir } from './helpers/tmp';
import { decodeEventFile, eventFilesIn } from './summary-decoder';

setQuiet(true);

/** Records every call it gets, with the global step it was given. */
class Recorder implements SessionRunHook {
  readonly events: string[] = [];
  constructor(private readonly interruptAfter?: number) {}
  begin(info: SessionInfo): void {
    this.events.push(`begin ${info.mode} ${info.globalStep}`);
  }
  afterCreateSession(info: SessionInfo): void {
    this.events.push(`afterCreateSession ${info.globalStep}`);
  }
  beforeRun(ctx: RunContext): void {
    this.events.push(`beforeRun ${ctx.globalStep}`);
  }
  afterRun(ctx: RunContext): void {
    this.events.push(`afterRun ${ctx.globalStep}`);
    if (this.events.filter((e) => e.startsWith('afterRun')).length === this.interruptAfter) requestInterrupt();
  }
  end(info: SessionInfo): void {
    this.events.push(`end ${info.outcome}${info.error ? `: ${(info.error as Error).message.split('\n')[0]}` : ''}`);
  }
}

/** A model whose spec carries the given hooks in every mode; throws on the failAt-th call. */
function hookedModel(specHook: SessionRunHook, failAt?: number) {
  let calls = 0;
  return (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    if (++calls === failAt) throw new Error('model broke');
    const pred = layers.dense(x, 1);
    const loss = y ? (tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar) : undefined;
    return new EstimatorSpec({
      mode,
      loss,
      predictions: pred,
      trainOp: loss && mode === 'train' ? train.sgd(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) : undefined,
      trainingHooks: [specHook],
      evaluationHooks: [specHook],
      predictionHooks: [specHook],
    });
  };
}

const input = () => linearDataset(32, 8); // 4 batches

async function predictAll(est: Estimator, hooks: SessionRunHook[]): Promise<number> {
  let n = 0;
  for await (const _ of est.predict(input, { hooks })) n += 1;
  return n;
}

function trainSteps(from: number, n: number): string[] {
  const out: string[] = [];
  for (let s = from; s < from + n; s++) out.push(`beforeRun ${s}`, `afterRun ${s + 1}`);
  return out;
}

function fixedSteps(step: number, n: number): string[] {
  return Array.from({ length: n }, () => [`beforeRun ${step}`, `afterRun ${step}`]).flat();
}

test('hooks of train, evaluate and predict (given to the call and in the EstimatorSpec) see every step from the first, and end with done', async () => {
  const dir = tmpDir('loop-');
  const spec = new Recorder();
  const given = new Recorder();
  const est = new Estimator(hookedModel(spec), dir, { config: { logStepCountSteps: 0 } });
  await est.train(input, { steps: 3, hooks: [given] });
  const expected = ['begin train 0', 'afterCreateSession 0', ...trainSteps(0, 3), 'end done'];
  assert.deepEqual(given.events, expected);
  assert.deepEqual(spec.events, expected, 'spec hooks begin before the first step runs its train op');

  const evalSpec = new Recorder();
  const evalGiven = new Recorder();
  const evalEst = new Estimator(hookedModel(evalSpec), dir, { config: { logStepCountSteps: 0 } });
  const m = await evalEst.evaluate(input, { hooks: [evalGiven] });
  assert.equal(m.globalStep, 3);
  // The input ends during a step's fetch, after its beforeRun (TensorFlow's OutOfRangeError too).
  const evalExpected = ['begin eval 3', 'afterCreateSession 3', ...fixedSteps(3, 4), 'beforeRun 3', 'end done'];
  assert.deepEqual(evalGiven.events, evalExpected);
  assert.deepEqual(evalSpec.events, evalExpected, 'evaluationHooks run');

  const predSpec = new Recorder();
  const predGiven = new Recorder();
  assert.equal(await predictAll(new Estimator(hookedModel(predSpec), dir), [predGiven]), 32);
  const predExpected = ['begin infer 3', 'afterCreateSession 3', ...fixedSteps(3, 4), 'beforeRun 3', 'end done'];
  assert.deepEqual(predGiven.events, predExpected);
  assert.deepEqual(predSpec.events, predExpected, 'predictionHooks run');
});

test('when modelFn throws, every mode ends its hooks with failed and the error', async () => {
  const dir = tmpDir('loop-fail-');
  await new Estimator(hookedModel(new Recorder()), dir).train(input, { steps: 2 });
  for (const mode of ['train', 'eval', 'infer'] as const) {
    const spec = new Recorder();
    const given = new Recorder();
    const est = new Estimator(hookedModel(spec, 3), dir, { config: { logStepCountSteps: 0 } });
    const run =
      mode === 'train'
        ? est.train(input, { steps: 5, hooks: [given] })
        : mode === 'eval'
          ? est.evaluate(input, { hooks: [given] })
          : predictAll(est, [given]);
    await assert.rejects(run, /model broke/);
    const at = mode === 'train' ? trainSteps(2, 2) : fixedSteps(2, 2);
    assert.deepEqual(
      given.events,
      [`begin ${mode} 2`, 'afterCreateSession 2', ...at, `beforeRun ${mode === 'train' ? 4 : 2}`, 'end failed: model broke'],
      mode,
    );
    assert.deepEqual(
      spec.events,
      [`begin ${mode} 2`, 'afterCreateSession 2', ...at, `beforeRun ${mode === 'train' ? 4 : 2}`, 'end failed: model broke'],
      mode,
    );
  }
  assert.ok(new Estimator(hookedModel(new Recorder()), dir).latestCheckpoint()!.endsWith('model.ckpt-2'), 'a failed run saves nothing');
});

test("an interrupt ends every mode's hooks with interrupted; train saves a checkpoint first", async () => {
  const dir = tmpDir('loop-int-');
  for (const mode of ['train', 'eval', 'infer'] as const) {
    const spec = new Recorder();
    const given = new Recorder(2);
    const est = new Estimator(hookedModel(spec), dir, { config: { logStepCountSteps: 0 } });
    const run =
      mode === 'train'
        ? est.train(input, { steps: 5, hooks: [given] })
        : mode === 'eval'
          ? est.evaluate(input, { hooks: [given] })
          : predictAll(est, [given]);
    await assert.rejects(run, (e: Error) => e instanceof KeyboardInterrupt);
    assert.equal(given.events.at(-1), 'end interrupted', mode);
    assert.equal(spec.events.at(-1), 'end interrupted', mode);
    assert.equal(given.events.filter((e) => e.startsWith('afterRun')).length, 2, mode);
  }
  assert.ok(
    new Estimator(hookedModel(new Recorder()), dir).latestCheckpoint()!.endsWith('model.ckpt-2'),
    'the interrupted training saved its step',
  );
});

/** A dataset whose map function logs each batch as an image whose pixels encode the batch's index. */
function augmentedInput(prefetch: number) {
  return () => {
    let index = 0;
    const ds = linearDataset(256, 8)
      .repeat()
      .map((b) => {
        const e = b as { xs: tf.Tensor; ys: tf.Tensor };
        const i = index++;
        // The article's pattern: log the augmented batch from inside the input pipeline.
        tf.tidy(() => summary.image('augmented', tf.fill([1, 2, 2, 1], (i % 50) / 50), { maxOutputs: 1 }));
        return { xs: tf.add(e.xs, 0.01 * i), ys: e.ys } as tf.TensorContainer;
      });
    return prefetch ? ds.prefetch(prefetch) : ds;
  };
}

/** tf.memory().numTensors once it reaches `want` or stops changing (a background free), within 2 s. */
async function settledTensorCount(want: number): Promise<number> {
  let last = -1;
  for (let i = 0; i < 40 && tf.memory().numTensors !== want && tf.memory().numTensors !== last; i++) {
    last = tf.memory().numTensors;
    await new Promise((r) => setTimeout(r, 50));
  }
  return tf.memory().numTensors;
}

function imagesByStep(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of decodeEventFile(eventFilesIn(dir)[0])) {
    for (const v of e.values) {
      if (v.tag === 'augmented/image' && v.image) out.set(e.step, Math.round((decodePng(v.image.png).data[0] / 255) * 50));
    }
  }
  return out;
}

test('summaries recorded inside the inputFn are written at the step that consumes the batch', async () => {
  const linearModel = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    const loss = tf.mean(tf.square(tf.sub(layers.dense(x, 1), y!))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };
  const dir = tmpDir('input-summary-');
  const est = new Estimator(linearModel, dir, { config: { saveSummarySteps: 3, logStepCountSteps: 0 } });
  const before = tf.memory().numTensors;
  await est.train(augmentedInput(0), { steps: 10 });
  closeAllWriters();
  // Steps 1, 4, 7, 10 save summaries; step s consumes batch s - 1.
  assert.deepEqual(
    [...imagesByStep(dir)],
    [
      [1, 0],
      [4, 3],
      [7, 6],
      [10, 9],
    ],
  );
  assert.equal(tf.memory().numTensors, before, 'no tensor kept for summaries');

  // With prefetch, batches are made ahead of the step: each summary step still gets an image,
  // of a batch at most the prefetch depth ahead of the one it consumes.
  const dir2 = tmpDir('input-summary-prefetch-');
  const est2 = new Estimator(linearModel, dir2, { config: { saveSummarySteps: 3, logStepCountSteps: 0 } });
  await est2.train(augmentedInput(2), { steps: 10 });
  closeAllWriters();
  const seen = imagesByStep(dir2);
  assert.deepEqual([...seen.keys()], [1, 4, 7, 10]);
  for (const [step, batch] of seen) assert.ok(batch >= step - 1 && batch <= step + 1, `step ${step} got batch ${batch}`);
  // What the abandoned iterator's prefetch buffer held is freed once made (in the background).
  assert.equal(await settledTensorCount(before), before, 'no tensor kept for summaries or by the prefetch');
});

test("a tf.data pipeline that maps after batching and prefetches trains with a sync or an async modelFn: the step's scope does not free what the prefetch makes meanwhile", async () => {
  const rows = Array.from({ length: 64 }, (_, i) => ({ xs: [i / 64, 1 - i / 64], ys: [i % 3] }));
  // The intermediate notebook's shape: batch, map (augment), prefetch.
  const inputFn = () =>
    tf.data
      .array(rows)
      .batch(8)
      .map((b) => {
        const e = b as { xs: tf.Tensor; ys: tf.Tensor };
        return { xs: tf.mul(e.xs, 2), ys: e.ys } as tf.TensorContainer;
      })
      .repeat()
      .prefetch(2);
  const linear = async (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey, params: { wait: boolean }) => {
    // An await inside the step lets the prefetch run while the step's scope is open.
    if (params.wait) await new Promise<void>((r) => setImmediate(r));
    const loss = tf.mean(tf.square(tf.sub(layers.dense(x, 1), y!))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };
  for (const wait of [false, true]) {
    const before = tf.memory().numTensors;
    const est = new Estimator(linear, tmpDir('prefetch-map-'), { params: { wait }, config: { logStepCountSteps: 0 } });
    await est.train(inputFn, { steps: 30 });
    const metrics = await est.evaluate(inputFn, { steps: 4 });
    assert.equal(metrics.globalStep, 30, `modelFn ${wait ? 'async' : 'sync'}`);
    // The abandoned iterators' prefetch buffers are freed once their batches are made.
    assert.equal(await settledTensorCount(before), before, `modelFn ${wait ? 'async' : 'sync'}`);
  }
});

test('repeated train() calls over a shuffled, prefetched tf.data pipeline keep tf.memory() flat; tensors of the user that pass through stay', async () => {
  const xs = Array.from({ length: 200 }, (_, i) => tf.tensor1d([i / 200, 1]));
  const ys = Array.from({ length: 200 }, (_, i) => tf.tensor1d([i % 3]));
  /** Examples made by the dataset, shuffled in a window of `shuffle`, in batches of 8. */
  const examples = (shuffle: number) =>
    tf.data
      .array(Array.from({ length: 2000 }, (_, i) => i))
      .map((i) => ({ xs: tf.tensor1d([(i as number) / 200, 1]), ys: tf.tensor1d([(i as number) % 3]) }) as tf.TensorContainer)
      .shuffle(shuffle)
      .batch(8)
      .repeat();
  const pipelines = {
    // tf.data's shuffle keeps its whole buffer in an abandoned iterator: 1,000 tensors a call.
    shuffled: () => examples(500),
    prefetched: () => examples(200).prefetch(2),
    "the user's tensors": () =>
      tf.data
        .zip({ xs: tf.data.array(xs), ys: tf.data.array(ys) })
        .shuffle(100)
        .batch(8)
        .repeat()
        .prefetch(2),
  };
  const linear = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    const loss = tf.mean(tf.square(tf.sub(layers.dense(x, 1), y!))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };
  for (const [name, inputFn] of Object.entries(pipelines)) {
    const est = new Estimator(linear, tmpDir('abandoned-'), { config: { logStepCountSteps: 0 } });
    await est.train(inputFn, { steps: 2 });
    const before = await settledTensorCount(-1);
    for (let i = 0; i < 3; i++) await est.train(inputFn, { steps: 5 });
    assert.equal(await settledTensorCount(before), before, `${name}: ${tf.memory().numTensors - before} tensors more after three calls`);
  }
  assert.equal([...xs, ...ys].filter((t) => t.isDisposed).length, 0, "the user's tensors are theirs");
  tf.dispose([...xs, ...ys]);
});
