// TensorBoard's Graphs tab: train() writes the model's graph (the first step's forward pass) into
// the model directory's event file, read back here with the independent decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { setQuiet } from '../src/host/log';
import { closeAllWriters } from '../src/estimator/summary/writer-cache';
import { articleModelFn, mnistInputFn } from '../bench/article-cnn';
import { EstimatorSpec, ModeKey, ModeKeys } from '../src/estimator/spec';
import * as layers from '../src/layers';
import * as losses from '../src/estimator/losses';
import * as train from '../src/estimator/train-api';
import * as data from '../src/data';
import { decodeEventFile, DecodedNode, eventFilesIn } from './summary-decoder';
import { tmpDir } from './helpers/tmp';

setQuiet(true);

function graphsIn(dir: string): Array<{ step: number; nodes: DecodedNode[] }> {
  closeAllWriters();
  return eventFilesIn(dir)
    .flatMap((f) => decodeEventFile(f))
    .filter((e) => e.graph)
    .map((e) => ({ step: e.step, nodes: e.graph! }));
}

// The cpu backend's convolution gradients are slow: a smaller batch there.
for (const [backend, batch] of [
  ['native', 8],
  ['cpu', 2],
] as const) {
  test(`${backend}: train() writes the article CNN's graph, scoped kernels fed by the features, labels and variables`, async () => {
    const dir = tmpDir('graph-');
    const est = new Estimator(articleModelFn, dir, {
      config: { randomSeed: 3, saveSummarySteps: 1, backend },
      params: { bnMomentum: 0.9 },
    });
    await est.train(mnistInputFn(ModeKeys.TRAIN, batch, 1), { steps: 2 });
    const graphs = graphsIn(dir);
    assert.equal(graphs.length, 1, 'one graph per train() call');
    assert.equal(graphs[0].step, 0, 'written at the first step');
    checkArticleGraph(graphs[0].nodes, batch);
    // A second train() call (a new session in TensorFlow's terms) writes the graph again, at its start.
    await est.train(mnistInputFn(ModeKeys.TRAIN, batch, 1), { steps: 1 });
    assert.deepEqual(
      graphsIn(dir).map((g) => g.step),
      [0, 2],
    );
    tf.disposeVariables();
  });
}

function checkArticleGraph(nodes: DecodedNode[], batch: number): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  assert.equal(byName.size, nodes.length, 'node names are unique');
  // Every input names a node that comes before it (TensorBoard's "name:k" for output k > 0).
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const i of n.input) assert.ok(seen.has(i.replace(/:\d+$/, '')), `${n.name}'s input ${i} is a node before it`);
    seen.add(n.name);
  }
  assert.equal(byName.get('features')?.op, 'Placeholder');
  assert.deepEqual(byName.get('features')?.outputShapes, [[batch, 28, 28]]);
  assert.equal(byName.get('labels')?.op, 'Placeholder');
  assert.equal(byName.get('labels')?.type, 3, 'labels are int32 (DataType 3)');
  for (const v of ['conv2d/kernel', 'conv2d_1/kernel', 'batch_normalization/gamma', 'dense/kernel', 'dense/bias']) {
    assert.equal(byName.get(v)?.op, 'VariableV2', `${v} is a variable node`);
    assert.equal(byName.get(v)?.type, 1, `${v} is float32`);
  }
  // Each layer's kernels sit in its scope and read its variables.
  const inScope = (scope: string): DecodedNode[] => nodes.filter((n) => n.name.startsWith(`${scope}/`) && n.op !== 'VariableV2');
  assert.ok(
    inScope('conv2d').some((n) => n.input.includes('conv2d/kernel')),
    'a conv2d/ kernel reads conv2d/kernel',
  );
  assert.ok(
    inScope('dense').some((n) => n.input.includes('dense/kernel')),
    'a dense/ kernel reads dense/kernel',
  );
  assert.ok(inScope('batch_normalization_1').length > 0, 'the second batch norm has kernels in its scope');
  const conv = inScope('conv2d').find((n) => n.input.includes('conv2d/kernel'))!;
  assert.deepEqual(conv.outputShapes, [[batch, 26, 26, 32]], 'output shapes are recorded');
  assert.ok(nodes.every((n) => n.attrs.includes('_output_shapes')));
  // The loss is reached from the labels.
  const fromLabels = new Set(['labels']);
  for (const n of nodes) if (n.input.some((i) => fromLabels.has(i.replace(/:\d+$/, '')))) fromLabels.add(n.name);
  assert.ok(fromLabels.size > 2, 'kernels consume the labels');
  const fromDense = new Set(nodes.filter((n) => n.name.startsWith('dense/') && n.input.includes('dense/kernel')).map((n) => n.name));
  for (const n of nodes) if (n.input.some((i) => fromDense.has(i.replace(/:\d+$/, '')))) fromDense.add(n.name);
  assert.ok(
    nodes.some((n) => fromDense.has(n.name) && n.input.some((i) => fromLabels.has(i))),
    'the loss joins the logits and the labels',
  );
}

// A small model: what is checked here does not depend on its size.
function denseModelFn(x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey): EstimatorSpec {
  const logits = layers.dense(x, 2);
  const loss = losses.sparseSoftmaxCrossEntropy(y!, logits);
  return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
}
const denseX = tf.randomNormal([16, 4], 0, 1, 'float32', 1);
const denseY = tf.tensor1d([0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0], 'int32');
const denseInput = () => data.fromTensorSlices(denseX, denseY).batch(4).repeat();

test('no graph where summaries are off (saveSummarySteps: 0), and no tensors left behind by recording one', async () => {
  const dir = tmpDir('graph-off-');
  const off = new Estimator(denseModelFn, dir, { config: { randomSeed: 3, saveSummarySteps: 0 } });
  await off.train(denseInput, { steps: 1 });
  assert.deepEqual(graphsIn(dir), []);
  const on = new Estimator(denseModelFn, tmpDir('graph-mem-'), { config: { randomSeed: 3 } });
  await on.train(denseInput, { steps: 1 });
  const before = tf.memory().numTensors;
  await on.train(denseInput, { steps: 1 });
  assert.equal(tf.memory().numTensors, before, 'a train() call that records its graph leaves no tensors');
  assert.deepEqual(
    graphsIn(on.modelDir).map((g) => g.nodes.find((n) => n.op === 'Placeholder')?.name),
    ['features', 'features'],
  );
});
