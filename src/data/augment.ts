// Augmentation helpers for dataset.map(...): pure tensor functions, safe inside tf.tidy.
import * as tf from '@tensorflow/tfjs';

/** Adds Gaussian noise and clips back to [0, 1]. */
export function addNoise(image: tf.Tensor, stddev: number, opts: { seed?: number; clip?: boolean } = {}): tf.Tensor {
  return tf.tidy(() => {
    const noisy = tf.add(image, tf.randomNormal(image.shape, 0, stddev, 'float32', opts.seed));
    return opts.clip === false ? noisy : tf.clipByValue(noisy, 0, 1);
  });
}

/** Shifts an image [H, W] or [H, W, C] by up to maxShift pixels in each direction (zero fill). */
export function randomShift(image: tf.Tensor, maxShift: number, opts: { seed?: number } = {}): tf.Tensor {
  return tf.tidy(() => {
    const hwc = image.rank === 2 ? tf.expandDims(image, -1) : image;
    const [h, w] = hwc.shape;
    const r = tf.randomUniform([2], -maxShift, maxShift + 1, 'int32', opts.seed).dataSync();
    const [dy, dx] = [r[0], r[1]];
    const padded = tf.pad(hwc, [[maxShift, maxShift], [maxShift, maxShift], [0, 0]]);
    const out = tf.slice(padded, [maxShift - dy, maxShift - dx, 0], [h, w, hwc.shape[2] as number]);
    return image.rank === 2 ? tf.squeeze(out, [2]) : out;
  });
}

/** Flips an image left-right with probability 1/2. */
export function randomFlipLeftRight(image: tf.Tensor, opts: { seed?: number } = {}): tf.Tensor {
  return tf.tidy(() => {
    const flip = tf.randomUniform([], 0, 1, 'float32', opts.seed).dataSync()[0] < 0.5;
    return flip ? tf.reverse(image, image.rank === 2 ? 1 : image.rank - 2) : tf.clone(image);
  });
}
