// Image summaries: the first maxOutputs images of an NHWC batch as PNG Summary.Values, tagged
// as TF's ImageSummary op tags them.
import * as tf from '@tensorflow/tfjs';
import { encode } from 'fast-png';
import type { SummaryValue } from '../../events/proto';

/** Options of summary.image. */
export interface ImageOptions {
  /** How many images of the batch to keep (default 3, as tf.summary.image). */
  maxOutputs?: number;
}

// TF's default bad_color (opaque red) for non-finite float pixels.
const BAD_COLOR = [255, 0, 0, 255];

function checkImages(name: string, images: unknown, maxOutputs: number): tf.Tensor4D {
  if (!(images instanceof tf.Tensor))
    throw new Error(`summary.image('${name}', images): images must be a tf.Tensor of shape [batch, height, width, channels].`);
  if (images.rank !== 4 || ![1, 3, 4].includes(images.shape[3] as number)) {
    throw new Error(
      `summary.image('${name}'): images must be NHWC with 1, 3 or 4 channels, got shape [${images.shape}]; ` +
        `reshape it first, e.g. tf.reshape(x, [-1, 28, 28, 1]).`,
    );
  }
  if (images.dtype !== 'float32' && images.dtype !== 'int32') {
    throw new Error(`summary.image('${name}'): images must be float32 in [0, 1] or int32 in 0..255, got ${images.dtype}; cast it first.`);
  }
  if (!Number.isInteger(maxOutputs) || maxOutputs < 1)
    throw new Error(`summary.image('${name}'): maxOutputs must be a positive integer, got ${maxOutputs}.`);
  return images as tf.Tensor4D;
}

/**
 * Float pixels are clipped to [0, 1] and scaled as tf.image.convert_image_dtype(saturate) does
 * (x * 255.5, truncated); int32 pixels are clipped to 0..255. NaN/Inf pixels become red.
 */
function toBytes(data: ArrayLike<number>, offset: number, length: number, isFloat: boolean, channels: number): Uint8Array {
  const px = new Uint8Array(length);
  for (let p = 0; p < length; p += channels) {
    let finite = true;
    for (let k = 0; k < channels; k++) finite &&= Number.isFinite(data[offset + p + k]);
    for (let k = 0; k < channels; k++) {
      const v = data[offset + p + k];
      if (!finite) px[p + k] = BAD_COLOR[k];
      else if (isFloat) px[p + k] = v <= 0 ? 0 : v >= 1 ? 255 : Math.floor(v * 255.5);
      else px[p + k] = v <= 0 ? 0 : v >= 255 ? 255 : v;
    }
  }
  return px;
}

/** Summary values for the first maxOutputs images: tags name/image/<i>, or name/image when maxOutputs is 1. */
export function imageValues(name: string, images: tf.Tensor, opts: ImageOptions = {}): SummaryValue[] {
  const maxOutputs = opts.maxOutputs ?? 3;
  const x = checkImages(name, images, maxOutputs);
  const [n, h, w, c] = x.shape;
  const count = Math.min(n, maxOutputs);
  if (count === 0) return [];
  // Only the images that are kept are read back.
  const head = count === n ? x : tf.slice(x, [0, 0, 0, 0], [count, h, w, c]);
  const data = head.dataSync();
  if (head !== x) head.dispose();
  const size = h * w * c;
  const out: SummaryValue[] = [];
  for (let i = 0; i < count; i++) {
    const png = encode({ width: w, height: h, data: toBytes(data, i * size, size, x.dtype === 'float32', c), channels: c, depth: 8 });
    // TF names by the number requested, not produced (summary_image_op.cc).
    const tag = maxOutputs > 1 ? `${name}/image/${i}` : `${name}/image`;
    out.push({ tag, image: { height: h, width: w, colorspace: c, encodedImageString: png } });
  }
  return out;
}
