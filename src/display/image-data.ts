// Turns what users hold (tensors, typed arrays with a shape, nested arrays) into 8-bit pixel
// buffers. No tensors are created: tensor values are read once with dataSync().
import type * as tf from '@tensorflow/tfjs';
import { NestedNumbers, PixelArray, readValues, ShapedPixels } from './values';

export type { NestedNumbers, PixelArray, ShapedPixels } from './values';
export { isTensorLike } from './values';

/** One image, or (for `images`) a batch: HW, HWC or NHWC with 1, 3 or 4 channels. */
export type ImageInput = tf.Tensor | ShapedPixels | PixelArray | NestedNumbers;

/**
 * How values map to 0..255. `'auto'` (default): integer dtypes are 0..255; floats in [0,1] are
 * scaled by 255, floats in [-1,1] (tanh outputs) map -1..1, floats in [0,255] are taken as is,
 * anything else is min-max scaled. A pair `[lo, hi]` maps lo to black and hi to white.
 */
export type ValueRange = 'auto' | [number, number];

/** An 8-bit image, row-major, channels interleaved. */
export interface Pixels {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

export interface PixelOptions {
  /** Shape of one image ([H, W] or [H, W, C]) when the data carries none or is flattened. */
  shape?: number[];
  range?: ValueRange;
}

export interface PixelListOptions extends PixelOptions {
  /** Convert only the first `limit` images (the value range still comes from all of them). */
  limit?: number;
}

function rangeOf(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}

/** The [lo, hi] that maps to [0, 255], following the `'auto'` rules of ValueRange. */
export function chooseRange(flat: { values: ArrayLike<number>; integer: boolean }, range: ValueRange = 'auto'): [number, number] {
  if (range !== 'auto') return range;
  if (flat.integer) return [0, 255];
  const [lo, hi] = rangeOf(flat.values);
  const eps = 1e-6;
  if (lo >= -eps && hi <= 1 + eps) return [0, 1];
  if (lo >= -1 - eps && hi <= 1 + eps) return [-1, 1];
  if (lo >= -eps && hi <= 255 + eps) return [0, 255];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

function toBytes(values: ArrayLike<number>, offset: number, count: number, [lo, hi]: [number, number]): Uint8Array {
  const out = new Uint8Array(count);
  const k = hi === lo ? 0 : 255 / (hi - lo);
  for (let i = 0; i < count; i++) {
    const v = values[offset + i];
    const b = Number.isNaN(v) ? 0 : Math.round((v - lo) * k);
    out[i] = b < 0 ? 0 : b > 255 ? 255 : b;
  }
  return out;
}

function channelsOk(c: number): c is 1 | 3 | 4 {
  return c === 1 || c === 3 || c === 4;
}

/** [H, W, C] of one image, from its shape, the `shape` option or a square guess. */
function imageShape(shape: number[], hint: number[] | undefined, what: string): [number, number, 1 | 3 | 4] {
  const s = hint ?? shape;
  if (s.length === 1) {
    const n = s[0];
    for (const c of [1, 3, 4] as const) {
      const side = Math.round(Math.sqrt(n / c));
      if (side * side * c === n) return [side, side, c];
    }
    throw new RangeError(
      `display: cannot tell the shape of a flat ${what} of ${n} values; pass {shape: [height, width]} or [height, width, channels]`,
    );
  }
  if (s.length === 2) return [s[0], s[1], 1];
  if (s.length === 3) {
    if (channelsOk(s[2])) return [s[0], s[1], s[2]];
    if (channelsOk(s[0])) {
      throw new RangeError(`display: ${what} shape [${s}] looks channels-first; transpose it to [H, W, C] (tf.transpose(x, [1, 2, 0]))`);
    }
  }
  throw new RangeError(`display: ${what} shape [${s}] is not HW or HWC with 1, 3 or 4 channels`);
}

/** One image: HW, HWC, or a batch of one (1HWC / 1HW). */
export function toPixels(input: ImageInput, opts: PixelOptions = {}): Pixels {
  const flat = readValues(input);
  let shape = flat.shape;
  if (!opts.shape && shape.length === 4 && shape[0] === 1) shape = shape.slice(1);
  if (!opts.shape && shape.length === 3 && shape[0] === 1 && !channelsOk(shape[2])) shape = shape.slice(1);
  if (!opts.shape && shape.length === 4) {
    throw new RangeError(`display: shape [${shape}] is a batch of ${shape[0]} images; for a batch use display.images`);
  }
  const [h, w, c] = imageShape(shape, opts.shape, 'image');
  if (h * w * c !== flat.values.length) {
    throw new RangeError(
      `display: image shape [${h},${w},${c}] needs ${h * w * c} values but the data has ${flat.values.length}; for a batch use display.images`,
    );
  }
  return { height: h, width: w, channels: c, data: toBytes(flat.values, 0, h * w * c, chooseRange(flat, opts.range)) };
}

/**
 * A batch: NHWC, NHW (gray), a list of images, or one image. With `shape`, any data is read as
 * consecutive images of that shape (e.g. [N, 784] with {shape: [28, 28]}).
 */
export interface PixelBatch {
  images: Pixels[];
  /** Images in the input, converted or not (limit). */
  total: number;
}

export function toPixelsList(input: ImageInput | ImageInput[], opts: PixelListOptions = {}): PixelBatch {
  const limit = opts.limit ?? Infinity;
  if (Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number' && !Array.isArray(input[0])) {
    // A list of separately held images: one value range for all, so they compare.
    const flats = (input as ImageInput[]).map((x) => readValues(x));
    const range =
      opts.range && opts.range !== 'auto'
        ? opts.range
        : chooseRange({ values: concatValues(flats.map((f) => f.values)), integer: flats.every((f) => f.integer) });
    const images = (input as ImageInput[]).slice(0, limit).map((x) => toPixels(x, { shape: opts.shape, range }));
    return { images, total: input.length };
  }
  const flat = readValues(input as ImageInput);
  const range = chooseRange(flat, opts.range);
  let h: number;
  let w: number;
  let c: 1 | 3 | 4;
  if (opts.shape) {
    [h, w, c] = imageShape(opts.shape, undefined, 'image');
  } else {
    const s = flat.shape;
    if (s.length === 4) [h, w, c] = imageShape(s.slice(1), undefined, 'batch element');
    else if (s.length === 3 && !channelsOk(s[2])) [h, w, c] = [s[1], s[2], 1];
    else [h, w, c] = imageShape(s, undefined, 'image');
  }
  const per = h * w * c;
  if (per === 0 || flat.values.length % per !== 0) {
    throw new RangeError(`display: ${flat.values.length} values do not split into images of [${h},${w},${c}]`);
  }
  const total = flat.values.length / per;
  const n = Math.min(limit, total);
  const out: Pixels[] = [];
  for (let i = 0; i < n; i++) out.push({ height: h, width: w, channels: c, data: toBytes(flat.values, i * per, per, range) });
  return { images: out, total };
}

function concatValues(parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let k = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) out[k++] = p[i];
  return out;
}

export function describePixels(p: Pixels): string {
  return `${p.height}x${p.width}x${p.channels}`;
}
