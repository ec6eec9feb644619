// The `data` and `datasets` namespaces of the public API.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadSplit, mnist, fashionMnist, batchDataset, Example, BatchOptions } from './mnist';
export { readIdx, parseIdx } from './idx';
export type { IdxArray } from './idx';
export { addNoise, randomShift, randomFlipLeftRight } from './augment';
export type { Example, BatchOptions };

/** A dataset of {image, label} from any pair of uint8 IDX files (MNIST layout). */
export function fromIdx(imagesFile: string, labelsFile: string): tf.data.Dataset<Example> {
  const split = loadSplit(path.resolve(imagesFile), path.resolve(labelsFile));
  return tf.data.generator(function* () {
    const [, rows, cols] = split.images.shape;
    const px = rows * cols;
    for (let i = 0; i < split.count; i++) {
      const img = Float32Array.from(split.images.data.subarray(i * px, (i + 1) * px), (v) => v / 255);
      yield { image: tf.tensor2d(img, [rows, cols]), label: tf.scalar(split.labels.data[i], 'int32') };
    }
  }) as unknown as tf.data.Dataset<Example>;
}

/** Pre-batched {image: [B, H, W], label: [B]} from a pair of IDX files. */
export function batchesFromIdx(imagesFile: string, labelsFile: string, batchSize: number, opts: BatchOptions = {}) {
  return batchDataset(loadSplit(path.resolve(imagesFile), path.resolve(labelsFile)), batchSize, opts);
}

export const datasets = { mnist, fashionMnist };
