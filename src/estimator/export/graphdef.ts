// The JSON form of a TensorFlow GraphDef as tfjs-converter reads it from a graph model's
// model.json (protobuf JSON: int64 as strings, strings base64-encoded, dtypes as DT_* names),
// and a builder that hands out unique node names and collects constant weights.
import * as tf from '@tensorflow/tfjs';

export interface ShapeProto {
  dim: Array<{ size: string }>;
}

export interface AttrValue {
  i?: string;
  f?: number;
  b?: boolean;
  s?: string;
  type?: string;
  shape?: ShapeProto;
  list?: { i?: string[]; s?: string[] };
  tensor?: { dtype: string; tensorShape: ShapeProto };
}

export interface NodeDef {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, AttrValue>;
}

export interface GraphDef {
  node: NodeDef[];
  versions: Record<string, never>;
}

/** Values of a constant node, stored in the weights file under the node's name. */
export interface ConstData {
  values: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: tf.DataType;
}

const DTYPES: Partial<Record<tf.DataType, string>> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL' };

export function tfDtype(dtype: tf.DataType, what: string): string {
  const dt = DTYPES[dtype];
  if (!dt)
    throw new Error(`${what} has dtype ${dtype}, which a graph-model export cannot hold; cast it to float32 or int32 inside modelFn.`);
  return dt;
}

export function shapeProto(shape: number[]): ShapeProto {
  return { dim: shape.map((d) => ({ size: String(d) })) };
}

/** Attribute encoders in the protobuf-JSON shapes that tfjs-converter's op mapper parses. */
export const attr = {
  int: (n: number): AttrValue => ({ i: String(Math.trunc(n)) }),
  float: (x: number): AttrValue => ({ f: x }),
  bool: (v: boolean): AttrValue => ({ b: v }),
  str: (v: string): AttrValue => ({ s: Buffer.from(v, 'utf8').toString('base64') }),
  dtype: (dtype: tf.DataType, what = 'a tensor'): AttrValue => ({ type: tfDtype(dtype, what) }),
  ints: (xs: number[]): AttrValue => ({ list: { i: xs.map((n) => String(Math.trunc(n))) } }),
  strs: (xs: string[]): AttrValue => ({ list: { s: xs.map((v) => Buffer.from(v, 'utf8').toString('base64')) } }),
  shape: (dims: number[]): AttrValue => ({ shape: shapeProto(dims) }),
};

export class GraphDefBuilder {
  readonly nodes: NodeDef[] = [];
  readonly weights: Array<{ name: string; data: ConstData }> = [];
  private readonly taken = new Set<string>();

  /** A valid TensorFlow node name derived from base, not used before. */
  uniqueName(base: string): string {
    let clean = base.replace(/[^A-Za-z0-9_.\-/]/g, '_').replace(/^[^A-Za-z0-9.]+/, '');
    if (!clean) clean = 'node';
    let name = clean;
    for (let n = 1; this.taken.has(name); n++) name = `${clean}_${n}`;
    this.taken.add(name);
    return name;
  }

  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, base: string = op): string {
    const name = this.uniqueName(base);
    this.nodes.push({ name, op, input: inputs, attr: attrs });
    return name;
  }

  constant(data: ConstData, base = 'Const'): string {
    const name = this.uniqueName(base);
    const dtype = tfDtype(data.dtype, `Constant ${name}`);
    this.nodes.push({
      name,
      op: 'Const',
      input: [],
      attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: shapeProto(data.shape) } } },
    });
    this.weights.push({ name, data });
    return name;
  }

  intConstant(values: number[], shape: number[] = [values.length], base = 'Const'): string {
    return this.constant({ values: Int32Array.from(values), shape, dtype: 'int32' }, base);
  }

  placeholder(base: string, shape: number[], dtype: tf.DataType): string {
    const name = this.uniqueName(base);
    this.nodes.push({
      name,
      op: 'Placeholder',
      input: [],
      attr: { dtype: attr.dtype(dtype, `Input '${base}'`), shape: attr.shape(shape) },
    });
    return name;
  }

  graph(): GraphDef {
    return { node: this.nodes, versions: {} };
  }
}

/** How a node's i-th output is named as another node's input. */
export function outputName(node: string, i: number): string {
  return i === 0 ? node : `${node}:${i}`;
}
