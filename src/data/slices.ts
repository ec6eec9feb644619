// Input from in-memory arrays, as TensorFlow users write it: Dataset.from_tensor_slices((x, y))
// and tf.estimator.inputs.numpy_input_fn(x, y, batch_size, num_epochs, shuffle). Elements are
// {features, labels}, the shape the Estimator's input contract reads (tf.data's batch() keeps
// objects intact, whereas an array element [x, y] would be stacked into one tensor).
import * as tf from '@tensorflow/tfjs';
import { Seed, freshSeed, seededRandom } from './random';

/** A tensor, or nested number arrays / a typed array tf.tensor() accepts. */
export type SliceSource = tf.Tensor | tf.TensorLike;
/** Features or labels: one source, or an object of named sources (feature columns). */
export type Slices = SliceSource | Record<string, SliceSource>;

// Type aliases (not interfaces) so they satisfy tf.TensorContainer's index signature.
/** Features or labels as tensors: one tensor or an object of named tensors. */
export type SliceTensors = tf.Tensor | { [name: string]: tf.Tensor };
/** One element: features (and labels when given). Batched, each tensor gains a leading axis. */
export type SliceElement = {
  features: SliceTensors;
  labels?: SliceTensors;
};

function isSource(v: unknown): v is SliceSource {
  return v instanceof tf.Tensor || Array.isArray(v) || ArrayBuffer.isView(v) || typeof v === 'number';
}

function toTensor(v: SliceSource, what: string): tf.Tensor {
  const t = v instanceof tf.Tensor ? v : tf.tensor(v as tf.TensorLike);
  if (t.isDisposed) throw new Error(`${what} is a disposed tensor; keep the data alive (tf.keep) while the dataset is used.`);
  if (t.rank === 0) {
    throw new Error(`${what} is a scalar; slicing takes the first axis, so give one value per example (shape [n, ...]).`);
  }
  return t;
}

/** Converts features or labels to tensors, checking they all have `n` rows. */
function toTensors(v: Slices, what: string): SliceTensors {
  if (isSource(v)) return toTensor(v, what);
  if (v === null || typeof v !== 'object' || Object.keys(v).length === 0) {
    throw new Error(
      `${what} must be a tensor, an array of numbers, or an object of them (one per feature), got ${v === null ? 'null' : typeof v}.`,
    );
  }
  const out: Record<string, tf.Tensor> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!isSource(x)) throw new Error(`${what}.${k} must be a tensor or an array of numbers, got ${typeof x}.`);
    out[k] = toTensor(x, `${what}.${k}`);
  }
  return out;
}

function rowsOf(t: SliceTensors): Array<[string, number]> {
  return t instanceof tf.Tensor ? [['', t.shape[0]]] : Object.entries(t).map(([k, x]) => [k, x.shape[0]]);
}

/** The common number of rows (axis 0) of features and labels; an error names the mismatch. */
function countRows(features: SliceTensors, labels: SliceTensors | undefined, names = ['features', 'labels']): number {
  const all = [
    ...rowsOf(features).map(([k, n]) => [k ? `${names[0]}.${k}` : names[0], n] as const),
    ...(labels ? rowsOf(labels).map(([k, n]) => [k ? `${names[1]}.${k}` : names[1], n] as const) : []),
  ];
  const n = all[0][1];
  const bad = all.find(([, m]) => m !== n);
  if (bad) {
    throw new Error(
      `${all[0][0]} has ${n} rows but ${bad[0]} has ${bad[1]}; every tensor is sliced along axis 0, so all need the same first dimension (one row per example).`,
    );
  }
  return n;
}

/** Rows `idx` (or row `idx`, dropping axis 0) of each tensor. */
function take(t: SliceTensors, idx: number | tf.Tensor1D): SliceTensors {
  const one = (x: tf.Tensor) => (typeof idx === 'number' ? tf.squeeze(tf.slice(x, [idx], [1]), [0]) : tf.gather(x, idx));
  if (t instanceof tf.Tensor) return one(t);
  const out: Record<string, tf.Tensor> = {};
  for (const [k, x] of Object.entries(t)) out[k] = one(x);
  return out;
}

function element(features: SliceTensors, labels: SliceTensors | undefined, idx: number | tf.Tensor1D): SliceElement {
  return tf.tidy(() => {
    const el: SliceElement = { features: take(features, idx) };
    if (labels) el.labels = take(labels, idx);
    return el as unknown as tf.TensorContainer;
  }) as unknown as SliceElement;
}

/**
 * tf.data.Dataset.from_tensor_slices((features, labels)): one element per row (axis 0) of
 * `features` and `labels`, as {features, labels}, ready for `.shuffle(n).batch(32)` and for
 * the Estimator. `features` may be an object of tensors (one per feature); arrays of numbers
 * become float32 tensors (pass tf.tensor(y, undefined, 'int32') for integer labels).
 */
export function fromTensorSlices(features: Slices, labels?: Slices): tf.data.Dataset<SliceElement> {
  const f = toTensors(features, 'features');
  const l = labels === undefined ? undefined : toTensors(labels, 'labels');
  const n = countRows(f, l);
  return tf.data.generator(function* () {
    for (let i = 0; i < n; i++) yield element(f, l, i);
  });
}

/** Options of data.inputFn (tf.estimator.inputs.numpy_input_fn's). */
export interface InputFnOptions {
  /** Features: a tensor, an array of numbers, or an object of them (one per feature). */
  x: Slices;
  /** Labels, row i for features row i; leave out for predict. */
  y?: Slices;
  /** Examples per batch (default 128); the last batch of each pass may be smaller. */
  batchSize?: number;
  /** Passes over the data (default 1); null repeats forever (train then needs steps or maxSteps). */
  numEpochs?: number | null;
  /** Shuffle the rows in every pass: true to train, false to evaluate or predict in order. */
  shuffle: boolean;
  /** Seed of the shuffle: each call of the input function then sees the same order. */
  seed?: Seed;
}

/**
 * tf.estimator.inputs.numpy_input_fn for in-memory data: an input function whose dataset
 * yields {features, labels} batches of rows of x and y, for est.train / evaluate / predict.
 *
 *     await est.train(data.inputFn({x: xs, y: ys, batchSize: 32, numEpochs: null, shuffle: true}), {steps: 1000});
 */
export function inputFn(opts: InputFnOptions): () => tf.data.Dataset<SliceElement> {
  if (opts === null || typeof opts !== 'object' || !('x' in opts)) {
    throw new Error('data.inputFn takes one options object: data.inputFn({x, y, batchSize: 32, numEpochs: 1, shuffle: true}).');
  }
  if (typeof opts.shuffle !== 'boolean') {
    throw new Error('data.inputFn: say whether to shuffle: shuffle: true for training, false for evaluation and prediction.');
  }
  const batchSize = opts.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`data.inputFn: batchSize must be a positive integer, got ${batchSize}.`);
  const epochs = opts.numEpochs === undefined ? 1 : opts.numEpochs;
  if (epochs !== null && (!Number.isInteger(epochs) || epochs < 1)) {
    throw new Error(`data.inputFn: numEpochs must be a positive integer, or null to repeat forever, got ${epochs}.`);
  }
  // Converted once, so an error shows when the input function is made, not mid-training.
  const f = toTensors(opts.x, 'x');
  const l = opts.y === undefined ? undefined : toTensors(opts.y, 'y');
  const n = countRows(f, l, ['x', 'y']);
  return () => {
    const random = seededRandom(opts.seed ?? freshSeed());
    return tf.data.generator(function* () {
      const order = Array.from({ length: n }, (_, i) => i);
      for (let e = 0; epochs === null || e < epochs; e++) {
        if (opts.shuffle) {
          for (let i = n - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [order[i], order[j]] = [order[j], order[i]];
          }
        }
        for (let s = 0; s < n; s += batchSize) {
          const idx = tf.tensor1d(order.slice(s, s + batchSize), 'int32');
          const batch = element(f, l, idx);
          idx.dispose();
          yield batch;
        }
      }
    });
  };
}
