// Step replay: train() records two steps, and when they ran the same kernels, later steps run
// the recorded kernels without modelFn. Checked: the same variables bit for bit as calling
// modelFn every step (the article's CNN on MNIST), modelFn called again where a step differs
// (summaries, a smaller last batch), steps that cannot be replayed (random ops, a decayed rate,
// a read) and why, label checks on every replayed batch with the variables left as they were,
// and memory (engine tensors and the backend's buffers) flat over thousands of steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as losses from '../src/estimator/losses';
import * as metrics from '../src/estimator/metrics';
import { RunConfigOptions } from '../src/estimator/run-config';
import type { SessionRunHook } from '../src/estimator/hooks/hook';
import { lastReplayReport } from '../src/estimator/loop-replay';
import { checkValues, StepRecorder, StepReplay } from '../src/framework/step-trace';
import { setQuiet } from '../src/host/log';
import { articleModelFn, mnistInputFn } from '../bench/article-cnn';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

/** Every variable of the latest checkpoint, by name. */
function variables(est: Estimator<tf.Tensor, tf.Tensor>): Map<string, Float32Array | Int32Array> {
  const out = new Map<string, Float32Array | Int32Array>();
  for (const name of est.getVariableNames()) out.set(name, est.getVariableValue(name).dataSync() as Float32Array | Int32Array);
  return out;
}

function assertSameVariables(a: Map<string, ArrayLike<number>>, b: Map<string, ArrayLike<number>>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, x] of a) assert.deepEqual(Array.from(x), Array.from(b.get(name)!), `variable ${name}`);
}

test("the article's CNN on MNIST: replayed steps give the variables of calling modelFn each step, bit for bit", async () => {
  const run = async (replaySteps: boolean) => {
    const est = new Estimator(articleModelFn, tmpDir('replay-cnn-'), {
      config: { randomSeed: 5, logStepCountSteps: 0, saveSummarySteps: 0, replaySteps },
    });
    await est.train(mnistInputFn(ModeKeys.TRAIN, 32, 5), { maxSteps: 3 });
    // Resumed from the checkpoint: the first step makes the variables again, the next two are recorded.
    await est.train(mnistInputFn(ModeKeys.TRAIN, 32, 6), { maxSteps: 40 });
    return { vars: variables(est as unknown as Estimator<tf.Tensor, tf.Tensor>), report: lastReplayReport() };
  };
  const replayed = await run(true);
  const called = await run(false);
  assert.ok(replayed.report.replayedSteps >= 33, `steps replayed: ${JSON.stringify(replayed.report)}`);
  assert.ok(replayed.report.kernels > 30, `kernels a replayed step runs: ${replayed.report.kernels}`);
  assert.equal(called.report.replayedSteps, 0);
  assert.match(called.report.reason ?? '', /turned off/);
  assertSameVariables(replayed.vars, called.vars);
});

/** A dense classifier on linearDataset's three features (labels: the sign of y); counts its TRAIN calls. */
function classifier(calls: { n: number }, extra?: (h: tf.Tensor, step: tf.Variable) => tf.Tensor) {
  return (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
    if (mode === ModeKeys.TRAIN) calls.n += 1;
    const step = train.getOrCreateGlobalStep();
    let h = layers.dense(x, 8, { activation: 'relu', name: 'hidden' });
    if (extra) h = extra(h, step);
    const logits = layers.dense(h, 2, { name: 'head' });
    const labels = tf.cast(tf.greater(tf.reshape(y!, [-1]), 0), 'int32');
    const loss = losses.sparseSoftmaxCrossEntropy(labels, logits);
    return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.01).minimize(loss, { globalStep: step }) });
  };
}

function estimatorOf(fn: ReturnType<typeof classifier>, config: RunConfigOptions = {}): Estimator<tf.Tensor, tf.Tensor> {
  return new Estimator(fn, tmpDir('replay-'), { config: { randomSeed: 1, logStepCountSteps: 0, saveSummarySteps: 0, ...config } });
}

test('modelFn runs at the recorded steps and at summary steps only; with replaySteps false at every step', async () => {
  const calls = { n: 0 };
  await estimatorOf(classifier(calls), { saveSummarySteps: 10 }).train(() => linearDataset(64).repeat(), { steps: 50 });
  const report = lastReplayReport();
  // Summaries at steps 1, 10, 20, ..., 50 (or thereabouts): those steps call modelFn.
  assert.ok(calls.n >= 3 + 4 && calls.n <= 3 + 7, `modelFn calls: ${calls.n}, ${JSON.stringify(report)}`);
  assert.equal(report.replayedSteps + calls.n, 50, 'each step either replayed or called modelFn');

  const every = { n: 0 };
  await estimatorOf(classifier(every), { replaySteps: false }).train(() => linearDataset(64).repeat(), { steps: 20 });
  assert.equal(every.n, 20);
  process.env.TFJS_ESTIMATOR_REPLAY = '0';
  try {
    const env = { n: 0 };
    await estimatorOf(classifier(env)).train(() => linearDataset(64).repeat(), { steps: 10 });
    assert.equal(env.n, 10, 'TFJS_ESTIMATOR_REPLAY=0 turns it off');
  } finally {
    delete process.env.TFJS_ESTIMATOR_REPLAY;
  }
});

test('a smaller last batch runs modelFn, and the run ends with the variables of calling modelFn each step', async () => {
  // 100 examples in batches of 8: twelve batches of 8, then one of 4.
  const run = async (replaySteps: boolean) => {
    const calls = { n: 0 };
    const est = estimatorOf(classifier(calls), { replaySteps });
    await est.train(() => linearDataset(100));
    return { calls: calls.n, vars: variables(est), report: lastReplayReport() };
  };
  const replayed = await run(true);
  const called = await run(false);
  assert.equal(called.calls, 13);
  assert.ok(replayed.calls <= 5, `modelFn calls: ${replayed.calls}`);
  assert.ok(replayed.report.replayedSteps >= 8);
  assertSameVariables(replayed.vars, called.vars);
});

/** Trains 12 steps with replay on and off: at least 8 replayed, the same variables bit for bit. */
async function assertReplayMatches(make: (replaySteps: boolean) => Estimator<tf.Tensor, tf.Tensor>): Promise<void> {
  const run = async (replaySteps: boolean) => {
    const est = make(replaySteps);
    await est.train(() => linearDataset(64).repeat(), { steps: 12 });
    return { vars: variables(est), report: lastReplayReport() };
  };
  const replayed = await run(true);
  const called = await run(false);
  assert.ok(replayed.report.replayedSteps >= 8, JSON.stringify(replayed.report));
  assertSameVariables(replayed.vars, called.vars);
}

test('kernels that take an array of inputs (concat, stack, addN) replay as modelFn runs them', async () => {
  const extra = (h: tf.Tensor) => tf.addN([tf.concat([h, h], -1), tf.reshape(tf.stack([h, h], 1), [-1, 16])]);
  await assertReplayMatches((replaySteps) => estimatorOf(classifier({ n: 0 }, extra), { replaySteps }));
});

test('steps that differ are not replayed, and say why: random ops, a rate decayed from the step, a value read back', async () => {
  const cases: Array<[string, (h: tf.Tensor, step: tf.Variable) => tf.Tensor, RegExp]> = [
    ['dropout', (h) => layers.dropout(h, 0.3, { training: true }), /step number/],
    ['exponentialDecay', (h, step) => tf.mul(h, train.exponentialDecay(1, step, 5, 0.9, true)), /step number/],
    [
      'dataSync',
      (h) => {
        const scale = tf.mean(h).dataSync()[0] > 1e9 ? 2 : 1;
        return tf.mul(h, scale);
      },
      /reads a value back/,
    ],
  ];
  for (const [what, extra, reason] of cases) {
    const calls = { n: 0 };
    await estimatorOf(classifier(calls, extra)).train(() => linearDataset(64).repeat(), { steps: 12 });
    const report = lastReplayReport();
    assert.equal(calls.n, 12, `${what}: modelFn runs at every step`);
    assert.equal(report.replayedSteps, 0, what);
    assert.match(report.reason ?? '', reason, what);
  }
});

// That the variables stay as they were is checked on StepReplay itself (the last test).
test("a replayed step checks each batch's labels: a bad one throws the class-id error, at the same step as modelFn's check", async () => {
  // Labels 1 of 2 classes, and from the 10th batch on 2 (out of range).
  const badFrom = 10;
  const run = async (replaySteps: boolean) => {
    const calls = { n: 0 };
    const fn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
      if (mode === ModeKeys.TRAIN) calls.n += 1;
      const step = train.getOrCreateGlobalStep();
      const logits = layers.dense(layers.dense(x, 8, { activation: 'relu', name: 'hidden' }), 2, { name: 'head' });
      const loss = losses.sparseSoftmaxCrossEntropy(tf.reshape(y!, [-1]), logits);
      return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.01).minimize(loss, { globalStep: step }) });
    };
    const est = new Estimator(fn, tmpDir('replay-labels-'), {
      config: { randomSeed: 1, logStepCountSteps: 0, saveSummarySteps: 0, replaySteps },
    });
    let batch = 0;
    const labelled = () =>
      linearDataset(64)
        .repeat()
        .map((b) => {
          batch += 1;
          const { xs } = b as { xs: tf.Tensor };
          return { xs, ys: tf.fill([xs.shape[0], 1], batch >= badFrom ? 2 : 1, 'int32') } as unknown as tf.TensorContainer;
        });
    let steps = 0;
    const count: SessionRunHook = { afterRun: () => void (steps += 1) };
    await assert.rejects(est.train(labelled, { steps: 20, hooks: [count] }), /label 2 .*not a class id in \[0, 2\)/);
    return { calls: calls.n, steps, report: lastReplayReport() };
  };
  const replayed = await run(true);
  const called = await run(false);
  assert.ok(replayed.report.replayedSteps >= 5, `the bad batch came to a replayed step: ${JSON.stringify(replayed.report)}`);
  assert.ok(replayed.calls < replayed.steps, `modelFn calls: ${replayed.calls}`);
  assert.equal(replayed.steps, called.steps, 'both stop at the same batch');
});

test('memory stays flat over 2,000 replayed steps: engine tensors and the backend buffers', async () => {
  const calls = { n: 0 };
  const est = estimatorOf(classifier(calls), { saveCheckpointsSteps: 1_000_000 });
  await est.train(() => linearDataset(64).repeat(), { steps: 5 });
  const samples: Array<{ step: number; tensors: number; dataIds: number }> = [];
  const probe: SessionRunHook = {
    afterRun: (ctx) => {
      if (ctx.globalStep % 500 === 0)
        samples.push({ step: ctx.globalStep, tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() });
    },
  };
  await est.train(() => linearDataset(64).repeat(), { steps: 2000, hooks: [probe] });
  assert.ok(lastReplayReport().replayedSteps > 1990);
  assert.equal(samples.length, 4);
  for (const s of samples.slice(1)) {
    assert.equal(s.tensors, samples[0].tensors, JSON.stringify(samples));
    assert.equal(s.dataIds, samples[0].dataIds, JSON.stringify(samples));
  }
});

test('StepReplay: runs the recorded kernels on new inputs, checks values first, and assigns variables only at the end', () => {
  const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'replay_v');
  const x0 = tf.tensor1d([1, 1, 1]);
  const recorder = new StepRecorder([v], [x0]);
  recorder.start();
  let loss: tf.Tensor;
  try {
    checkValues(x0, (values) => {
      if (values.some((e) => e < 0)) throw new RangeError('negative input');
    });
    loss = tf.sum(tf.mul(v, x0));
    v.assign(tf.add(v, tf.mul(x0, 0.5)));
  } finally {
    recorder.unpatch();
  }
  const trace = recorder.stop([loss]);
  assert.ok(typeof trace !== 'string', String(trace));
  const replay = new StepReplay(trace);
  try {
    assert.deepEqual(Array.from(loss.dataSync()), [6]);
    const {
      outputs: [out],
    } = replay.run([v], [tf.tensor1d([2, 0, 0])]);
    assert.deepEqual(Array.from(out!.dataSync()), [3], 'the sum with v before the assign: 1.5 * 2');
    assert.deepEqual(Array.from(v.dataSync()), [2.5, 2.5, 3.5]);
    const before = tf.engine().backend.numDataIds();
    assert.throws(() => replay.run([v], [tf.tensor1d([1, -1, 1])]), /negative input/);
    assert.deepEqual(Array.from(v.dataSync()), [2.5, 2.5, 3.5], 'a failed check leaves the variable as it was');
    assert.equal(tf.engine().backend.numDataIds(), before + 1, 'only the new input tensor is left');
  } finally {
    replay.dispose();
  }

  // A tensor from before the step (a constant of another cell) is read again by each replay,
  // while it is not disposed.
  const outside = tf.scalar(2);
  const r2 = new StepRecorder([v], [x0]);
  r2.start();
  const y = tf.mul(v, outside);
  const held = r2.stop([y]);
  assert.ok(typeof held !== 'string', String(held));
  const replay2 = new StepReplay(held);
  try {
    const x1 = tf.tensor1d([0, 0, 0]);
    assert.equal(replay2.mismatch([x1]), undefined);
    assert.deepEqual(Array.from(replay2.run([v], [x1]).outputs[0]!.dataSync()), [5, 5, 7]);
    outside.dispose();
    assert.match(replay2.mismatch([x1]) ?? '', /from before the step .* was disposed/);
  } finally {
    replay2.dispose();
  }
  // A variable outside the store: not replayable (it may change).
  const loose = tf.variable(tf.scalar(3));
  const r3 = new StepRecorder([v], [x0]);
  r3.start();
  const z = tf.mul(v, loose);
  assert.match(String(r3.stop([z])), /neither a variable nor the batch/);
});

test('evaluate and predict replay their recorded step: the metrics, loss and predictions of calling modelFn each batch', async () => {
  const dir = tmpDir('replay-eval-');
  await new Estimator(articleModelFn, dir, { config: { randomSeed: 2, logStepCountSteps: 0, saveSummarySteps: 0 } }).train(
    mnistInputFn(ModeKeys.TRAIN, 32, 2),
    { maxSteps: 30 },
  );
  const run = async (replaySteps: boolean) => {
    const est = new Estimator(articleModelFn, dir, { config: { randomSeed: 2, logStepCountSteps: 0, replaySteps } });
    const metrics = await est.evaluate(mnistInputFn(ModeKeys.EVAL, 50), { steps: 12 });
    const evalReport = lastReplayReport();
    const predictions: unknown[] = [];
    for await (const p of est.predict(mnistInputFn(ModeKeys.PREDICT, 50))) {
      predictions.push(p);
      if (predictions.length === 600) break;
    }
    return { metrics, evalReport, predictReport: lastReplayReport(), predictions };
  };
  const replayed = await run(true);
  const called = await run(false);
  assert.ok(replayed.evalReport.replayedSteps >= 8, `evaluate: ${JSON.stringify(replayed.evalReport)}`);
  assert.ok(replayed.predictReport.replayedSteps >= 8, `predict: ${JSON.stringify(replayed.predictReport)}`);
  assert.equal(called.evalReport.replayedSteps, 0);
  assert.deepEqual(replayed.metrics, called.metrics);
  // (30 steps: the batch norm's moving averages still lag, so the accuracy is low; it is the same.)
  assert.ok(
    replayed.metrics.accuracy >= 0 && replayed.metrics.accuracy <= 1 && Number.isFinite(replayed.metrics.loss),
    JSON.stringify(replayed.metrics),
  );
  assert.deepEqual(replayed.predictions, called.predictions);
});

test('every metric of metrics.* replays in evaluate (means, errors, counts, AUC, IoU, top-k) with the values of modelFn each batch', async () => {
  const fn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
    const pred = layers.dense(layers.dense(x, 8, { activation: 'relu', name: 'hidden' }), 1, { name: 'head' });
    const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
    if (mode === ModeKeys.TRAIN)
      return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
    const positive = tf.cast(tf.greater(y!, 0), 'int32');
    const predictedPositive = tf.cast(tf.greater(pred, 0), 'int32');
    return new EstimatorSpec({
      mode,
      loss,
      evalMetricOps: {
        accuracy: metrics.accuracy(positive, predictedPositive),
        mean: metrics.mean(pred),
        mse: metrics.meanSquaredError(y!, pred),
        mae: metrics.meanAbsoluteError(y!, pred),
        rmse: metrics.rootMeanSquaredError(y!, pred),
        precision: metrics.precision(positive, predictedPositive),
        recall: metrics.recall(positive, predictedPositive),
        tp: metrics.truePositives(positive, predictedPositive),
        fn: metrics.falseNegatives(positive, predictedPositive),
        // These read whole arrays (thresholds, a confusion matrix, top-k ranks) back, not scalars.
        auc: metrics.auc(positive, tf.sigmoid(pred)),
        meanIoU: metrics.meanIoU(positive, predictedPositive, 2),
        perClass: metrics.meanPerClassAccuracy(positive, predictedPositive, 2),
        top1: metrics.topKAccuracy(positive, tf.concat([tf.neg(pred), pred], 1), 1),
      },
    });
  };
  const dir = tmpDir('replay-metrics-');
  await new Estimator(fn, dir, { config: { randomSeed: 4, logStepCountSteps: 0 } }).train(() => linearDataset(64).repeat(), { steps: 20 });
  const run = async (replaySteps: boolean) => {
    const m = await new Estimator(fn, dir, { config: { replaySteps } }).evaluate(() => linearDataset(96));
    return { m, report: lastReplayReport() };
  };
  const replayed = await run(true);
  const called = await run(false);
  assert.ok(replayed.report.replayedSteps >= 6, JSON.stringify(replayed.report));
  assert.deepEqual(replayed.m, called.m);
});

test('a tensor made in another cell and read by modelFn (a normalising constant) replays with it, bit for bit', async () => {
  const shift = tf.tensor1d([0.1, -0.2, 0.3]);
  await assertReplayMatches((replaySteps) => {
    const fn = classifier({ n: 0 });
    const withShift = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => fn(tf.sub(x, shift), y, mode);
    return new Estimator(withShift, tmpDir('replay-held-'), {
      config: { randomSeed: 1, logStepCountSteps: 0, saveSummarySteps: 0, replaySteps },
    });
  });
  shift.dispose();
});
