#!/usr/bin/python3
"""Writes the tutorial notebooks from the cell sources below (run: python3 notebooks/make_notebooks.py)."""
import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell
import os

KERNEL = {"kernelspec": {"name": "tfjs-estimator", "display_name": "TypeScript (tfjs-estimator)", "language": "typescript"},
          "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"}}

def nb(path, cells):
    n = new_notebook(cells=[new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(c.strip("\n")) for c in cells], metadata=KERNEL)
    nbformat.write(n, os.path.join(os.path.dirname(__file__), path))

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
const modelDir = process.env.TUTORIAL_MODEL_DIR ?? 'model_dirs/01-mnist';
console.log(`training to step ${TRAIN_STEPS} in ${modelDir}`);""",
"""md:## The input function

`getInputs(mode)` returns a `tf.data` pipeline over MNIST: shuffled and repeated for training,
one pass over the test set otherwise, in batches of 64. Each element is `{xs: images, ys: labels}`.""",
"""function getInputs(mode: string) {
  const examples = mode === ModeKeys.TRAIN ? datasets.mnist.train().shuffle(10000).repeat() : datasets.mnist.test();
  return examples.batch(64).map((b: any) => ({ xs: b.image, ys: b.label }));
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
    x = layers.batchNormalization(x, { training });
    x = tf.relu(x);
    x = layers.maxPooling2d(x, 3, 2);
  }
  x = tf.mean(x, [1, 2]);
  return layers.dense(x, 10);
}

function modelFn(features: tf.Tensor, labels: tf.Tensor | undefined, mode: string, params: any) {
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
