#!/usr/bin/python3
"""Writes the tutorial notebooks from the cell sources below (run: python3 notebooks/make_notebooks.py;
NOTEBOOKS_OUT=<dir> writes them there instead, as the test that they are in sync does)."""
import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell
import os

import hashlib
import json

HERE = os.path.dirname(os.path.abspath(__file__))

def ts_version():
    # The kernel reports the version of the TypeScript build it compiles with (src/kernel/protocol/server.ts, through src/kernel/compiler/tslab-adapter.ts).
    try:
        with open(os.path.join(HERE, "..", "node_modules", "@tslab", "typescript-for-tslab", "package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return "5"

# language_info exactly as the kernel's kernel_info_reply gives it: Jupyter writes that into the
# notebook on start, so anything else shows "unsaved changes" as soon as a notebook opens.
KERNEL = {"kernelspec": {"name": "tfjs-estimator", "display_name": "TypeScript (tfjs-estimator)", "language": "typescript"},
          "language_info": {"name": "typescript", "version": ts_version(), "mimetype": "text/typescript", "file_extension": ".ts",
                            "codemirror_mode": {"name": "javascript", "typescript": True}, "pygments_lexer": "typescript"}}

def nb(path, cells):
    def cell(i, c):
        made = new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(c.strip("\n"))
        # Stable ids: regenerating a notebook changes only the cells whose text changed.
        made.id = hashlib.sha1(f"{path}\0{i}\0{c}".encode()).hexdigest()[:8]
        return made
    n = new_notebook(cells=[cell(i, c) for i, c in enumerate(cells)], metadata=KERNEL)
    nbformat.write(n, os.path.join(os.environ.get("NOTEBOOKS_OUT", HERE), path))

nb("01-estimator-basics.ipynb", [
"""md:# Anatomy of an Estimator, in TypeScript

This notebook ports the MNIST example of *Anatomy of an Estimator* to `tfjs-estimator`: an
input function, a model function that returns an `EstimatorSpec`, and an `Estimator` that
trains, evaluates and predicts against a model directory. Training picks up from the latest
checkpoint in that directory, in later cells and even after a kernel restart.

Everything used here is preloaded: `tf`, `Estimator`, `EstimatorSpec`, `ModeKeys`, `layers`,
`losses`, `train`, `metrics`, `datasets`, `display`.""",
"""// The article trains for 10,000 steps. TUTORIAL_STEPS shortens it (CI runs a few hundred).
const TRAIN_STEPS = Number(process.env.TUTORIAL_STEPS ?? 10000);
// Batch norm evaluates with moving averages of the batch statistics. The article's momentum,
// 0.99, averages over the last few hundred steps, which lag far behind a network that is still
// changing fast: after 500 steps evaluation would be near chance. A short run averages faster.
const BN_MOMENTUM = TRAIN_STEPS >= 2000 ? 0.99 : 0.9;
const modelDir = process.env.TUTORIAL_MODEL_DIR ?? 'model_dirs/01-mnist';
console.log(`training to step ${TRAIN_STEPS} in ${modelDir}`);""",
"""md:## The input function

`getInputs(mode)` returns a `tf.data` pipeline over MNIST: shuffled and repeated for training,
one pass over the test set otherwise, in batches of 64. Each element is `{xs: images, ys: labels}`.""",
"""function getInputs(mode: ModeKey) {
  const examples = mode === ModeKeys.TRAIN ? datasets.mnist.train().shuffle(10000).repeat() : datasets.mnist.test();
  return examples.batch(64).map((b: { image: tf.Tensor; label: tf.Tensor }) => ({ xs: b.image, ys: b.label }));
}

const [sample] = await datasets.mnist.trainBatches(16).take(1).toArray();
display.images(sample.image, { titles: Array.from(sample.label.dataSync()).map(String), cols: 8 });""",
"""md:## The model function

`getLogits` is the article's CNN: two blocks of convolution, batch normalization, ReLU and max
pooling, a global mean, and a dense layer with 10 outputs. Layers create their variables on the
first call and reuse them on every later call. `modelFn` returns an `EstimatorSpec` for each mode:
predictions in PREDICT, the loss and metrics in EVAL, and the train op in TRAIN.""",
"""function getLogits(images: tf.Tensor, training: boolean): tf.Tensor {
  let x: tf.Tensor = tf.expandDims(images, -1);
  for (const filters of [32, 64]) {
    x = layers.conv2d(x, filters, 3);
    x = layers.batchNormalization(x, { training, momentum: BN_MOMENTUM });
    x = tf.relu(x);
    x = layers.maxPooling2d(x, 3, 2);
  }
  x = tf.mean(x, [1, 2]);
  return layers.dense(x, 10);
}

function modelFn(features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey, params: { learningRate: number }) {
  const logits = getLogits(features, mode === ModeKeys.TRAIN);
  const predictions = { classes: tf.argMax(logits, -1), probabilities: tf.softmax(logits) };
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions });
  const loss = losses.sparseSoftmaxCrossEntropy(labels!, logits);
  const evalMetricOps = { accuracy: metrics.accuracy(labels!, predictions.classes) };
  if (mode === ModeKeys.EVAL) return new EstimatorSpec({ mode, loss, evalMetricOps });
  const trainOp = train.adam(params.learningRate).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
  return new EstimatorSpec({ mode, loss, trainOp });
}""",
"""const estimator = new Estimator(modelFn, modelDir, { params: { learningRate: 1e-3 } });""",
"""md:## Training, in several cells

`maxSteps` is absolute: this cell trains to half the steps. Run it twice and the second run does
nothing; a progress bar shows the step, loss and speed while it runs.""",
"""await estimator.train(() => getInputs(ModeKeys.TRAIN), { maxSteps: Math.floor(TRAIN_STEPS / 2) });""",
"""md:The next call restores the latest checkpoint (weights, Adam's moments, the global step) and continues.""",
"""await estimator.train(() => getInputs(ModeKeys.TRAIN), { maxSteps: TRAIN_STEPS });
estimator.latestCheckpoint()""",
"""md:## Evaluation

`evaluate` runs the EVAL mode over the whole test set and returns the streaming metrics, the
mean loss and the global step it evaluated.""",
"""const evalMetrics = await estimator.evaluate(() => getInputs(ModeKeys.EVAL));
evalMetrics""",
"""md:## Training curves

While training, the Estimator wrote the loss (and the steps per second) every 100 steps into an
event file in the model directory; `evaluate` wrote its metrics into `modelDir/eval`.
`display.scalars` draws them, training and evaluation together. TensorBoard reads the same
files: `tensorboard --logdir model_dirs/01-mnist`.""",
"""await display.scalars(modelDir, { tags: ['loss', 'accuracy'] });""",
"""md:## Predictions

`predict` is an async generator of plain values, one example at a time. `display.predictions`
turns the article's prediction loop into a gallery: each test image with its predicted class,
the class probabilities, and the true label (mistakes outlined in red).""",
"""const [testBatch] = await datasets.mnist.testBatches(24).take(1).toArray();
await display.predictions(estimator.predict(() => [testBatch.image]), { images: testBatch.image, labels: testBatch.label, limit: 24 });""",
"""md:## Loading the checkpoint outside the Estimator

The article restores the latest checkpoint into a fresh graph and feeds a placeholder. In eager
TypeScript, `restoreAndRun` runs `getLogits` against the checkpoint's variables directly: here on
a custom batch, the first test images shifted by two pixels.""",
"""const shifted = tf.pad(testBatch.image.slice([0, 0, 0], [8, 28, 26]), [[0, 0], [0, 0], [2, 0]]);
const logits = await restoreAndRun(modelDir, () => getLogits(shifted, false));
display.images(shifted, { titles: Array.from(tf.argMax(logits, -1).dataSync()).map((c) => `predicted ${c}`), cols: 8 });""",
])

nb("02-intermediate.ipynb", [
"""md:# Going further: augmentation, batch norm, summaries, hooks and RunConfig

The second half of *Anatomy of an Estimator*, and a little more: an input pipeline that augments
the images with `map` and overlaps with training through `prefetch`; a model with batch
normalization driven by the `training` flag; summaries recorded inside `modelFn` and shown from
the event files (the same files TensorBoard reads); hooks for logging and early stopping; and a
`RunConfig` that says how often to save checkpoints and summaries.""",
"""// TUTORIAL_STEPS shortens the run (CI uses a few hundred steps).
const TRAIN_STEPS = Number(process.env.TUTORIAL_STEPS ?? 4000);
const modelDir = process.env.TUTORIAL_MODEL_DIR ?? 'model_dirs/02-intermediate';
console.log(`training to step ${TRAIN_STEPS} in ${modelDir}`);""",
"""md:## Augmentation with `map`, and `prefetch`

`addNoise` runs on every training batch: Gaussian noise, clipped back to [0, 1]. `tf.tidy` frees
the intermediate tensors. tf.data in TensorFlow.js runs `map` on the main thread (there is no
`num_parallel_calls`), so `prefetch(2)` keeps two batches ready ahead of the training step.""",
"""function addNoise(batch: { image: tf.Tensor; label: tf.Tensor }) {
  return tf.tidy(() => ({
    xs: tf.clipByValue(tf.add(batch.image, tf.randomNormal(batch.image.shape, 0, 0.15)), 0, 1),
    ys: batch.label,
  }));
}

function getInputs(mode: ModeKey) {
  if (mode === ModeKeys.TRAIN) {
    return datasets.mnist.train().shuffle(10000).repeat().batch(64).map(addNoise).prefetch(2);
  }
  return datasets.mnist.test().batch(500).map((b: { image: tf.Tensor; label: tf.Tensor }) => ({ xs: b.image, ys: b.label }));
}

const [noisy] = await getInputs(ModeKeys.TRAIN).take(1).toArray();
display.images(noisy.xs.slice([0, 0, 0], [16, 28, 28]), { titles: Array.from(noisy.ys.dataSync().slice(0, 16)).map(String), cols: 8 });""",
"""md:## A model that records summaries

Batch normalization uses the statistics of the batch when `training` is true and its moving
averages otherwise; the Estimator updates those averages once per training step. The momentum
is 0.9 here (the article's 0.99 needs about a thousand steps before the averages forget their
initial values). `summary.image`, `summary.histogram` and `summary.scalar` can be called anywhere
in `modelFn` or `inputFn`: every `saveSummarySteps` steps the Estimator writes them, with the
loss and the steps per second, into the model directory's event file; `evaluate` writes its
metrics into `modelDir/eval`.""",
"""function modelFn(features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey, params: { learningRate: number }) {
  const training = mode === ModeKeys.TRAIN;
  let x: tf.Tensor = tf.expandDims(features, -1);
  summary.image('inputs', x, { maxOutputs: 4 });
  for (const filters of [32, 64]) {
    x = layers.conv2d(x, filters, 3, { padding: 'same', useBias: false });
    x = layers.batchNormalization(x, { training, momentum: 0.9 });
    x = tf.relu(x);
    summary.histogram(`activations_${filters}`, x);
    x = layers.maxPooling2d(x, 2, 2);
  }
  const logits = layers.dense(tf.mean(x, [1, 2]), 10);
  const predictions = { classes: tf.argMax(logits, -1), probabilities: tf.softmax(logits) };
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions });

  const loss = losses.sparseSoftmaxCrossEntropy(labels!, logits);
  summary.scalar('batch_accuracy', tf.mean(tf.cast(tf.equal(tf.cast(labels!, 'int32'), predictions.classes), 'float32')));
  if (mode === ModeKeys.EVAL) {
    return new EstimatorSpec({ mode, loss, evalMetricOps: { accuracy: metrics.accuracy(labels!, predictions.classes) } });
  }
  const trainOp = train.adam(params.learningRate).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
  return new EstimatorSpec({ mode, loss, trainOp });
}""",
"""md:## RunConfig

How often to write summaries and checkpoints, how many checkpoints to keep, how often to log, and
the random seed (two runs with the same seed train identically).""",
"""const config = new RunConfig({
  saveSummarySteps: 50,
  saveCheckpointsSteps: Math.max(100, Math.floor(TRAIN_STEPS / 4)),
  keepCheckpointMax: 3,
  logStepCountSteps: 500,
  randomSeed: 42,
});
const estimator = new Estimator(modelFn, modelDir, { config, params: { learningRate: 2e-3 } });""",
"""md:## Hooks: logging and early stopping

`LoggingTensorHook` logs tensors by name every N steps. `hooks.stopIfNoDecrease` reads the
evaluation results from `modelDir/eval` and stops training once the loss has not improved for
the given number of steps. `trainAndEvaluate` evaluates after every checkpoint save, so the
early-stopping hook always has fresh numbers.""",
"""const logLoss = new hooks.LoggingTensorHook({ tensors: { step: 'global_step', loss: 'loss' }, everyNIter: 500 });
const earlyStop = hooks.stopIfNoDecrease(estimator, 'loss', 2 * config.saveCheckpointsSteps, { runEveryNSteps: 100 });

const result = await trainAndEvaluate(
  estimator,
  { inputFn: () => getInputs(ModeKeys.TRAIN), maxSteps: TRAIN_STEPS, hooks: [logLoss, earlyStop] },
  { inputFn: () => getInputs(ModeKeys.EVAL), throttleSecs: 0 },
);
console.log(earlyStop.stoppedAt ? `stopped early at step ${earlyStop.stoppedAt}` : 'trained to the last step');
result.metrics""",
"""md:## The summaries, from the event files

`display.scalars` draws one chart per tag, training and evaluation overlaid;
`display.histograms` shows how a tensor's distribution moved over training. The same files
open in TensorBoard: `tensorboard --logdir model_dirs/02-intermediate`.""",
"""await display.scalars(modelDir);""",
"""await display.histograms(modelDir, 'activations_64');""",
"""md:## The images the model saw

Image summaries are PNGs in the event file; `summary.readImages` gives them back by tag and step.""",
"""const images = await summary.readImages(modelDir);
const [tag, points] = [...images.entries()][0];
const last = points[points.length - 1];
console.log(`${tag} at step ${last.step}: ${points.length} images recorded over training`);
display.html(points.slice(-4).map((p) => `<img src="data:image/png;base64,${Buffer.from(p.png).toString('base64')}" width="84" style="image-rendering: pixelated; margin: 2px">`).join(''));""",
"""md:## Your own data: arrays in memory

Not every dataset is a folder of files. TensorFlow's `Dataset.from_tensor_slices((x, y))` and
`numpy_input_fn(x, y, ...)` are `data.fromTensorSlices(x, y)` and `data.inputFn({x, y, ...})` here:
both slice the arrays along their first axis and yield `{features, labels}`, the element the
Estimator reads. (`tf.data.zip([xs, ys]).batch(32)` does not: `batch()` stacks an array element into
one tensor, features and labels together.) The cell below makes a small table of houses itself,
with the features as named columns, and fits their price with a linear model.""",
"""// 1,200 houses: size (in 100 m²), rooms, age (years); the price is linear in them, plus noise.
const houseCount = 1200;
const size = tf.randomUniform([houseCount], 0.5, 2.5, 'float32', 1);
const rooms = tf.round(tf.randomUniform([houseCount], 1, 6, 'float32', 2));
const age = tf.randomUniform([houseCount], 0, 50, 'float32', 3);
const price = tf.tidy(() => size.mul(3).add(rooms.mul(0.4)).sub(age.mul(0.02)).add(tf.randomNormal([houseCount], 0, 0.1, 'float32', 4)));
// The first 1,000 houses train the model, the last 200 test it.
const split = (t: tf.Tensor, test: boolean) => (test ? t.slice(1000) : t.slice(0, 1000));
const houses = (test: boolean) => ({ size: split(size, test), rooms: split(rooms, test), age: split(age, test) });

function houseModelFn(features: Record<string, tf.Tensor>, labels: tf.Tensor | undefined, mode: ModeKey) {
  const x = tf.stack([features.size, features.rooms, tf.div(features.age, 50)], 1);
  const predicted = tf.squeeze(layers.dense(x, 1), [1]);
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: { price: predicted } });
  const loss = losses.meanSquaredError(labels!, predicted);
  const evalMetricOps = { meanAbsoluteError: metrics.meanAbsoluteError(labels!, predicted) };
  const trainOp = train.adam(0.05).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
  return new EstimatorSpec({ mode, loss, evalMetricOps, trainOp });
}

const houseEstimator = new Estimator(houseModelFn, `${modelDir}-houses`);
await houseEstimator.train(data.inputFn({ x: houses(false), y: split(price, false), batchSize: 32, numEpochs: 30, shuffle: true, seed: 1 }));
const houseMetrics = await houseEstimator.evaluate(() => data.fromTensorSlices(houses(true), split(price, true)).batch(100));
console.log(`houses: mean absolute error ${houseMetrics.meanAbsoluteError.toFixed(3)} on the 200 test houses after ${houseMetrics.globalStep} steps`);
houseEstimator.getVariableValue('dense/kernel').reshape([3])""",
"""md:The learned weights come out close to the 3, 0.4 and −1 (−0.02 a year, times the 50 the age was
divided by) that made the prices. `data.inputFn` shuffles with a seed, repeats `numEpochs` times
(`null`: forever, then pass `steps` to `train`), and gives the last batch of a pass whatever rows remain.""",
])

nb("03-two-train-ops.ipynb", [
"""md:# Two losses, two optimizers: a small GAN

A generative adversarial network trains two models against each other: a generator that turns
random noise into digits, and a discriminator that tells real MNIST digits from generated ones.
That is two losses, each minimized by its own optimizer over its own variables, in one training
step: the article's `train.group` pattern. Each call of `train` continues from the checkpoint,
so we can look at the generated digits between calls and watch them improve.""",
"""// TUTORIAL_STEPS shortens the run (CI uses a few hundred steps).
const TOTAL_STEPS = Number(process.env.TUTORIAL_STEPS ?? 6000);
const modelDir = process.env.TUTORIAL_MODEL_DIR ?? 'model_dirs/03-gan';
const NOISE = 64;
console.log(`training to step ${TOTAL_STEPS} in ${modelDir}`);""",
"""md:## Generator and discriminator

Both are small fully connected networks. `variableScope` puts their variables under
`generator/` and `discriminator/`; the discriminator is applied twice per step (to real and to
generated images) and `reuse: 'auto'` makes the second call share the first call's variables.""",
"""const leaky = (t: tf.Tensor) => tf.leakyRelu(t, 0.2);

function generator(noise: tf.Tensor): tf.Tensor {
  return variableScope('generator', () => {
    const h = layers.dense(noise, 256, { activation: leaky });
    return tf.reshape(layers.dense(h, 784, { activation: 'sigmoid' }), [-1, 28, 28]);
  });
}

function discriminator(images: tf.Tensor): tf.Tensor {
  return variableScope('discriminator', () => {
    const h = layers.dense(tf.reshape(images, [-1, 784]), 256, { activation: leaky });
    return layers.dense(h, 1);
  }, { reuse: 'auto' });
}""",
"""md:## The model function: two train ops, grouped

The discriminator's loss rewards telling real from fake; the generator's loss rewards fooling
it. `getCollection(GraphKeys.TRAINABLE_VARIABLES, scope)` picks each network's variables, so each
optimizer updates only its own network, with the gradient of its own loss, from the same forward
pass. Only one of them increments the global step.""",
"""function ganModelFn(features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey) {
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: generator(features) });
  const fake = generator(tf.randomNormal([features.shape[0], NOISE]));
  const realLogits = discriminator(features);
  const fakeLogits = discriminator(fake);
  const dLoss = tf.add(
    losses.sigmoidCrossEntropy(tf.onesLike(realLogits), realLogits, { labelSmoothing: 0.1 }),
    losses.sigmoidCrossEntropy(tf.zerosLike(fakeLogits), fakeLogits),
  ) as tf.Scalar;
  const gLoss = losses.sigmoidCrossEntropy(tf.onesLike(fakeLogits), fakeLogits);
  summary.scalar('discriminator_loss', dLoss);
  summary.scalar('generator_loss', gLoss);

  const dOp = train.adam(2e-4, { beta1: 0.5 }).minimize(dLoss, {
    varList: getCollection<tf.Variable>(GraphKeys.TRAINABLE_VARIABLES, 'discriminator'),
    globalStep: train.getOrCreateGlobalStep(),
  });
  const gOp = train.adam(2e-4, { beta1: 0.5 }).minimize(gLoss, {
    varList: getCollection<tf.Variable>(GraphKeys.TRAINABLE_VARIABLES, 'generator'),
  });
  return new EstimatorSpec({ mode, loss: tf.add(dLoss, gLoss) as tf.Scalar, trainOp: train.group(dOp, gOp) });
}

const gan = new Estimator(ganModelFn, modelDir, { config: { saveSummarySteps: 25, logStepCountSteps: 1000, randomSeed: 1 } });
const realDigits = () => datasets.mnist.train().shuffle(10000).repeat().batch(64).map((b: { image: tf.Tensor; label: tf.Tensor }) => ({ xs: b.image, ys: b.label }));

// The same 16 noise vectors every time, so the pictures compare across calls.
const fixedNoise = tf.randomNormal([16, NOISE], 0, 1, 'float32', 7);
async function showSamples() {
  const step = Number(/(\\d+)$/.exec(gan.latestCheckpoint() ?? '0')?.[1] ?? 0);
  const digits = await restoreAndRun(modelDir, () => generator(fixedNoise));
  console.log(`generated at step ${step}:`);
  display.images(digits, { cols: 16 });
  digits.dispose();
}""",
"""md:## Train in three calls, and look in between

Each call trains a third of the way; the next one restores the checkpoint, Adam's slots
included, and continues.""",
"""await gan.train(realDigits, { maxSteps: Math.round(TOTAL_STEPS / 3) });
await showSamples();""",
"""await gan.train(realDigits, { maxSteps: Math.round((2 * TOTAL_STEPS) / 3) });
await showSamples();""",
"""await gan.train(realDigits, { maxSteps: TOTAL_STEPS });
await showSamples();""",
"""md:## Both losses over training

A GAN's losses do not fall together: each network's progress is the other's setback. The
curves come from the event files that `saveSummarySteps` wrote.""",
"""await display.scalars(modelDir, { tags: ['discriminator_loss', 'generator_loss'] });""",
"""md:## Every variable, with the optimizer slots of both networks""",
"""gan.getVariableNames()""",
])

nb("04-serving.ipynb", [
"""md:# Serving: export the model, answer predictions over HTTP

Training happens in the notebook; predictions are often needed elsewhere. `exportSavedModel`
writes the PREDICT pass as a TensorFlow.js graph model that plain `@tensorflow/tfjs` loads,
without this library. Here a small HTTP server (`serve-mnist.js`, next to this notebook, Node's
`http` module and nothing else) loads the export and answers POSTed images with class
probabilities.""",
"""// TUTORIAL_STEPS shortens the run (CI uses a few hundred steps).
const TRAIN_STEPS = Number(process.env.TUTORIAL_STEPS ?? 2000);
const modelDir = process.env.TUTORIAL_MODEL_DIR ?? 'model_dirs/04-serving';
console.log(`training to step ${TRAIN_STEPS} in ${modelDir}`);""",
"""md:## A model to serve

The article's CNN again (batch norm momentum 0.9, so a short run is already usable).""",
"""function getLogits(images: tf.Tensor, training: boolean): tf.Tensor {
  let x: tf.Tensor = tf.expandDims(images, -1);
  for (const filters of [32, 64]) {
    x = layers.conv2d(x, filters, 3, { padding: 'same' });
    x = layers.batchNormalization(x, { training, momentum: 0.9 });
    x = tf.relu(x);
    x = layers.maxPooling2d(x, 2, 2);
  }
  return layers.dense(tf.mean(x, [1, 2]), 10);
}

function modelFn(features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey) {
  const logits = getLogits(features, mode === ModeKeys.TRAIN);
  const predictions = { classes: tf.argMax(logits, -1), probabilities: tf.softmax(logits) };
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions });
  const loss = losses.sparseSoftmaxCrossEntropy(labels!, logits);
  if (mode === ModeKeys.EVAL) return new EstimatorSpec({ mode, loss, evalMetricOps: { accuracy: metrics.accuracy(labels!, predictions.classes) } });
  return new EstimatorSpec({ mode, loss, trainOp: train.adam(2e-3).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
}

const estimator = new Estimator(modelFn, modelDir);
await estimator.train(() => datasets.mnist.trainBatches(64, { shuffle: true, repeat: true }).map((b) => ({ xs: b.image, ys: b.label })), { maxSteps: TRAIN_STEPS });
await estimator.evaluate(() => datasets.mnist.testBatches(500).map((b) => ({ xs: b.image, ys: b.label })))""",
"""md:## Export

The serving input function says what one request looks like: a batch of 28 x 28 images. The
export is written into a new timestamped folder, atomically, after checking that it reproduces
`modelFn`'s predictions.""",
"""const exportDir = await estimator.exportSavedModel(`${modelDir}/export`, () => ({ features: tf.zeros([1, 28, 28]) }));
console.log(exportDir);
require('fs').readdirSync(exportDir)""",
"""md:## The server

Read it: it loads the export with `tf.loadGraphModelSync`, listens on 127.0.0.1 only, and turns
away oversized bodies (413), bodies that are not sent as JSON (415), malformed JSON, images of
the wrong size or pixels beyond float32's range (400), other paths and methods, before anything
reaches the model; an answer that is not finite is a 400 too. A client that sends its headers or
its body too slowly is cut off after 5 and 10 seconds.""",
"""const serverSource = require('fs').readFileSync('serve-mnist.js', 'utf8');
display.markdown('```js\\n' + serverSource.slice(serverSource.indexOf("'use strict'")) + '\\n```');""",
"""md:Start it as a child process on a free port (port 0), and wait for the line that says where it listens.""",
"""import { spawn } from 'child_process';

const server = spawn(process.execPath, ['serve-mnist.js', exportDir, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url: string = await new Promise((resolve, reject) => {
  server.stdout!.on('data', (d: Buffer) => {
    const m = /on (http:\\S+)/.exec(d.toString());
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`the server exited with code ${code}`)));
});
url""",
"""md:## Ask it

Eight test digits go out as JSON; the answer comes back with the probabilities of each class.""",
"""const [batch] = await datasets.mnist.testBatches(8).take(1).toArray();
const response = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ images: batch.image.arraySync() }),
});
const answer = (await response.json()) as { predictions: { class: number; probabilities: number[] }[] };
console.log(`HTTP ${response.status}: ${answer.predictions.length} predictions`);
await display.predictions(answer.predictions.map((p) => ({ classes: p.class, probabilities: p.probabilities })), { images: batch.image, labels: batch.label, limit: 8 });""",
"""md:Bad requests are refused with a status and a reason, and the server keeps serving.""",
"""const bad: [string, string, string][] = [
  ['not JSON', 'hello', 'application/json'],
  ['JSON sent as text/plain', JSON.stringify({ image: new Array(784).fill(0.5) }), 'text/plain'],
  ['an image of the wrong size', JSON.stringify({ image: [0, 1, 0.5] }), 'application/json'],
  ['pixels of 1e300', JSON.stringify({ image: new Array(784).fill(1e300) }), 'application/json'],
  ['a body over 1 MB', JSON.stringify({ image: new Array(300000).fill(0.5) }), 'application/json'],
];
for (const [what, body, type] of bad) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
  console.log(`${what}: HTTP ${r.status}, ${((await r.json()) as { error: string }).error}`);
}
console.log(`still serving: HTTP ${(await fetch(url.replace('/predict', '/health'))).status}`);""",
"""server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
console.log('server stopped');""",
])
