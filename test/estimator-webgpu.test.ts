// The Estimator on the webgpu backend, run on chromium's SwiftShader (a Vulkan driver on the
// CPU: slow, so the model and batches are tiny): the same losses as the cpu backend,
// checkpoints that cross backends both ways, evaluate, predict, summaries, export, interrupt,
// the display helpers, memory (tensors and GPU buffers) flat over hundreds of steps, and
// replayed steps run as one command buffer, from their recorded GPU commands (step graphs).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { CHROMIUM_SWIFTSHADER_ICD } from '../src/backend/webgpu/setup';
import { initBackend } from '../src/backend/select';
import { setLogSink, setQuiet, setVerbosity, getVerbosity } from '../src/host/log';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import { RunConfigOptions } from '../src/estimator/run-config';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as losses from '../src/estimator/losses';
import * as metrics from '../src/estimator/metrics';
import { requestInterrupt, KeyboardInterrupt } from '../src/host/interrupt';
import type { SessionRunHook } from '../src/estimator/hooks/hook';
import { imageBundle } from '../src/display/images';
import { histogramBundle } from '../src/display/charts';
import { values } from './helpers/backend-compare';
import { tmpDir } from './helpers/tmp';
import { lastReplayReport } from '../src/estimator/loop-replay';

process.env.VK_DRIVER_FILES ??= CHROMIUM_SWIFTSHADER_ICD;
setQuiet(true);

before(async () => {
  await initBackend('webgpu');
});

const N = 16;
const IMAGES = values(N * 8 * 8, 7, 0, 1);
const LABELS = Int32Array.from({ length: N }, (_, i) => (i * 7) % 3);

/** 16 deterministic 8x8 images with labels 0..2, in batches of 4 (repeated when training). */
function input(repeat: boolean) {
  return () => {
    const rows = Array.from({ length: N }, (_, i) => ({ xs: Array.from(IMAGES.subarray(i * 64, (i + 1) * 64)), ys: LABELS[i] }));
    const ds = tf.data.array(rows).map((r) => {
      const { xs, ys } = r as { xs: number[]; ys: number };
      return { xs: tf.tensor(xs, [8, 8, 1]), ys: tf.scalar(ys, 'int32') } as unknown as tf.TensorContainer;
    });
    return repeat ? ds.batch(4).repeat() : ds.batch(4);
  };
}

/** A small CNN: conv 4 (no bias) / batch norm / relu / maxpool, global mean, dense 3; Adam. */
/** The model's logits. */
function forward(x: tf.Tensor, mode: ModeKey): tf.Tensor {
  // No conv bias: batch norm cancels its gradient, and Adam turns that ~1e-9 noise into
  // steps of ±lr that differ from one backend to the next (the moving mean then differs).
  let h: tf.Tensor = layers.conv2d(x as tf.Tensor4D, 4, 3, { useBias: false });
  h = layers.batchNormalization(h, { training: mode === ModeKeys.TRAIN, momentum: 0.9 });
  h = layers.maxPooling2d(tf.relu(h), 2, 2);
  return layers.dense(tf.mean(h, [1, 2]), 3);
}

function modelFn(x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec {
  const logits = forward(x, mode);
  const classes = tf.argMax(logits, -1);
  const predictions = { classes, probabilities: tf.softmax(logits) };
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions });
  const loss = losses.sparseSoftmaxCrossEntropy(y!, logits);
  if (mode === ModeKeys.EVAL)
    return new EstimatorSpec({ mode, loss, predictions, evalMetricOps: { accuracy: metrics.accuracy(y!, classes) } });
  const trainOp = train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
  return new EstimatorSpec({ mode, loss, trainOp, predictions });
}

function estimator(dir: string, backend: string, config: RunConfigOptions = {}): Estimator<tf.Tensor, tf.Tensor> {
  return new Estimator(modelFn, dir, { config: { backend, randomSeed: 3, logStepCountSteps: 0, ...config } });
}

/** Losses of each step, read by a hook (as the logging hook reads them). */
async function trainLosses(est: Estimator<tf.Tensor, tf.Tensor>, steps: number): Promise<number[]> {
  const out: number[] = [];
  const hook: SessionRunHook = {
    beforeRun: () => ({ fetches: { loss: 'loss' } }),
    afterRun: (_c, v) => void out.push(v.results.loss as number),
  };
  await est.train(input(true), { steps, hooks: [hook] });
  return out;
}

/** Runs fn with these environment variables set (undefined: unset), then puts them back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  set(vars);
  try {
    return await fn();
  } finally {
    set(before);
  }
}

/** Counts calls of a method of a Dawn class (GPUDevice.createBindGroup, ...), those whose
 *  arguments pass `when` if given, until restored. */
function countCalls(cls: string, method: string, when?: (...a: unknown[]) => boolean): { count: () => number; restore: () => void } {
  const proto = (globalThis as unknown as Record<string, { prototype: Record<string, (...a: unknown[]) => unknown> }>)[cls].prototype;
  const orig = proto[method];
  let n = 0;
  proto[method] = function (this: unknown, ...a: unknown[]) {
    if (!when || when(...a)) n += 1;
    return orig.apply(this, a);
  };
  return { count: () => n, restore: () => void (proto[method] = orig) };
}

/** Bytes of the GPU buffers tfjs-webgpu's pool has made (in use or free). */
function gpuBytesAllocated(): number {
  return (tf.backend() as unknown as { bufferManager: { numBytesAllocated: number } }).bufferManager.numBytesAllocated;
}

/** GPUBuffer.mapAsync(GPUMapMode.READ): a read-back (it submits a copy of its own). */
const isReadBack = (mode: unknown) => mode === 1;

function variables(est: Estimator<tf.Tensor, tf.Tensor>): Map<string, number[]> {
  return new Map(est.getVariableNames().map((name) => [name, Array.from(est.getVariableValue(name).dataSync())]));
}

function close(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${what}: webgpu ${got} vs cpu ${want}`);
}

test("Estimator.train on webgpu gives the cpu backend's losses to 1e-3; evaluate and predict agree too", async () => {
  const cpuDir = tmpDir('wg-cpu-');
  const gpuDir = tmpDir('wg-gpu-');
  const cpu = await trainLosses(estimator(cpuDir, 'cpu'), 8);
  const gpu = await trainLosses(estimator(gpuDir, 'webgpu'), 8);
  assert.equal(tf.getBackend(), 'webgpu');
  assert.equal(gpu.length, 8);
  gpu.forEach((l, i) => close(l, cpu[i], 1e-3, `step ${i + 1} loss`));
  // Four batches an epoch: the second epoch's losses are lower than the first's.
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  assert.ok(sum(cpu.slice(4)) < sum(cpu.slice(0, 4)), `the loss falls (${cpu})`);

  const evCpu = await estimator(cpuDir, 'cpu').evaluate(input(false));
  const evGpu = await estimator(gpuDir, 'webgpu').evaluate(input(false));
  close(evGpu.loss, evCpu.loss, 1e-3, 'eval loss');
  assert.equal(evGpu.accuracy, evCpu.accuracy);
  assert.equal(evGpu.globalStep, 8);

  const preds: Array<{ classes: number; probabilities: Float32Array }> = [];
  for await (const p of estimator(gpuDir, 'webgpu').predict(input(false)))
    preds.push(p as unknown as { classes: number; probabilities: Float32Array });
  assert.equal(preds.length, N);
  assert.equal(tf.getBackend(), 'webgpu');
  for (const p of preds)
    close(
      p.probabilities.reduce((a, b) => a + b, 0),
      1,
      1e-5,
      'probabilities sum',
    );
  assert.ok(
    preds.every((p) => Number.isInteger(p.classes) && p.classes >= 0 && p.classes < 3),
    'int32 classes read back as class ids',
  );
});

test('checkpoints written on webgpu restore on cpu and native, and the other way round', async () => {
  const dir = tmpDir('wg-ckpt-');
  await estimator(dir, 'webgpu').train(input(true), { steps: 2 });
  const onGpu = await estimator(dir, 'webgpu').evaluate(input(false));
  const onCpu = await estimator(dir, 'cpu').evaluate(input(false));
  const onNative = await estimator(dir, 'native').evaluate(input(false));
  close(onCpu.loss, onGpu.loss, 1e-4, 'webgpu checkpoint evaluated on cpu');
  close(onNative.loss, onGpu.loss, 1e-4, 'webgpu checkpoint evaluated on native');
  // Continue on native, then on webgpu: both resume from the other's checkpoint.
  await estimator(dir, 'native').train(input(true), { steps: 2 });
  const a = await estimator(dir, 'native').evaluate(input(false));
  const b = await estimator(dir, 'webgpu').evaluate(input(false));
  assert.equal(b.globalStep, 4);
  close(b.loss, a.loss, 1e-4, 'native checkpoint evaluated on webgpu');
  await estimator(dir, 'webgpu').train(input(true), { steps: 1 });
  assert.ok(estimator(dir, 'webgpu').latestCheckpoint()!.endsWith('model.ckpt-5'));
  assert.equal(tf.getBackend(), 'webgpu');
});

test('on webgpu: summaries are written, exportSavedModel exports, an interrupt saves and stops, the display helpers read tensors', async () => {
  const dir = tmpDir('wg-misc-');
  await estimator(dir, 'webgpu', { saveSummarySteps: 1 }).train(input(true), { steps: 2 });
  const events = fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents'));
  assert.equal(events.length, 1, `one event file in ${fs.readdirSync(dir)}`);
  const bytes = fs.readFileSync(path.join(dir, events[0]));
  assert.ok(bytes.includes(Buffer.from('loss')), 'the loss scalar is in the event file');

  const exported = await estimator(dir, 'webgpu').exportSavedModel(path.join(dir, 'export'), () => ({ features: tf.zeros([1, 8, 8, 1]) }));
  const model = JSON.parse(fs.readFileSync(path.join(exported, 'model.json'), 'utf8')) as { weightsManifest: unknown[] };
  assert.ok(model.weightsManifest.length > 0);
  assert.equal(tf.getBackend(), 'webgpu');

  const trigger: SessionRunHook = { afterRun: (ctx) => void (ctx.globalStep === 3 && requestInterrupt()) };
  await assert.rejects(estimator(dir, 'webgpu').train(input(true), { steps: 50, hooks: [trigger] }), (e: Error) => {
    assert.ok(e instanceof KeyboardInterrupt, String(e));
    assert.match(e.message, /interrupted at global step 3; checkpoint saved/);
    return true;
  });

  const img = tf.tidy(() => tf.mul(tf.ones([8, 8]), 0.5));
  const png = imageBundle(img)['image/png'] as string;
  assert.ok(png.length > 50, 'a PNG from a webgpu tensor');
  img.dispose();
  const h = tf.tensor([1, 2, 2, 3, 3, 3]);
  assert.ok(JSON.stringify(histogramBundle(h)).includes('histogram') || Object.keys(histogramBundle(h)).length > 0);
  h.dispose();
});

test('training on webgpu keeps tf.memory().numTensors and the GPU buffer pool flat over hundreds of steps', async () => {
  const dir = tmpDir('wg-mem-');
  const est = estimator(dir, 'webgpu', { saveCheckpointsSteps: 1_000_000 });
  await est.train(input(true), { steps: 5 });
  const pool = (tf.backend() as unknown as { bufferManager: { getNumUsedBuffers(): number; getNumFreeBuffers(): number } }).bufferManager;
  const samples: Array<{ step: number; tensors: number; used: number; free: number }> = [];
  const probe: SessionRunHook = {
    afterRun: async (ctx) => {
      if (ctx.globalStep % 40 !== 0) return;
      // A read submits the queued commands, which releases their staging and uniform buffers.
      const t = tf.scalar(0);
      await t.data();
      t.dispose();
      samples.push({
        step: ctx.globalStep,
        tensors: tf.memory().numTensors,
        used: pool.getNumUsedBuffers(),
        free: pool.getNumFreeBuffers(),
      });
    },
  };
  await est.train(input(true), { steps: 200, hooks: [probe] });
  assert.equal(samples.length, 5);
  const [first, ...rest] = samples;
  for (const s of rest) {
    assert.equal(s.tensors, first.tensors, `numTensors at step ${s.step} vs ${first.step}: ${JSON.stringify(samples)}`);
    // Buffers of steps the GPU has not finished are released only when it does, so the in-use
    // count jitters with timing (17-53 seen under load); a leak would grow the pool instead.
    assert.ok(s.used + s.free <= first.used + first.free + 8, `the pool does not grow: ${JSON.stringify(samples)}`);
  }
  // Once the GPU has caught up, every buffer of past steps is back in the pool.
  const last = samples[samples.length - 1];
  assert.ok(
    last.used <= Math.min(...samples.map((x) => x.used)) + 16,
    `GPU buffers in use after the last step: ${JSON.stringify(samples)}`,
  );
});

test('on webgpu the built-in hooks do not read the loss back every step (each read waits for the GPU)', async () => {
  const proto = (globalThis as unknown as { GPUBuffer: { prototype: { mapAsync(mode: number, ...a: unknown[]): Promise<void> } } })
    .GPUBuffer.prototype;
  const original = proto.mapAsync;
  let reads = 0;
  proto.mapAsync = function (this: unknown, mode: number, ...a: unknown[]) {
    if (mode === 1) reads += 1; // GPUMapMode.READ: a read-back; uploads map for WRITE
    return original.call(this, mode, ...a);
  };
  try {
    const dir = tmpDir('wg-reads-');
    // Default hooks: NaN check, step logging every 100 steps, progress, checkpoint at the end.
    const est = new Estimator(modelFn, dir, { config: { backend: 'webgpu', randomSeed: 3 } });
    await est.train(input(true), { steps: 2 });
    // Reads during the steps: from the first step's end to the last's (the final save reads every variable).
    let atFirst = 0;
    let atLast = 0;
    const probe: SessionRunHook = {
      afterRun: (ctx) => {
        if (ctx.globalStep === 3) atFirst = reads;
        if (ctx.globalStep === 42) atLast = reads;
      },
    };
    await est.train(input(true), { steps: 40, hooks: [probe] });
    assert.ok(atLast > 0, 'the last step reads its loss (for the progress bar and the final log line)');
    // Progress reads at most every 0.5 s and at the last step; the NaN check every 100 steps,
    // the step log every 100: far fewer reads than the 39 steps.
    assert.ok(atLast - atFirst < 20, `${atLast - atFirst} read-backs over 39 steps`);
  } finally {
    proto.mapAsync = original;
  }
});

test("on webgpu a training step (modelFn and train op) reads nothing back: Adam's lr_t stays on the GPU, exponentialDecay knows the global step", async () => {
  const proto = (globalThis as unknown as { GPUBuffer: { prototype: { mapAsync(mode: number, ...a: unknown[]): Promise<void> } } })
    .GPUBuffer.prototype;
  const original = proto.mapAsync;
  let reads = 0;
  proto.mapAsync = function (this: unknown, mode: number, ...a: unknown[]) {
    if (mode === 1) reads += 1; // GPUMapMode.READ
    return original.call(this, mode, ...a);
  };
  const trainOpReads: number[] = [];
  const modelFnReads: number[] = [];
  const rates: Array<[number, number]> = [];
  /** Counts the read-backs of the wrapped op: the gradient, Adam's update, the step increment. */
  class Counted extends train.TrainOp {
    constructor(private readonly inner: train.TrainOp) {
      super();
    }
    run(ctx: Parameters<train.TrainOp['run']>[0]): void {
      const before = reads;
      this.inner.run(ctx);
      trainOpReads.push(reads - before);
    }
  }
  // Trains only (no predictions): the same variables as modelFn, Adam on a decayed rate.
  const fn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
    const before = reads;
    // The forward pass and the loss too (the loss checks its labels: they are still on the CPU).
    const loss = losses.sparseSoftmaxCrossEntropy(y!, forward(x, mode));
    const step = train.getOrCreateGlobalStep();
    const lr = train.exponentialDecay(0.01, step, 10, 0.5);
    modelFnReads.push(reads - before);
    rates.push([lr, 0.01 * Math.pow(0.5, (rates.length + 2) / 10)]);
    return new EstimatorSpec({ mode, loss, trainOp: new Counted(train.adam(lr).minimize(loss, { globalStep: step })) });
  };
  try {
    const dir = tmpDir('wg-adam-reads-');
    // Two steps first, so that the run below resumes from a checkpoint (beta powers restored).
    await new Estimator(modelFn, dir, { config: { backend: 'webgpu', randomSeed: 3, logStepCountSteps: 0 } }).train(input(true), {
      steps: 2,
    });
    await new Estimator(fn, dir, { config: { backend: 'webgpu', randomSeed: 3, logStepCountSteps: 0 } }).train(input(true), { steps: 4 });
  } finally {
    proto.mapAsync = original;
  }
  assert.deepEqual(trainOpReads, [0, 0, 0, 0], "read-backs in each step's train op");
  assert.deepEqual(modelFnReads, [0, 0, 0, 0], 'read-backs in modelFn: forward pass, loss, exponentialDecay');
  for (const [got, want] of rates) close(got, want, 1e-12, 'decayed learning rate at the restored global step');
});

test('on webgpu a replayed training step goes to the GPU as one command buffer (four before: a submit every 15 dispatches)', async () => {
  const submits = countCalls('GPUQueue', 'submit');
  const reads = countCalls('GPUBuffer', 'mapAsync', isReadBack);
  /** Submits in each replayed step that read nothing back (a hook may read the loss). */
  const perStep = async (oneSubmit: boolean): Promise<{ counts: number[]; replayed: number }> => {
    const steps: Array<{ submits: number; reads: number }> = [];
    let at = { submits: 0, reads: 0 };
    const probe: SessionRunHook = {
      beforeRun: () => void (at = { submits: submits.count(), reads: reads.count() }),
      afterRun: () => void steps.push({ submits: submits.count() - at.submits, reads: reads.count() - at.reads }),
    };
    const dir = tmpDir('wg-submit-');
    await estimator(dir, 'webgpu').train(input(true), { steps: 2 });
    // The replay through tfjs's kernels: a step graph (tested below) submits once either way.
    await withEnv({ TFJS_ESTIMATOR_WEBGPU_GRAPH: '0', TFJS_ESTIMATOR_WEBGPU_ONE_SUBMIT: oneSubmit ? undefined : '0' }, () =>
      estimator(dir, 'webgpu').train(input(true), { steps: 10, hooks: [probe] }),
    );
    const replayed = lastReplayReport().replayedSteps;
    // The last steps were replayed (the first three of a call run modelFn and are recorded).
    return {
      counts: steps
        .slice(-replayed)
        .filter((s) => s.reads === 0)
        .map((s) => s.submits),
      replayed,
    };
  };
  try {
    const one = await perStep(true);
    const batched = await perStep(false);
    assert.ok(one.replayed >= 6 && one.counts.length >= 3, `steps replayed: ${one.replayed}, without a read: ${one.counts.length}`);
    assert.deepEqual(one.counts, new Array<number>(one.counts.length).fill(1), `submits per replayed step: ${one.counts}`);
    assert.ok(
      batched.counts.length > 0 && batched.counts.every((n) => n >= 2),
      `with TFJS_ESTIMATOR_WEBGPU_ONE_SUBMIT=0, tfjs-webgpu's batching: ${batched.counts}`,
    );
  } finally {
    submits.restore();
    reads.restore();
  }
});

test("on webgpu replayed steps run from their recorded GPU commands: the losses and variables of replaying through tfjs's kernels, bit for bit, with no bind group made and one submit a step", async () => {
  const bindGroups = countCalls('GPUDevice', 'createBindGroup');
  const submits = countCalls('GPUQueue', 'submit');
  const reads = countCalls('GPUBuffer', 'mapAsync', isReadBack);
  const run = async (graph: boolean) => {
    const dir = tmpDir('wg-graph-');
    await estimator(dir, 'webgpu').train(input(true), { steps: 2 });
    const steps: Array<{ loss: number; bindGroups: number; submits: number; gpuBytes: number }> = [];
    let at = { bindGroups: 0, submits: 0 };
    // Submits of the step itself: each read of the fetched loss submits a copy of its own.
    const stepSubmits = () => submits.count() - reads.count();
    const hook: SessionRunHook = {
      beforeRun: () => {
        at = { bindGroups: bindGroups.count(), submits: stepSubmits() };
        return { fetches: { loss: 'loss' } };
      },
      afterRun: (_c, v) =>
        void steps.push({
          bindGroups: bindGroups.count() - at.bindGroups,
          submits: stepSubmits() - at.submits,
          loss: v.results.loss as number,
          gpuBytes: gpuBytesAllocated(),
        }),
    };
    const est = estimator(dir, 'webgpu');
    await withEnv({ TFJS_ESTIMATOR_WEBGPU_GRAPH: graph ? undefined : '0' }, () => est.train(input(true), { steps: 12, hooks: [hook] }));
    return { steps, report: lastReplayReport(), vars: variables(est) };
  };
  try {
    const graph = await run(true);
    const kernels = await run(false);
    assert.ok(graph.report.graphSteps >= 7, `steps from the GPU graph: ${JSON.stringify(graph.report)}`);
    assert.equal(kernels.report.graphSteps, 0);
    assert.equal(kernels.report.replayedSteps, graph.report.replayedSteps);
    assert.deepEqual(
      graph.steps.map((s) => s.loss),
      kernels.steps.map((s) => s.loss),
    );
    assert.deepEqual([...graph.vars.keys()].sort(), [...kernels.vars.keys()].sort());
    for (const [name, x] of graph.vars) assert.deepEqual(x, kernels.vars.get(name), `variable ${name}`);
    const last = (r: typeof graph) => r.steps.slice(-r.report.graphSteps);
    assert.deepEqual(
      last(graph).map((s) => s.bindGroups),
      new Array<number>(graph.report.graphSteps).fill(0),
      'bind groups made in a step from the graph',
    );
    assert.ok(
      last(graph).every((s) => s.submits === 1),
      `submits in a step from the graph: ${last(graph).map((s) => s.submits)}`,
    );
    // Values whose uses do not overlap share a buffer of the graph's (buffer-plan.ts).
    const { graphBytes = 0, graphUnsharedBytes = 0 } = graph.report;
    assert.ok(graphBytes > 0 && graphBytes < 0.7 * graphUnsharedBytes, JSON.stringify(graph.report));
    // They come from tfjs's pool, where the recorded step left them: the GPU memory tfjs holds
    // grows by the graph's uniforms at most, not by its buffers.
    const pool = graph.steps.map((s) => s.gpuBytes);
    assert.ok(pool[pool.length - 1] - pool[0] < graphBytes / 2, `tfjs's pool by step: ${pool}; the graph's buffers ${graphBytes} bytes`);
    assert.ok(
      last(kernels).every((s) => s.bindGroups >= 20),
      `through tfjs's kernels, a bind group per dispatch: ${last(kernels).map((s) => s.bindGroups)}`,
    );
  } finally {
    bindGroups.restore();
    submits.restore();
    reads.restore();
  }
});

test('on webgpu a variable assigned between steps sends the step back through the kernels, then to a new graph; predict and evaluate (its metrics read after the step) run from graphs', async () => {
  const run = async (graph: boolean) => {
    const dir = tmpDir('wg-graph-assign-');
    await estimator(dir, 'webgpu').train(input(true), { steps: 2 });
    const est = estimator(dir, 'webgpu');
    let assigned = false;
    // A hook that changes a weight in place of the step (as a user's hook could).
    const hook: SessionRunHook = {
      afterRun: (ctx) => {
        if (ctx.globalStep !== 9) return;
        const kernel = Object.values(tf.engine().registeredVariables).find((v) => v.name.includes('dense') && v.name.includes('kernel'))!;
        tf.tidy(() => kernel.assign(tf.mul(kernel, 0.5)));
        assigned = true;
      },
    };
    return withEnv({ TFJS_ESTIMATOR_WEBGPU_GRAPH: graph ? undefined : '0' }, async () => {
      await est.train(input(true), { steps: 14, hooks: [hook] });
      const trained = lastReplayReport();
      const preds: number[] = [];
      for await (const p of est.predict(() => input(false)().repeat(3)))
        preds.push(...(p as unknown as { probabilities: Float32Array }).probabilities);
      const predicted = lastReplayReport();
      const metrics = await est.evaluate(() => input(false)().repeat(3));
      return { assigned, trained, predicted, metrics, evaluated: lastReplayReport(), vars: variables(est), preds };
    });
  };
  const graph = await run(true);
  const kernels = await run(false);
  assert.ok(graph.assigned);
  // Steps 6-8 from the first graph; 10 through the kernels (recorded again), 11-14 from the new one.
  assert.ok(graph.trained.graphSteps >= 5 && graph.trained.graphSteps < graph.trained.replayedSteps - 1, JSON.stringify(graph.trained));
  for (const [name, x] of graph.vars) assert.deepEqual(x, kernels.vars.get(name), `variable ${name}`);
  assert.ok(graph.predicted.graphSteps >= 6, `predict's steps from the graph: ${JSON.stringify(graph.predicted)}`);
  assert.deepEqual(graph.preds, kernels.preds);
  assert.ok(graph.evaluated.graphSteps >= 6, `evaluate's steps from the graph: ${JSON.stringify(graph.evaluated)}`);
  assert.equal(kernels.evaluated.graphSteps, 0);
  assert.deepEqual(graph.metrics, kernels.metrics);
});

test("on webgpu a step with a kernel tfjs would run on the CPU (an op on the labels) is recorded with every kernel on the GPU, and gives the kernels' variables", async () => {
  const oneHotModel = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
    const logits = forward(x, mode);
    // The batch's 4 labels are small and on the host: tfjs-webgpu adds them on the CPU.
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.add(y!, tf.scalar(0, 'int32')), 3), logits);
    const trainOp = train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
    return new EstimatorSpec({ mode, loss, trainOp });
  };
  const run = async (graph: boolean) => {
    const est = new Estimator(oneHotModel, tmpDir('wg-graph-onehot-'), {
      config: { backend: 'webgpu', randomSeed: 3, logStepCountSteps: 0 },
    });
    // Batches made from values stay on the host until a kernel uploads them (tf.data's batch()
    // stacks them on the GPU instead).
    const hostBatches = () =>
      tf.data.generator(function* () {
        for (let i = 0; ; i = (i + 4) % N) {
          const xs = tf.tensor(IMAGES.subarray(i * 64, (i + 4) * 64), [4, 8, 8, 1]);
          yield { xs, ys: tf.tensor(LABELS.subarray(i, i + 4), [4], 'int32') } as unknown as tf.TensorContainer;
        }
      });
    await withEnv({ TFJS_ESTIMATOR_WEBGPU_GRAPH: graph ? undefined : '0' }, () => est.train(hostBatches, { steps: 12 }));
    return { report: lastReplayReport(), vars: variables(est as unknown as Estimator<tf.Tensor, tf.Tensor>) };
  };
  const graph = await run(true);
  const kernels = await run(false);
  assert.ok(graph.report.graphSteps >= 6, JSON.stringify(graph.report));
  for (const [name, x] of graph.vars) assert.deepEqual(x, kernels.vars.get(name), `variable ${name}`);
});

test("on webgpu a step graph Dawn refuses (here: a binding past its buffer's end) is dropped before its first step, with one warning; training goes on through the kernels", async () => {
  const run = async (graph: boolean) => {
    const dir = tmpDir('wg-graph-refused-');
    await estimator(dir, 'webgpu').train(input(true), { steps: 2 });
    const est = estimator(dir, 'webgpu');
    const losses = await withEnv({ TFJS_ESTIMATOR_WEBGPU_GRAPH: graph ? undefined : '0' }, () => trainLosses(est, 10));
    return { losses, report: lastReplayReport(), vars: variables(est) };
  };
  type Entry = { binding: number; resource: { buffer: { size: number }; offset?: number; size?: number } };
  type Descriptor = { layout: object; entries: Entry[] };
  const device = (globalThis as unknown as Record<string, { prototype: Record<string, unknown> }>).GPUDevice.prototype;
  const createBindGroup = device.createBindGroup as (this: unknown, d: Descriptor) => unknown;
  // Only the bind groups of the step graph (tfjs's own kernels keep theirs).
  device.createBindGroup = function (this: unknown, d: Descriptor) {
    if (!/new StepGraph/.test(new Error().stack ?? '')) return createBindGroup.call(this, d);
    const [first, ...rest] = d.entries;
    const past = { ...first.resource, offset: 0, size: first.resource.buffer.size + 256 };
    return createBindGroup.call(this, { ...d, entries: [{ ...first, resource: past }, ...rest] });
  };
  const warnings: string[] = [];
  const verbosity = getVerbosity();
  setVerbosity('warn');
  setLogSink((line, level) => void (level === 'warn' && warnings.push(line)));
  let refused: Awaited<ReturnType<typeof run>>;
  try {
    refused = await run(true);
  } finally {
    device.createBindGroup = createBindGroup;
    setLogSink(undefined);
    setVerbosity(verbosity);
    setQuiet(true);
  }
  const kernels = await run(false);
  assert.equal(refused.report.graphSteps, 0, JSON.stringify(refused.report));
  assert.ok(refused.report.replayedSteps >= 7, JSON.stringify(refused.report));
  assert.match(refused.report.graphReason ?? '', /Dawn refused the step's recorded commands \(.+\)|not enough memory/);
  assert.deepEqual(
    warnings.filter((w) => /recorded GPU commands are not used/.test(w)),
    [`The step's recorded GPU commands are not used: ${refused.report.graphReason}. Steps run through the kernels.`],
  );
  assert.deepEqual(refused.losses, kernels.losses);
  for (const [name, x] of refused.vars) assert.deepEqual(x, kernels.vars.get(name), `variable ${name}`);
});

test('on webgpu a training step that reads a value it computed (a metric in TRAIN mode) is replayed through the kernels and says why', async () => {
  const withMetric = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec => {
    const spec = modelFn(x, y, mode);
    // A read of the step's own values in a step that assigns variables: a check among such reads
    // must run before the assigns, so the graph leaves these steps to the kernels.
    metrics.accuracy(y!, (spec.predictions as Record<string, tf.Tensor>).classes);
    return spec;
  };
  const est = new Estimator(withMetric, tmpDir('wg-graph-metric-'), { config: { backend: 'webgpu', randomSeed: 3, logStepCountSteps: 0 } });
  await est.train(input(true), { steps: 10 });
  const report = lastReplayReport();
  assert.ok(report.replayedSteps >= 5, JSON.stringify(report));
  assert.equal(report.graphSteps, 0);
  assert.match(report.graphReason ?? '', /reads a value it computed/);
});
