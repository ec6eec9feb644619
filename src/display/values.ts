// Reading numbers out of whatever users hold: tensors (via dataSync, no new tensors), typed
// arrays, {data, shape} pairs and nested arrays.
import type * as tf from '@tensorflow/tfjs';

export type PixelArray =
  Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint8ClampedArray | Uint16Array | Uint32Array | number[];

/** Values with an explicit shape, e.g. `{data: new Uint8Array(784), shape: [28, 28]}`. */
export interface ShapedPixels {
  data: PixelArray;
  shape: number[];
}

export type NestedNumbers = number[] | NestedNumbers[];

/** Anything numeric the display helpers accept. */
export type NumericInput = tf.Tensor | ShapedPixels | PixelArray | NestedNumbers;

export interface Flat {
  values: ArrayLike<number>;
  shape: number[];
  integer: boolean;
}

interface TensorLike {
  shape: number[];
  dtype: string;
  isDisposed?: boolean;
  dataSync(): ArrayLike<number> | string[];
}

export function isTensorLike(v: unknown): v is TensorLike {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as TensorLike).shape) &&
    typeof (v as TensorLike).dtype === 'string' &&
    typeof (v as TensorLike).dataSync === 'function'
  );
}

const INTEGER_ARRAYS = [Int32Array, Int16Array, Int8Array, Uint8Array, Uint8ClampedArray, Uint16Array, Uint32Array];

function isIntegerArray(a: ArrayLike<number>): boolean {
  return INTEGER_ARRAYS.some((C) => a instanceof C);
}

function flattenNested(a: NestedNumbers): Flat {
  const shape: number[] = [];
  let probe: unknown = a;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const size = shape.reduce((x, y) => x * y, 1);
  const out = new Float64Array(size);
  let k = 0;
  const walk = (x: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof x !== 'number') throw new TypeError(`values must be numbers, found ${typeof x}`);
      out[k++] = x;
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new TypeError(`nested arrays must be rectangular: expected length ${shape[depth]} at depth ${depth}`);
    }
    for (const e of x) walk(e, depth + 1);
  };
  walk(a, 0);
  // Plain numbers carry no dtype: the 'auto' range rules decide from the values.
  return { values: out, shape, integer: false };
}

/** Flat values, shape and integer-ness of any numeric input; no tensor is created. */
export function readValues(input: NumericInput, what = 'image'): Flat {
  if (isTensorLike(input)) {
    if (input.isDisposed) throw new Error('display: the tensor was disposed; display it before calling dispose()');
    if (input.dtype === 'string' || input.dtype === 'complex64')
      throw new TypeError(`display: cannot read a ${input.dtype} tensor as numbers`);
    const values = input.dataSync() as ArrayLike<number>;
    // bool is 0/1: draw it black/white.
    if (input.dtype === 'bool') return { values: Array.from(values, (v) => v * 255), shape: input.shape.slice(), integer: true };
    return { values, shape: input.shape.slice(), integer: input.dtype === 'int32' };
  }
  if (ArrayBuffer.isView(input)) {
    const a = input as Exclude<PixelArray, number[]>;
    return { values: a, shape: [a.length], integer: isIntegerArray(a) };
  }
  if (Array.isArray(input)) {
    if (input.length > 0 && typeof input[0] === 'number') {
      const a = input as number[];
      return { values: a, shape: [a.length], integer: false };
    }
    return flattenNested(input as NestedNumbers);
  }
  if (typeof input === 'object' && input !== null && 'data' in input && 'shape' in input) {
    const s = input as ShapedPixels;
    const size = s.shape.reduce((x, y) => x * y, 1);
    if (size !== s.data.length) throw new RangeError(`display: shape [${s.shape}] holds ${size} values but data has ${s.data.length}`);
    return { values: s.data, shape: s.shape.slice(), integer: ArrayBuffer.isView(s.data) && isIntegerArray(s.data) };
  }
  throw new TypeError(`display: expected a tf.Tensor, a typed array, a nested number array or {data, shape} for the ${what}`);
}

/** Values of a label/prediction list as plain integers-or-numbers. */
export function readNumbers(input: NumericInput, what: string): number[] {
  return Array.from(readValues(input, what).values);
}
