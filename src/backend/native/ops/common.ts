// What every family of native kernels shares: reading tensors' arrays, the addon's op codes
// (op-codes.json, also compiled into the addon), shape checks, and the context a family's
// kernels are built in.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from '../addon';
import type { NativeBackend } from '../index';
import opCodes from '../op-codes.json';

export type Inputs = Record<string, tf.TensorInfo | undefined>;
export type KernelArgs = { inputs: Inputs; backend: NativeBackend; attrs?: tf.NamedAttrMap };
export type Conv2DInfo = tf.backend_util.Conv2DInfo;
export type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
export type Rounding = 'floor' | 'round' | 'ceil' | undefined;
export type Shape4 = [number, number, number, number];

/** Activation codes of the addon's post-ops, by tfjs's activation name. */
export const ACTIVATIONS: Readonly<Record<string, number>> = opCodes.activation.codes;
/** Binary operation codes, by tfjs kernel name. */
export const BINARY_OPS: Readonly<Record<string, number>> = opCodes.binary.codes;
/** Unary operation codes, by tfjs kernel name. */
export const UNARY_OPS: Readonly<Record<string, number>> = opCodes.unary.codes;
/** Pooling modes: max, average over valid inputs, average over the whole window. */
export const POOL_MODES = opCodes.poolMode.codes;
/** Where a pooling shape array holds the channel count. */
export const POOL_CHANNELS = opCodes.shapes.pool.indexOf('c');

/**
 * One of the addon's shape arrays (conv, pool, matmul), its fields in the table's order. A field
 * the table names and values lacks is a bug on this side: it throws rather than pass 0.
 */
export function shapeArray(kind: Exclude<keyof typeof opCodes.shapes, '//'>, values: Readonly<Record<string, number>>): Int32Array {
  const fields: readonly string[] = opCodes.shapes[kind];
  return Int32Array.from(fields, (f) => {
    const v = values[f];
    if (v === undefined) throw new Error(`native ${kind} shape: no value for ${f}`);
    return v;
  });
}

/** Below this many output elements the cpu backend's own loops are as fast as a native call. */
export const SMALL = 4096;

export const size = (shape: number[]): number => shape.reduce((a, c) => a * c, 1);

// A float32 tensor's values are not always a Float32Array: the cpu backend's Cast from int32
// or bool to float32 keeps the integer array under the new dtype. Such inputs are converted.
export function f32(b: NativeBackend, t: tf.TensorInfo): Float32Array {
  const v = b.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

export function i32(b: NativeBackend, t: tf.TensorInfo): Int32Array {
  const v = b.data.get(t.dataId).values;
  return v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>);
}

export function isF32(...ts: Array<tf.TensorInfo | undefined>): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

/** Shapes oneDNN can take: padding non-negative on every side, nothing empty. */
export function paddingOk(c: Conv2DInfo): boolean {
  const p = c.padInfo;
  return (
    p.top >= 0 &&
    p.left >= 0 &&
    p.bottom >= 0 &&
    p.right >= 0 &&
    c.dilationHeight >= 1 &&
    c.dilationWidth >= 1 &&
    size(c.inShape) > 0 &&
    size(c.outShape) > 0
  );
}

/** A bias the addon can add: float32 with one value per output channel. */
export function channelBias(bias: tf.TensorInfo | undefined, channels: number): boolean {
  return (
    !bias ||
    (isF32(bias) &&
      size(bias.shape) === channels &&
      (bias.shape.length === 0 ? channels === 1 : bias.shape[bias.shape.length - 1] === channels))
  );
}

/** What a family's kernels are built with. */
export interface KernelContext {
  addon: NativeAddon;
  /** The cpu kernel of that name, counted as a fallback (arguments the addon does not cover). */
  fallback(name: string, args: KernelArgs): tf.TensorInfo;
  /** The cpu kernel of that name, not counted (inputs too small to be worth a native call). */
  cpu(name: string, args: KernelArgs): tf.TensorInfo;
}

export function kernel(kernelName: string, fn: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig {
  return { kernelName, backendName: 'native', kernelFunc: fn as unknown as tf.KernelFunc };
}

/** A kernel that runs fn, or the cpu kernel (counted) when fn returns undefined. */
export function nativeOrFallback<T>(
  ctx: KernelContext,
  name: string,
  extra: T,
  fn: (args: KernelArgs, extra: T) => tf.TensorInfo | undefined,
): tf.KernelConfig {
  return kernel(name, (args) => fn(args, extra) ?? ctx.fallback(name, args));
}
