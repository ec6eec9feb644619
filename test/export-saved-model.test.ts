import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { Estimator, Prediction } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { setQuiet } from '../src/host/log';
import { getVariable } from '../src/framework/variables';
import { exportSavedModel, listExports, UnsupportedKernelError, WEIGHTS_FILE } from '../src/estimator/export';
import { datasets } from '../src/data';
import { ArticleParams, articleModelFn, mnistInputFn } from '../bench/article-cnn';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

const ROOT = path.resolve(__dirname, '..', '..');

// The README's loader, run in a fresh node process that can only reach @tensorflow/tfjs: it
// proves the export needs nothing from this library. Feeds and results travel as JSON files.
const PLAIN_TFJS_LOADER = `
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const dir = process.env.EXPORT_DIR;
const json = JSON.parse(fs.readFileSync(dir + '/model.json', 'utf8'));
const bin = fs.readFileSync(dir + '/' + json.weightsManifest[0].paths[0]);
const model = tf.loadGraphModelSync([json, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length)]);
const feeds = JSON.parse(fs.readFileSync(process.env.FEEDS, 'utf8'));
const inputs = {};
for (const [k, f] of Object.entries(feeds)) inputs[k] = tf.tensor(f.values, f.shape, f.dtype);
let out = model.predict(inputs);
if (out instanceof tf.Tensor) out = { '': out };
const result = {};
for (const [k, t] of Object.entries(out)) result[k] = { shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) };
const ours = Object.keys(require.cache).filter((p) => p.startsWith(process.env.ROOT + '/dist/') || p.startsWith(process.env.ROOT + '/src/'));
fs.writeFileSync(process.env.OUT, JSON.stringify({ backend: tf.getBackend(), result, ours }));
`;

interface Feed {
  shape: number[];
  dtype: 'float32' | 'int32';
  values: number[];
}
type PlainResult = Record<string, { shape: number[]; dtype: string; values: number[] }>;

function runInPlainTfjs(exportDir: string, feeds: Record<string, Feed>): PlainResult {
  const work = tmpDir('plain-tfjs-');
  const feedFile = path.join(work, 'feeds.json');
  const outFile = path.join(work, 'out.json');
  fs.writeFileSync(feedFile, JSON.stringify(feeds));
  const r = spawnSync(process.execPath, ['-e', PLAIN_TFJS_LOADER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', EXPORT_DIR: exportDir, FEEDS: feedFile, OUT: outFile, ROOT },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `the plain tfjs process failed:\n${r.stderr}`);
  const out = JSON.parse(fs.readFileSync(outFile, 'utf8')) as { backend: string; result: PlainResult; ours: string[] };
  assert.deepEqual(out.ours, [], 'the loading process used nothing from tfjs-estimator');
  return out.result;
}

async function collect(gen: AsyncGenerator<Prediction>, n: number): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for await (const p of gen) {
    out.push(p);
    if (out.length === n) break;
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i]));
    assert.ok(ok, `${what}[${i}]: exported ${actual[i]} vs est.predict ${expected[i]}`);
  }
}

/** est.predict's per-example dicts, flattened per key into one array (row-major, like the export's output). */
function flattenPredictions(preds: Prediction[], key: string): number[] {
  const flat = (v: unknown): number[] =>
    typeof v === 'number' ? [v] : ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : (v as unknown[]).flatMap(flat);
  return preds.flatMap((p) => flat((p as Record<string, unknown>)[key]));
}

describe("the article's CNN exported for serving", () => {
  let est: Estimator<tf.Tensor, tf.Tensor, ArticleParams>;
  let images: Float32Array;
  const N = 20; // neither probe batch size (2, 3) nor the example's (1)

  before(async () => {
    est = new Estimator<tf.Tensor, tf.Tensor, ArticleParams>(articleModelFn, tmpDir('export-cnn-'), {
      config: { randomSeed: 7 },
      params: { bnMomentum: 0.5, learningRate: 1e-2 },
    });
    await est.train(mnistInputFn(ModeKeys.TRAIN, 8, 1), { steps: 3 });
    const it = await datasets.mnist.testBatches(N).iterator();
    const first = (await it.next()).value as { image: tf.Tensor; label: tf.Tensor };
    images = first.image.dataSync().slice() as Float32Array;
    tf.dispose([first.image, first.label]);
  });

  test('plain tfjs in another process loads the export and reproduces est.predict for any batch size', async () => {
    const base = path.join(est.modelDir, 'export', 'manual');
    const tensorsBefore = tf.memory().numTensors;
    const dir = await exportSavedModel(est, base, () => ({ features: tf.zeros([1, 28, 28]) }));
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the export frees every tensor it made');
    assert.match(path.basename(dir), /^\d{10}$/, 'a unix-timestamp directory');
    assert.deepEqual(fs.readdirSync(base), [path.basename(dir)], 'no temporary directory is left behind');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['group1-shard1of1.bin', 'model.json']);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'graph-model');
    assert.deepEqual(
      json.signature.inputs.input.tensorShape.dim.map((d: { size: string }) => d.size),
      ['-1', '28', '28'],
    );
    assert.deepEqual(Object.keys(json.signature.outputs), ['classes', 'probabilities']);
    const ops = new Set<string>(json.modelTopology.node.map((n: { op: string }) => n.op));
    for (const op of ['_FusedConv2D', 'FusedBatchNormV3', 'Relu', 'MaxPool', 'Mean', '_FusedMatMul', 'Softmax', 'ArgMax'])
      assert.ok(ops.has(op), `graph has ${op}`);
    assert.equal(json.userDefinedMetadata.tfjsEstimator.globalStep, 3);

    const got = runInPlainTfjs(dir, { input: { shape: [N, 28, 28], dtype: 'float32', values: Array.from(images) } });
    const preds = await collect(est.predict(mnistInputFn(ModeKeys.PREDICT, N)), N);
    assert.deepEqual(got.classes.shape, [N]);
    assert.deepEqual(got.probabilities.shape, [N, 10]);
    assert.deepEqual(got.classes.values, flattenPredictions(preds, 'classes'));
    assertClose(got.probabilities.values, flattenPredictions(preds, 'probabilities'), 'probabilities');
  });

  test('receiverTensors: the computation from raw pixels to features is exported too', async () => {
    const dir = await exportSavedModel(est, path.join(est.modelDir, 'export', 'pixels'), () => {
      const pixels = tf.zeros([1, 28, 28], 'int32');
      return { features: tf.div(tf.cast(pixels, 'float32'), 255), receiverTensors: { pixels } };
    });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.deepEqual(Object.keys(json.signature.inputs), ['pixels']);
    assert.equal(json.signature.inputs.pixels.dtype, 'DT_INT32');
    const bytes = Array.from(datasets.mnist.raw('test').images.data.subarray(0, N * 784));
    const got = runInPlainTfjs(dir, { pixels: { shape: [N, 28, 28], dtype: 'int32', values: bytes } });
    const preds = await collect(est.predict(mnistInputFn(ModeKeys.PREDICT, N)), N);
    assert.deepEqual(got.classes.values, flattenPredictions(preds, 'classes'));
    assertClose(got.probabilities.values, flattenPredictions(preds, 'probabilities'), 'probabilities');
  });

  test('a chosen checkpoint is exported, and two exports in one second get distinct increasing directories', async () => {
    const first = est.latestCheckpoint() as string;
    await est.train(mnistInputFn(ModeKeys.TRAIN, 8, 2), { steps: 1 });
    const base = path.join(est.modelDir, 'export', 'twice');
    const a = await exportSavedModel(est, base, () => tf.zeros([1, 28, 28]), { checkpointPath: first, asText: true });
    const b = await exportSavedModel(est, base, () => tf.zeros([1, 28, 28]));
    assert.ok(Number(path.basename(b)) > Number(path.basename(a)), `${a} then ${b}`);
    assert.deepEqual(listExports(base), [a, b]);
    const meta = (d: string) =>
      JSON.parse(fs.readFileSync(path.join(d, 'model.json'), 'utf8')).userDefinedMetadata.tfjsEstimator.globalStep;
    assert.equal(meta(a), 3);
    assert.equal(meta(b), 4);
    assert.ok(fs.readFileSync(path.join(a, 'model.json'), 'utf8').includes('\n'), 'asText writes indented JSON');
  });
});

const denseModel = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  // layers.flatten reshapes to [batch, -1] with the batch size of the call: the export must
  // turn it back into -1.
  const flat = layers.flatten(tf.reshape(x, [-1, 1, 3]));
  const hidden = layers.dense(flat, 4, { activation: 'relu', name: 'hidden' });
  const value = layers.dense(hidden, 1, { activation: 'tanh', name: 'head' });
  if (mode === ModeKeys.PREDICT) {
    return new EstimatorSpec({ mode, predictions: { value, doubled: tf.mul(value, 2), positive: tf.cast(tf.greater(value, 0), 'int32') } });
  }
  const loss = tf.mean(tf.square(tf.sub(value, y!))) as tf.Scalar;
  return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
};

test('a dense model with dict predictions exports one signature output per key', async () => {
  const est = new Estimator(denseModel, tmpDir('export-dense-'), { config: { randomSeed: 3 } });
  await est.train(() => linearDataset(64).repeat(), { steps: 10 });
  const dir = await exportSavedModel(est, path.join(est.modelDir, 'export'), () => ({ features: tf.zeros([1, 3]) }));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  assert.deepEqual(Object.keys(json.signature.outputs), ['value', 'doubled', 'positive']);
  assert.equal(json.signature.outputs.positive.dtype, 'DT_INT32');
  const xs = (await linearDataset(7, 7).toArray())[0] as unknown as { xs: tf.Tensor };
  const got = runInPlainTfjs(dir, { input: { shape: [7, 3], dtype: 'float32', values: Array.from(xs.xs.dataSync()) } });
  const preds = await collect(
    est.predict(() => linearDataset(7, 7)),
    7,
  );
  for (const key of ['value', 'doubled', 'positive']) {
    assert.deepEqual(got[key].shape, [7, 1], key);
    assertClose(got[key].values, flattenPredictions(preds, key), key);
  }
  assert.ok(got.positive.values.some((v) => v === 1) || got.positive.values.every((v) => v === 0));
});

test('a single predictions tensor is the output "output" and predict returns a tensor', async () => {
  const est = new Estimator((x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    const pred = layers.dense(x, 2, { name: 'out' });
    if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: pred });
    const loss = tf.mean(tf.square(tf.sub(tf.mean(pred, -1, true), y!))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  }, tmpDir('export-single-'));
  await est.train(() => linearDataset(16), { steps: 2 });
  const dir = await exportSavedModel(est, path.join(est.modelDir, 'export'), () => tf.zeros([4, 3]));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  assert.deepEqual(Object.keys(json.signature.outputs), ['output']);
  assert.equal(json.userDefinedMetadata.structuredOutputKeys, undefined);
  const bin = fs.readFileSync(path.join(dir, json.weightsManifest[0].paths[0]));
  const model = tf.loadGraphModelSync([json, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) as ArrayBuffer]);
  const x = tf.tensor2d([
    [1, 2, 3],
    [0, 0, 0],
    [-1, 0.5, 2],
    [3, 3, 3],
    [0.1, 0.2, 0.3],
  ]);
  const out = model.predict(x) as tf.Tensor;
  assert.ok(out instanceof tf.Tensor);
  const preds = await collect(
    est.predict(() => [{ xs: x }]),
    5,
  );
  assertClose(
    out.dataSync(),
    preds.flatMap((p) => Array.from(p as Float32Array)),
    'output',
  );
  tf.dispose([x, out]);
  model.dispose();
});

// Many kernel families at once; the export's own check runs the written graph with
// tfjs-converter at both traced batch sizes, and this test again at a third one.
const kitchenSink = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  const P = mode === ModeKeys.PREDICT;
  const x4 = x as tf.Tensor4D; // [batch, 6, 6, 2]
  const a = layers.conv2d(x4, 3, 3, { padding: 'same', activation: 'relu' });
  const b = layers.conv2d(x4, 3, 3, { useBias: false, activation: 'relu' });
  const c = layers.conv2d(x4, 2, 1, { activation: 'sigmoid', strides: 2 });
  const d = tf.depthwiseConv2d(x4, getVariable('depthwise', [3, 3, 2, 2]) as tf.Tensor4D, 1, 'same');
  // center: false leaves the offset out (the export adds zeros). (scale: false is not used: tfjs's
  // batch-norm gradient needs a scale when the tape records it.)
  const bn = layers.batchNormalization(a, { training: !P, center: false, name: 'bn_a' });
  const h = layers.dense(layers.flatten(a), 5, { activation: 'sigmoid' });
  const h2 = layers.dense(h, 4, { activation: 'elu', useBias: false });
  const bnH = layers.batchNormalization(h, { training: !P, name: 'bn_h' });
  const denseRelu = layers.dense(h2, 3, { activation: 'relu', name: 'dense_relu' });
  if (!P) {
    const loss = tf.addN([h, d, c, bn, b, h2, bnH, denseRelu].map((t) => tf.mean(t))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  }
  const stacked = tf.stack([h2, tf.relu6(h2), tf.leakyRelu(h2, 0.1), tf.prelu(h2, tf.fill([4], 0.3))], 1);
  const [u0, u1] = tf.unstack(stacked, 1);
  const [s1, s2] = tf.split(u0, [1, 3], 1);
  const top = tf.topk(u0, 2);
  const flags = tf.cast(tf.greaterEqual(u0, 0.5), 'int32');
  const predictions: Record<string, tf.Tensor> = {
    pools: tf.concat([tf.avgPool(bn as tf.Tensor4D, 2, 2, 'valid'), tf.maxPool(b, 2, 1, 'valid').slice([0, 0, 0, 1], [-1, 3, 3, 2])], 3),
    depthwise: tf.mean(d, [1, 2]),
    strided: c.reshape([-1, 18]),
    stacked,
    reductions: tf.stack([tf.sum(u0, 1), tf.max(u1, 1), tf.min(u0, -1), tf.prod(u1, 1), tf.logSumExp(u0, 1)], 1),
    argminmax: tf.stack([tf.argMin(u0, 1), tf.argMax(u1, 1)], 1),
    cumsum: tf.cumsum(u0, 1),
    topValues: top.values,
    topIndices: top.indices,
    split: tf.concat([tf.reverse(s2, 1), s1], 1),
    pad: tf.pad(
      s1,
      [
        [0, 0],
        [1, 2],
      ],
      0.5,
    ),
    tile: tf.tile(s1, [1, 3]),
    gather: tf.gather(u0, [3, 0], 1),
    oneHot: tf.oneHot(tf.argMax(u0, 1) as tf.Tensor1D, 4),
    select: tf.where(tf.logicalAnd(tf.greater(u0, 0), tf.less(u0, 1)), u0, tf.neg(u0)),
    math: tf.addN([
      tf.exp(u0),
      tf.log(tf.abs(u0).add(1)),
      tf.sqrt(tf.square(u0)),
      tf.clipByValue(u0, -0.2, 0.2),
      tf.div(u0, 3),
      tf.pow(tf.abs(u0), 2),
      tf.squaredDifference(u0, 1),
      tf.maximum(u0, 0),
      tf.minimum(u0, 0),
      tf.tanh(u0),
      tf.rsqrt(tf.abs(u0).add(1)),
      tf.floor(u0),
      tf.sub(u0, 1),
    ]),
    flags,
    transposed: tf.transpose(stacked, [0, 2, 1]),
    logSoftmax: tf.logSoftmax(u0),
    expandSqueeze: tf.squeeze(tf.expandDims(u0, 1), [1]),
    resized: tf.image.resizeBilinear(x4, [3, 3]),
    matMul: tf.matMul(u0, tf.linspace(0, 1, 12).reshape([3, 4]), false, true),
    softmax: tf.softmax(u0),
    mod: tf.mod(tf.cast(flags, 'float32').add(u0), 0.7),
    notEqual: tf.cast(tf.notEqual(flags, 0), 'float32'),
    bnDense: bnH,
    stridedSlice: tf.stridedSlice(u0, [0, 1], [0, 4], [1, 2], 1, 1),
    likes: tf.add(tf.onesLike(u0), tf.zerosLike(u0)),
    halves: tf.concat(tf.split(u0, 2, 1).reverse(), 1),
    einsum: tf.einsum('bi,ij->bj', u0, tf.linspace(-1, 1, 8).reshape([4, 2])),
    gatherNd: tf.transpose(
      tf.gatherND(tf.transpose(stacked, [1, 2, 0]), [
        [0, 1],
        [2, 3],
      ]),
    ),
    lrnNearest: tf.localResponseNormalization(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [4, 4]), 1),
    mirrorDepth: tf.depthToSpace(
      tf
        .mirrorPad(
          x4,
          [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
          'reflect',
        )
        .slice([0, 0, 0, 0], [-1, 6, 6, 2])
        .concat(x4, 3),
      2,
    ),
    unary: tf.addN([
      tf.sign(u0),
      tf.round(u0),
      tf.erf(u0),
      tf.softplus(u0),
      tf.selu(u0),
      tf.atan2(u0, u1),
      tf.cast(tf.floorDiv(u0, 0.3), 'float32'),
      tf.cumprod(u0, 1, true, true),
    ]),
    logical: tf.cast(tf.logicalOr(tf.logicalNot(tf.isNaN(u0)), tf.any(tf.greater(u0, 10), 1, true)), 'int32'),
    fusedRelu: denseRelu,
    explicitPad: tf.conv2d(x4, tf.ones([2, 2, 2, 1]) as tf.Tensor4D, 1, 1),
  };
  return new EstimatorSpec({ mode, predictions });
};

test('conv, pooling, batch norm, dense, reductions, slicing and element-wise kernels all export and serve any batch size', async () => {
  const est = new Estimator(kitchenSink, tmpDir('export-kernels-'), { config: { randomSeed: 1 } });
  await est.train(() => [{ xs: tf.randomNormal([4, 6, 6, 2], 0, 1, 'float32', 1), ys: tf.zeros([4]) }], { steps: 2 });
  const dir = await exportSavedModel(est, path.join(est.modelDir, 'export'), () => tf.zeros([1, 6, 6, 2]));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(dir, WEIGHTS_FILE));
  const model = tf.loadGraphModelSync([json, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) as ArrayBuffer]);
  const x = tf.randomNormal([5, 6, 6, 2], 0, 1, 'float32', 9);
  const got = model.predict({ input: x }) as Record<string, tf.Tensor>;
  const preds = await collect(
    est.predict(() => [{ xs: x }]),
    5,
  );
  assert.equal(Object.keys(got).length, 37);
  for (const [key, t] of Object.entries(got)) {
    assert.equal(t.shape[0], 5, key);
    assertClose(t.dataSync(), flattenPredictions(preds, key), key, 1e-4);
  }
  tf.dispose([x, ...Object.values(got)]);
  model.dispose();
});

describe('export errors', () => {
  const trained = async (modelFn: (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => EstimatorSpec) => {
    const est = new Estimator(modelFn, tmpDir('export-err-'));
    await est.train(() => linearDataset(16), { steps: 1 });
    return est;
  };
  const withPredict = (predict: (x: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    const h = layers.dense(x, 2);
    if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: predict(h) });
    const loss = tf.mean(tf.square(tf.sub(tf.mean(h, -1, true), y!))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };

  test('a kernel the export cannot translate is named in the error, and nothing is written', async () => {
    const est = await trained(withPredict((h) => tf.step(h)));
    const base = path.join(est.modelDir, 'export');
    const tensorsBefore = tf.memory().numTensors;
    await assert.rejects(
      exportSavedModel(est, base, () => tf.zeros([1, 3])),
      (e: Error) => {
        assert.ok(e instanceof UnsupportedKernelError, e.message);
        assert.match(e.message, /kernel 'Step'/);
        assert.match(e.message, /Exportable kernels: .*FusedConv2D/);
        return true;
      },
    );
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.deepEqual(listExports(base), []);
  });

  test('a tensor built from the batch size is reported with the fix', async () => {
    const est = await trained(withPredict((h) => tf.concat([h, tf.zeros([h.shape[0] as number, 1])], 1)));
    await assert.rejects(
      exportSavedModel(est, path.join(est.modelDir, 'export'), () => tf.zeros([1, 3])),
      /shape follows the batch size.*use -1 for the batch axis/s,
    );
  });

  test('values read back into JavaScript cannot be exported, and the error says so', async () => {
    const est = await trained(withPredict((h) => tf.add(h, tf.scalar(h.sum().dataSync()[0]))));
    await assert.rejects(
      exportSavedModel(est, path.join(est.modelDir, 'export'), () => tf.zeros([1, 3])),
      /reads tensor values back into JavaScript/,
    );
  });

  test('a variable that PREDICT creates but the checkpoint lacks is an error, not a random weight', async () => {
    const est = await trained(withPredict((h) => layers.dense(h, 1, { name: 'only_in_predict' })));
    await assert.rejects(
      exportSavedModel(est, path.join(est.modelDir, 'export'), () => tf.zeros([1, 3])),
      /created variable 'only_in_predict\/kernel' in PREDICT mode, but checkpoint .* has no such variable/,
    );
  });

  test('exporting before training, or with a bad servingInputFn, is a clear error', async () => {
    const est = new Estimator(
      withPredict((h) => h),
      tmpDir('export-untrained-'),
    );
    await assert.rejects(
      exportSavedModel(est, path.join(est.modelDir, 'export'), () => tf.zeros([1, 3])),
      /couldn't find a trained model .*train the estimator first/,
    );
    const done = await trained(withPredict((h) => h));
    await assert.rejects(
      exportSavedModel(done, path.join(done.modelDir, 'export'), (() => tf.scalar(1)) as never),
      /receiver 'input' is a scalar/,
    );
    await assert.rejects(
      exportSavedModel(done, path.join(done.modelDir, 'export'), (() => 'x') as never),
      /servingInputFn must return \{features, receiverTensors\?\}/,
    );
  });
});
