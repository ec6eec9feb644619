// inputFn may return a tf.data.Dataset, any (async) iterable, or a promise of one; each element
// is [features, labels] or {features, labels} (features alone is fine in PREDICT). This module
// turns all of that into one async iterator of {features, labels}, with errors that say what
// was received and what is expected.
import * as tf from '@tensorflow/tfjs';
import { describeValue } from './train-ops';
import type { ModeKey } from './spec';
import { RememberingWork } from '../framework/owned-scope';
import { freeAbandonedIterator } from '../data/abandoned-iterator';

/** Features or labels: one tensor, or an object of named tensors. */
export type TensorOrDict = tf.Tensor | Record<string, tf.Tensor>;
/** One batch as modelFn receives it: features F and labels L (none in PREDICT). */
export interface InputBatch<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> {
  /** What modelFn receives as features. */
  features: F;
  /** What modelFn receives as labels; absent in PREDICT. */
  labels?: L;
}

/** An element of an iterable input: [features, labels], {features, labels}, {xs, ys} (tfjs's
 *  fitDataset), or the features alone (PREDICT). Checked at run time as well. */
export type InputElement<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> =
  ReadonlyArray<F | L | undefined> | { features: F; labels?: L } | { xs: F; ys?: L } | F;

type Element = unknown;
/** A tf.data.Dataset (its elements are TensorContainers, checked at run time), or an (async)
 *  iterable of elements with the Estimator's features and labels types. */
export type InputSource<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> =
  tf.data.Dataset<tf.TensorContainer> | AsyncIterable<InputElement<F, L>> | Iterable<InputElement<F, L>>;
/** What Estimator<F, L> trains, evaluates and predicts on: its F and L are this function's. */
export type InputFn<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> = () =>
  InputSource<F, L> | Promise<InputSource<F, L>>;

function isTensorOrDict(v: unknown): v is TensorOrDict {
  if (v instanceof tf.Tensor) return true;
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.values(v as object).length > 0 &&
    Object.values(v as object).every((x) => x instanceof tf.Tensor)
  );
}

function toBatch(el: Element, mode: ModeKey): InputBatch {
  if (Array.isArray(el)) {
    if (
      (el.length === 2 || el.length === 1) &&
      isTensorOrDict(el[0]) &&
      (el.length === 1 || el[1] === undefined || isTensorOrDict(el[1]))
    ) {
      return { features: el[0], labels: el[1] as TensorOrDict | undefined };
    }
  } else if (el !== null && typeof el === 'object' && 'features' in (el as object)) {
    const o = el as { features: unknown; labels?: unknown };
    if (isTensorOrDict(o.features) && (o.labels === undefined || isTensorOrDict(o.labels))) {
      return { features: o.features, labels: o.labels as TensorOrDict | undefined };
    }
  } else if (el !== null && typeof el === 'object' && 'xs' in (el as object)) {
    // tfjs's own convention (model.fitDataset): {xs, ys}.
    const o = el as { xs: unknown; ys?: unknown };
    if (isTensorOrDict(o.xs) && (o.ys === undefined || isTensorOrDict(o.ys))) {
      return { features: o.xs, labels: o.ys as TensorOrDict | undefined };
    }
  } else if (mode === 'infer' && isTensorOrDict(el)) {
    return { features: el };
  }
  throw new Error(
    `inputFn produced an element the Estimator cannot use: ${describeValue(el)}. Each element must be ` +
      `[features, labels], {features, labels} or {xs, ys}, where features and labels are tensors or objects of tensors.${elementHint(el)}`,
  );
}

const FROM_ARRAYS =
  'For in-memory data use data.fromTensorSlices(xs, ys).batch(32), which yields {features, labels}, ' +
  'or data.inputFn({x: xs, y: ys, batchSize: 32, shuffle: true}).';

/** What probably went wrong, in the user's terms (never the tensor's own fields). */
function elementHint(el: Element): string {
  if (el instanceof tf.Tensor) {
    // tf.data's batch() stacks array elements: zip([xs, ys]).batch(n) gives one tensor.
    return (
      ` The element is a single tensor, so the Estimator finds no labels in it: tf.data's batch() stacks ` +
      `an element that is an array, such as tf.data.zip([xs, ys]), into one tensor, features and labels together. ` +
      `Zip an object instead, tf.data.zip({features: xs, labels: ys}).batch(32). ${FROM_ARRAYS}`
    );
  }
  if (Array.isArray(el)) {
    return ` The element is an array of ${el.length} item(s) (${el.map((x) => describeValue(x)).join('; ')}). ${FROM_ARRAYS}`;
  }
  if (el !== null && typeof el === 'object' && ('features' in el || 'xs' in el)) {
    return ` Here ${Object.entries(el as object)
      .map(([k, v]) => `${k} is ${describeValue(v)}`)
      .join(', ')}.`;
  }
  if (el !== null && typeof el === 'object') {
    return (
      ` If your dataset yields {${Object.keys(el as object).join(', ')}}, map it: dataset.map(e => ({xs: e.image, ys: e.label})) ` +
      `(tf.data's batch() keeps objects intact; arrays are best made after batching).`
    );
  }
  return ` ${FROM_ARRAYS}`;
}

/** Batches plus whether they are ours to dispose: tf.data hands out fresh tensors per element;
 *  tensors from a user's own array or iterable stay theirs (ones created while the step runs
 *  are freed with the step's engine scope either way). */
export interface InputStream<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> extends AsyncIterator<
  InputBatch<F, L>
> {
  readonly ownsBatches: boolean;
}

/** Calls inputFn and returns an async iterator over its batches (closed by return()). */
export async function openInput<F extends TensorOrDict, L extends TensorOrDict>(
  inputFn: InputFn<F, L>,
  mode: ModeKey,
): Promise<InputStream<F, L>> {
  if (typeof inputFn !== 'function') {
    throw new Error(`inputFn must be a function returning a tf.data.Dataset or an (async) iterable, got ${describeValue(inputFn)}.`);
  }
  const source = await inputFn();
  let inner: AsyncIterator<Element> | Iterator<Element>;
  if (source instanceof tf.data.Dataset) {
    // The dataset's work (a prefetch goes on after next() returns) remembers what it makes, so
    // that what the abandoned iterator still buffers can be told from the user's own tensors.
    const dataset = new RememberingWork();
    const it = await dataset.run(() => source.iterator());
    inner = {
      next: async () => dataset.run(() => it.next()) as Promise<IteratorResult<Element>>,
      return: async () => {
        // data.prefetchToDevice's iterator frees its queued batches; tf.data's have no return().
        await (it as { return?: () => Promise<unknown> }).return?.();
        // In the background: an element still being made may wait on the user's generator.
        freeAbandonedIterator(it, (t) => dataset.madeIt(t)).catch(() => undefined);
        return { done: true, value: undefined };
      },
    };
  } else if (source && typeof (source as AsyncIterable<Element>)[Symbol.asyncIterator] === 'function') {
    inner = (source as AsyncIterable<Element>)[Symbol.asyncIterator]();
  } else if (source && typeof (source as Iterable<Element>)[Symbol.iterator] === 'function' && !(source instanceof tf.Tensor)) {
    inner = (source as Iterable<Element>)[Symbol.iterator]();
  } else {
    throw new Error(
      `inputFn returned ${describeValue(source)}; it must return a tf.data.Dataset (e.g. tf.data.array(...).batch(32)) ` +
        `or an (async) iterable of [features, labels].`,
    );
  }
  return {
    ownsBatches: source instanceof tf.data.Dataset,
    async next(): Promise<IteratorResult<InputBatch<F, L>>> {
      const r = await inner.next();
      if (r.done) return { done: true, value: undefined };
      // toBatch checked that features and labels are tensors or objects of tensors; that they
      // are the F and L modelFn declares is what InputFn<F, L> states (a tf.data.Dataset's
      // elements are TensorContainers, so its types cannot say it).
      return { done: false, value: toBatch(r.value, mode) as InputBatch<F, L> };
    },
    async return(): Promise<IteratorResult<InputBatch<F, L>>> {
      if (inner.return) await inner.return();
      return { done: true, value: undefined };
    },
  };
}

export function disposeBatch(b: InputBatch): void {
  tf.dispose(b.features as tf.TensorContainer);
  if (b.labels) tf.dispose(b.labels as tf.TensorContainer);
}
