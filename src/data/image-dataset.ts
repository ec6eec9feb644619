// A tf.data.Dataset of {image, label} over an in-memory split whose shuffle / repeat / take /
// skip work on example *indices* and whose batch() builds each batch tensor straight from the
// bytes. The article's pipeline `train().shuffle(10000).repeat().batch(64)` then costs one
// tensor pair per batch instead of 2 x 64 element tensors stacked by tf.data, and abandoning it
// mid-epoch (train() with `steps`) leaves no 10,000-element tensor buffer behind. Any other op
// (map, filter, prefetch, ...) is tf.data's own, over the lazily created element tensors.
import * as tf from '@tensorflow/tfjs';
import type { Split } from './split';
import { Random, Seed, freshSeed, seededRandom } from './random';
import { loadAddon } from '../backend/native/addon';
import { tensorValuesArray } from '../backend/native';

// Type aliases (not interfaces) so they satisfy tf.TensorContainer's index signature.
/** One example: image [rows, cols] float32 in [0, 1], label int32 scalar. */
export type Example = {
  image: tf.Tensor2D;
  label: tf.Scalar;
};
/** A batch as tf.data's batch() stacks Examples: image [B, rows, cols], label [B]. */
export type Batch = {
  image: tf.Tensor3D;
  label: tf.Tensor1D;
};

type LazyIteratorOf<T extends tf.TensorContainer> = Awaited<ReturnType<tf.data.Dataset<T>['iterator']>>;

/** The example indices of one pass; called afresh for every iterator(). */
type IndexPlan = () => Iterator<number>;

function* range(n: number): Iterator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** tf.data's shuffle buffer, over indices: fill it, then emit a random slot and refill it. */
function* shuffleIndices(source: Iterator<number>, bufferSize: number, random: Random): Iterator<number> {
  const buf: number[] = [];
  for (let r = source.next(); !r.done; r = source.next()) {
    if (buf.length < bufferSize) {
      buf.push(r.value);
      continue;
    }
    const k = Math.floor(random() * buf.length);
    const out = buf[k];
    buf[k] = r.value;
    yield out;
  }
  while (buf.length > 0) {
    const k = Math.floor(random() * buf.length);
    const out = buf[k];
    buf[k] = buf[buf.length - 1];
    buf.pop();
    yield out;
  }
}

/** Writes example i's pixels, scaled to [0, 1], at dst[offset...]. */
function copyPixels(split: Split, i: number, dst: Float32Array, offset: number): void {
  const px = split.rows * split.cols;
  const src = split.images.data;
  const base = i * px;
  for (let j = 0; j < px; j++) dst[offset + j] = src[base + j] / 255;
}

function makeExample(split: Split, i: number): Example {
  const image = new Float32Array(split.rows * split.cols);
  copyPixels(split, i, image, 0);
  return { image: tf.tensor2d(image, [split.rows, split.cols]), label: tf.scalar(split.labels.data[i], 'int32') };
}

function makeBatch(split: Split, indices: number[]): Batch {
  const px = split.rows * split.cols;
  const n = indices.length;
  const images = tensorValuesArray(n * px);
  const labels = new Int32Array(n);
  for (let b = 0; b < n; b++) labels[b] = split.labels.data[indices[b]];
  // The native addon, where built, does the pixels ~10x faster (the same values): in the
  // training step this loop cost as much as a batch norm.
  const addon = loadAddon().addon;
  if (addon && n > 0) addon.gatherUnitBytes(split.images.data, px, Int32Array.from(indices), images);
  else for (let b = 0; b < n; b++) copyPixels(split, indices[b], images, b * px);
  return { image: tf.tensor3d(images, [n, split.rows, split.cols]), label: tf.tensor1d(labels, 'int32') };
}

/** A dataset over a JS generator with a known size (tf.data.generator's size is unknown). */
class GeneratorDataset<T extends tf.TensorContainer> extends tf.data.Dataset<T> {
  override readonly size: number;
  constructor(
    private readonly make: () => Iterator<T>,
    size: number,
  ) {
    super();
    this.size = size;
  }
  override iterator(): Promise<LazyIteratorOf<T>> {
    return tf.data.generator(this.make).iterator();
  }
}

function checkCount(op: string, name: string, v: number | undefined): void {
  if (v !== undefined && !Number.isInteger(v)) throw new RangeError(`Dataset.${op}: ${name} must be an integer, got ${v}.`);
}

/**
 * A tf.data.Dataset of {image: [rows, cols] float32 in [0, 1], label: int32} over an in-memory
 * split, with a full-buffer seeded shuffle and a known size.
 * @example datasets.mnist.train().shuffle(60000, 42).batch(100)
 */
export class ImageDataset extends tf.data.Dataset<Example> {
  /** Number of examples one pass yields. */
  override readonly size: number;

  /**
   * Use ImageDataset.of(split), or datasets.mnist.train().
   * @param split the images and labels it reads.
   */
  constructor(
    readonly split: Split,
    private readonly plan: IndexPlan,
    size: number,
  ) {
    super();
    this.size = size;
  }

  /** Every example of the split once, in file order. */
  static of(split: Split): ImageDataset {
    return new ImageDataset(split, () => range(split.count), split.count);
  }

  /** tf.data's iterator: one pass over the examples (a fresh order per pass when shuffled). */
  override iterator(): Promise<LazyIteratorOf<Example>> {
    const { split, plan } = this;
    return tf.data
      .generator(function* () {
        const indices = plan();
        for (let r = indices.next(); !r.done; r = indices.next()) yield makeExample(split, r.value);
      })
      .iterator();
  }

  /**
   * tf.data's buffered shuffle. The same seed (string or number) gives the same order in every
   * run; with reshuffleEachIteration (default) each pass, e.g. each epoch under repeat(), gets a
   * new order drawn from that seed. A bufferSize of at least `size` is a full shuffle.
   */
  override shuffle(bufferSize: number, seed?: Seed, reshuffleEachIteration = true): ImageDataset {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new RangeError(
        `Dataset.shuffle: bufferSize must be a positive integer, got ${bufferSize} (this dataset has ${this.size} elements).`,
      );
    }
    const master = seededRandom(seed ?? freshSeed());
    const draw = () => Math.floor(master() * 2 ** 32);
    const fixed = draw();
    const upstream = this.plan;
    return new ImageDataset(
      this.split,
      () => shuffleIndices(upstream(), bufferSize, seededRandom(reshuffleEachIteration ? draw() : fixed)),
      this.size,
    );
  }

  /** Repeats `count` times, or forever when count is undefined or negative. */
  override repeat(count?: number): ImageDataset {
    checkCount('repeat', 'count', count);
    const infinite = count === undefined || count < 0;
    const times = infinite ? Infinity : count;
    const upstream = this.plan;
    const size = this.size === 0 ? 0 : this.size * times;
    return new ImageDataset(
      this.split,
      function* () {
        for (let pass = 0; pass < times; pass++) {
          let any = false;
          const it = upstream();
          for (let r = it.next(); !r.done; r = it.next()) {
            any = true;
            yield r.value;
          }
          if (!any) return; // an empty dataset repeated forever is still empty
        }
      },
      size,
    );
  }

  /** The first `count` examples (all of them when count is undefined or negative). */
  override take(count: number): ImageDataset {
    checkCount('take', 'count', count);
    if (count === undefined || count < 0) return this;
    const upstream = this.plan;
    return new ImageDataset(
      this.split,
      function* () {
        if (count === 0) return;
        const it = upstream();
        let n = 0;
        for (let r = it.next(); !r.done; r = it.next()) {
          yield r.value;
          if (++n >= count) return;
        }
      },
      Math.min(this.size, count),
    );
  }

  /** All but the first `count` examples (none when count is undefined or negative). */
  override skip(count: number): ImageDataset {
    checkCount('skip', 'count', count);
    const all = count === undefined || count < 0;
    const upstream = this.plan;
    return new ImageDataset(
      this.split,
      function* () {
        if (all) return;
        const it = upstream();
        let n = 0;
        for (let r = it.next(); !r.done; r = it.next()) if (n++ >= count) yield r.value;
      },
      all ? 0 : Math.max(0, this.size - count),
    );
  }

  /**
   * Batches of {image: [B, rows, cols], label: [B]}, the same tensors tf.data's batch() would
   * stack from the elements, made in one piece per batch.
   */
  override batch(batchSize: number, smallLastBatch = true): tf.data.Dataset<Batch> {
    if (!Number.isInteger(batchSize) || batchSize <= 0)
      throw new RangeError(`Dataset.batch: batchSize must be a positive integer, got ${batchSize}.`);
    const { split, plan } = this;
    const size = this.size === Infinity ? Infinity : smallLastBatch ? Math.ceil(this.size / batchSize) : Math.floor(this.size / batchSize);
    return new GeneratorDataset<Batch>(function* () {
      const it = plan();
      for (;;) {
        const indices: number[] = [];
        while (indices.length < batchSize) {
          const r = it.next();
          if (r.done) break;
          indices.push(r.value);
        }
        if (indices.length === 0 || (indices.length < batchSize && !smallLastBatch)) return;
        yield makeBatch(split, indices);
        if (indices.length < batchSize) return;
      }
    }, size);
  }
}

/** Options of the batch helpers (trainBatches, testBatches, batchesFromIdx). */
export interface BatchOptions {
  /** Full shuffle (a fresh order each epoch); default false: file order. */
  shuffle?: boolean;
  /** Seed of the shuffle: the same seed gives the same batches in every run. */
  seed?: Seed;
  /** Repeat forever (default false: one pass). Batches run across epoch boundaries. */
  repeat?: boolean;
  /** Drop a last batch smaller than batchSize (default false). */
  dropRemainder?: boolean;
}

/** Shorthand for ImageDataset.of(split)[.shuffle(all, seed)][.repeat()].batch(batchSize). */
export function batchSplit(split: Split, batchSize: number, opts: BatchOptions = {}): tf.data.Dataset<Batch> {
  let ds = ImageDataset.of(split);
  if (opts.shuffle) ds = ds.shuffle(Math.max(1, split.count), opts.seed);
  if (opts.repeat) ds = ds.repeat();
  return ds.batch(batchSize, !opts.dropRemainder);
}
