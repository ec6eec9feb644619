// Augmentation helpers for dataset.map(...). Each returns a new tensor and keeps no
// intermediates (safe inside and outside tf.tidy). Images are [H, W], [H, W, C], or a batch
// [N, H, W, C] where every image gets its own draw; a batch of gray images [N, H, W] must be
// expanded first (tf.expandDims(x, -1)), since [N, H, W] looks like one [H, W, C] image.
// With a seed, the n-th call gives the same draw in every run (TF2's eager op seeds); calls
// differ from one another, so every image of a dataset gets its own shift, flip or noise.
import * as tf from '@tensorflow/tfjs';
import { Random, Seed, nextSeededRandom, randomInt } from './random';

/** Options every augmentation helper takes. */
export interface AugmentOptions {
  /** Reproducible draws: the same sequence of results in every run (see resetSeeds). */
  seed?: Seed;
}

function randomFor(op: string, seed: Seed | undefined): Random {
  return seed === undefined ? Math.random : nextSeededRandom(op, seed);
}

function checkImage(op: string, image: tf.Tensor): void {
  if (!(image instanceof tf.Tensor)) throw new TypeError(`data.${op}: image must be a tf.Tensor, got ${typeof image}.`);
  if (image.rank < 2 || image.rank > 4) {
    throw new Error(`data.${op}: image must be [H, W], [H, W, C] or [N, H, W, C], got shape [${image.shape}].`);
  }
}

/** The image as [N, H, W, C] plus how to give the result the input's shape back. */
function asBatch(image: tf.Tensor): [tf.Tensor4D, (t: tf.Tensor4D) => tf.Tensor] {
  if (image.rank === 4) return [image as tf.Tensor4D, (t) => t];
  const [h, w] = image.shape;
  const c = image.rank === 3 ? (image.shape[2] as number) : 1;
  return [tf.reshape(image, [1, h, w, c]), (t) => tf.reshape(t, image.shape)];
}

/** Options of data.addNoise. */
export interface NoiseOptions extends AugmentOptions {
  /** Clip the result to [0, 1] (default true; pass false for data not scaled to [0, 1]). */
  clip?: boolean;
}

/** Adds Gaussian noise of standard deviation `stddev` (and clips to [0, 1] by default). */
export function addNoise(image: tf.Tensor, stddev: number, opts: NoiseOptions = {}): tf.Tensor {
  checkImage('addNoise', image);
  if (!(stddev >= 0)) throw new RangeError(`data.addNoise: stddev must be >= 0, got ${stddev}.`);
  // tf.randomNormal takes an integer seed; ours varies per call.
  const seed = opts.seed === undefined ? undefined : Math.floor(nextSeededRandom('addNoise', opts.seed)() * 2 ** 31);
  return tf.tidy(() => {
    const noisy = tf.add(tf.cast(image, 'float32'), tf.randomNormal(image.shape, 0, stddev, 'float32', seed));
    return opts.clip === false ? noisy : tf.clipByValue(noisy, 0, 1);
  });
}

/** Options of data.randomShift. */
export interface ShiftOptions extends AugmentOptions {
  /** Value of the pixels shifted in (default 0). */
  fillValue?: number;
}

/**
 * Shifts each image by a whole number of pixels, drawn uniformly in [-maxShift, maxShift]
 * independently for rows and columns; pixels shifted in take `fillValue`.
 * `maxShift` may be [maxRows, maxCols].
 */
export function randomShift(image: tf.Tensor, maxShift: number | [number, number], opts: ShiftOptions = {}): tf.Tensor {
  checkImage('randomShift', image);
  const [maxY, maxX] = typeof maxShift === 'number' ? [maxShift, maxShift] : maxShift;
  if (![maxY, maxX].every((m) => Number.isInteger(m) && m >= 0)) {
    throw new RangeError(`data.randomShift: maxShift must be a non-negative integer (or [rows, cols]), got ${JSON.stringify(maxShift)}.`);
  }
  const random = randomFor('randomShift', opts.seed);
  return tf.tidy(() => {
    const [batch, restore] = asBatch(image);
    const [n, h, w, c] = batch.shape;
    // Pad by the largest shift, then cut each image's window out of the padding. (Not
    // tf.image.transform: the cpu backend's Transform kernel only fills the first image.)
    const padded = tf.pad(
      tf.cast(batch, 'float32'),
      [
        [0, 0],
        [maxY, maxY],
        [maxX, maxX],
        [0, 0],
      ],
      opts.fillValue ?? 0,
    );
    const windows = Array.from({ length: n }, (_, i) => {
      const dy = randomInt(random, -maxY, maxY);
      const dx = randomInt(random, -maxX, maxX);
      return tf.slice(padded, [i, maxY - dy, maxX - dx, 0], [1, h, w, c]);
    });
    return restore(n === 1 ? windows[0] : tf.concat(windows, 0));
  });
}

/** Mirrors each image left-right with probability 1/2. */
export function randomFlipLeftRight(image: tf.Tensor, opts: AugmentOptions = {}): tf.Tensor {
  checkImage('randomFlipLeftRight', image);
  const random = randomFor('randomFlipLeftRight', opts.seed);
  return tf.tidy(() => {
    const [batch, restore] = asBatch(image);
    const n = batch.shape[0];
    const flip = Array.from({ length: n }, () => (random() < 0.5 ? 1 : 0));
    if (flip.every((f) => f === 0)) return restore(tf.clone(batch));
    if (flip.every((f) => f === 1)) return restore(tf.reverse(batch, 2));
    const mask = tf.tensor4d(flip, [n, 1, 1, 1], 'bool');
    return restore(tf.where(tf.broadcastTo(mask, batch.shape), tf.reverse(batch, 2), batch));
  });
}
