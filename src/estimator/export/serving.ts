// What a servingInputFn returns (tf.estimator.export.ServingInputReceiver, eagerly): example
// tensors standing in for the placeholders of a TF1 serving graph. Their leading axis is the
// batch axis; the export makes it variable (-1), whatever batch size the example has.
import * as tf from '@tensorflow/tfjs';
import type { TensorOrDict } from '../input';
import { describeValue } from '../train-ops';

/** tf.estimator.export.ServingInputReceiver: what a servingInputFn returns. */
export interface ServingInputReceiver {
  /** What modelFn receives as features: a tensor or a dict of tensors, each [batch, ...]. */
  features: TensorOrDict;
  /**
   * What a client feeds the exported model (default: the features themselves). When given,
   * servingInputFn must compute `features` from these with tf ops (e.g. cast and scale raw
   * pixels); that computation is exported too.
   */
  receiverTensors?: TensorOrDict;
}

/** Returns example inputs: a ServingInputReceiver, or the features tensor/dict alone. */
export type ServingInputFn = () => ServingInputReceiver | TensorOrDict | Promise<ServingInputReceiver | TensorOrDict>;

/** tf.estimator's name for the signature input when the receiver is a single tensor. */
export const SINGLE_INPUT_KEY = 'input';
/** ... and for the signature output when predictions are a single tensor. */
export const SINGLE_OUTPUT_KEY = 'output';

function isTensorDict(v: unknown): v is Record<string, tf.Tensor> {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof tf.Tensor) &&
    Object.keys(v as object).length > 0 &&
    Object.values(v as object).every((x) => x instanceof tf.Tensor)
  );
}

function isTensorOrDict(v: unknown): v is TensorOrDict {
  return v instanceof tf.Tensor || isTensorDict(v);
}

export interface NormalizedReceiver {
  features: TensorOrDict;
  /** Signature key -> example tensor fed at serving time. */
  receivers: Record<string, tf.Tensor>;
  /** Whether the receivers are the features themselves (nothing to replay). */
  receiversAreFeatures: boolean;
  batchSize: number;
}

export function asDict(t: TensorOrDict, singleKey: string): Record<string, tf.Tensor> {
  return t instanceof tf.Tensor ? { [singleKey]: t } : { ...t };
}

export function normalizeReceiver(value: unknown): NormalizedReceiver {
  let features: TensorOrDict;
  let receiverTensors: TensorOrDict | undefined;
  const obj = value as { features?: unknown; receiverTensors?: unknown } | null;
  if (obj && typeof obj === 'object' && !(obj instanceof tf.Tensor) && 'features' in obj && isTensorOrDict(obj.features)) {
    features = obj.features;
    if (obj.receiverTensors !== undefined) {
      if (!isTensorOrDict(obj.receiverTensors)) {
        throw new Error(
          `servingInputFn: receiverTensors must be a tf.Tensor or an object of tensors, got ${describeValue(obj.receiverTensors)}.`,
        );
      }
      receiverTensors = obj.receiverTensors;
    }
  } else if (isTensorOrDict(value)) {
    features = value;
  } else {
    throw new Error(
      `servingInputFn must return {features, receiverTensors?} (or the features tensor / dict of tensors alone), with a batch axis first, ` +
        `e.g. () => ({features: tf.zeros([1, 28, 28, 1])}); got ${describeValue(value)}.`,
    );
  }
  const receivers = asDict(receiverTensors ?? features, SINGLE_INPUT_KEY);
  let batchSize: number | undefined;
  for (const [key, t] of Object.entries(receivers)) {
    if (t.rank === 0) {
      throw new Error(`servingInputFn: receiver '${key}' is a scalar; every input needs a leading batch axis, e.g. shape [1, ...].`);
    }
    if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
      throw new Error(`servingInputFn: receiver '${key}' has dtype ${t.dtype}; a graph-model export takes float32, int32 or bool inputs.`);
    }
    if (t.shape[0] === 0) throw new Error(`servingInputFn: receiver '${key}' has an empty batch; give at least one example.`);
    if (batchSize !== undefined && t.shape[0] !== batchSize) {
      throw new Error(
        `servingInputFn: receivers have different batch sizes (${batchSize} and ${t.shape[0]} for '${key}'); give every input the same number of examples.`,
      );
    }
    batchSize = t.shape[0];
  }
  return { features, receivers, receiversAreFeatures: receiverTensors === undefined, batchSize: batchSize as number };
}

export interface RawFeatureSpec {
  /** Shape of one example (without the batch axis). */
  shape: number[];
  dtype?: 'float32' | 'int32' | 'bool';
}

/**
 * tf.estimator.export.build_raw_serving_input_receiver_fn: a servingInputFn whose inputs are
 * the features themselves, given by per-example shape (one tensor) or a dict of them.
 */
export function buildRawServingInputReceiverFn(
  spec: number[] | RawFeatureSpec | Record<string, number[] | RawFeatureSpec>,
): ServingInputFn {
  const one = (s: number[] | RawFeatureSpec): tf.Tensor => {
    const { shape, dtype } = Array.isArray(s) ? { shape: s, dtype: 'float32' as const } : s;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(
        `buildRawServingInputReceiverFn: an example shape must be a list of positive integers, got ${JSON.stringify(shape)}.`,
      );
    }
    return tf.zeros([1, ...shape], dtype ?? 'float32');
  };
  const single =
    Array.isArray(spec) || (typeof (spec as RawFeatureSpec).shape === 'object' && Array.isArray((spec as RawFeatureSpec).shape));
  return () => {
    if (single) return { features: one(spec as number[] | RawFeatureSpec) };
    return { features: Object.fromEntries(Object.entries(spec as Record<string, number[] | RawFeatureSpec>).map(([k, s]) => [k, one(s)])) };
  };
}
