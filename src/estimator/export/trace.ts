// Records the kernels TensorFlow.js runs while modelFn computes its PREDICT outputs. Every op
// in tfjs-core reaches the backend through engine.runKernel, so wrapping it for the length of
// one call yields the dataflow graph of the eager computation: tensor ids link producers to
// consumers. A tensor no recorded kernel produced is either an input we were told about or a
// constant (a variable, or a tensor made from JS values); a constant's values are copied the
// moment a kernel reads it, because a tidy may dispose it right after.
import * as tf from '@tensorflow/tfjs';
import type { ConstData } from './graphdef';

export type TensorRef = { kind: 'input'; key: string } | { kind: 'node'; node: number; output: number } | { kind: 'const'; index: number };

export interface TensorMeta {
  shape: number[];
  dtype: tf.DataType;
}

export interface TracedConst extends ConstData {
  /** The variable it was read from (named through the VariableStore when exported). */
  variable?: tf.Variable;
}

export type AttrMap = Record<string, unknown>;

export interface TracedInput {
  name: string;
  /** Undefined for an optional input the op left out (e.g. FusedConv2D without bias). */
  ref?: TensorRef;
  meta?: TensorMeta;
}

export interface TracedKernel {
  kernelName: string;
  inputs: TracedInput[];
  /** The op passed its inputs as a list (Concat, Pack, AddN) rather than by name. */
  listInputs: boolean;
  attrs: AttrMap;
  outputs: TensorMeta[];
}

export function metaOf(t: tf.Tensor): TensorMeta {
  return { shape: [...t.shape], dtype: t.dtype };
}

function copyAttr(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copyAttr);
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, copyAttr(x)]));
}

function snapshot(t: tf.Tensor): TracedConst {
  if (t.isDisposed) throw new Error(`A constant tensor (shape [${t.shape}]) was disposed before the export could read it.`);
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
    throw new Error(
      `modelFn feeds a ${t.dtype} constant of shape [${t.shape}] to a kernel; a graph-model export holds only float32, int32 and bool tensors.`,
    );
  }
  const data = t.dataSync();
  const values =
    t.dtype === 'float32'
      ? Float32Array.from(data as Float32Array)
      : t.dtype === 'int32'
        ? Int32Array.from(data as Int32Array)
        : Uint8Array.from(data as Uint8Array);
  return { values, shape: [...t.shape], dtype: t.dtype, variable: t instanceof tf.Variable ? t : undefined };
}

/** The recording of one call: kernels in execution order and the constants they read. */
export class KernelTrace {
  readonly kernels: TracedKernel[] = [];
  readonly consts: TracedConst[] = [];
  private readonly refs = new Map<number, TensorRef>();

  /** inputs: the tensors that become the graph's placeholders, by signature key. */
  constructor(inputs: Record<string, tf.Tensor> = {}) {
    for (const [key, t] of Object.entries(inputs)) this.refs.set(t.id, { kind: 'input', key });
  }

  /** Where a tensor comes from; a tensor never seen before is a constant (read now). */
  refOf(t: tf.Tensor): TensorRef {
    const known = this.refs.get(t.id);
    if (known) return known;
    const ref: TensorRef = { kind: 'const', index: this.consts.length };
    this.consts.push(snapshot(t));
    this.refs.set(t.id, ref);
    return ref;
  }

  /**
   * From now on tensor t is the graph input `key`, also where recorded kernels already read it
   * (servingInputFn may have computed its example receivers with ops).
   */
  markInput(t: tf.Tensor, key: string): void {
    const old = this.refs.get(t.id);
    const ref: TensorRef = { kind: 'input', key };
    this.refs.set(t.id, ref);
    if (!old) return;
    for (const k of this.kernels) {
      for (const inp of k.inputs) if (inp.ref && sameRef(inp.ref, old)) inp.ref = ref;
    }
  }

  record(kernelName: string, inputs: tf.NamedTensorMap | tf.Tensor[] | undefined, attrs: unknown, outputs: tf.Tensor[]): void {
    const entries = Object.entries(inputs ?? {}) as Array<[string, unknown]>;
    const tensors = entries.filter(([, t]) => t instanceof tf.Tensor);
    if (tensors.length === 0) {
      // fill, range, linspace...: nothing flows in, so the result is a constant.
      for (const o of outputs) this.refOf(o);
      return;
    }
    const traced: TracedInput[] = entries.map(([name, t]) =>
      t instanceof tf.Tensor ? { name, ref: this.refOf(t), meta: metaOf(t) } : { name },
    );
    const node = this.kernels.length;
    this.kernels.push({
      kernelName,
      inputs: traced,
      listInputs: Array.isArray(inputs),
      attrs: (copyAttr(attrs ?? {}) ?? {}) as AttrMap,
      outputs: outputs.map(metaOf),
    });
    outputs.forEach((o, i) => this.refs.set(o.id, { kind: 'node', node, output: i }));
  }
}

function sameRef(a: TensorRef, b: TensorRef): boolean {
  if (a.kind === 'input' && b.kind === 'input') return a.key === b.key;
  if (a.kind === 'node' && b.kind === 'node') return a.node === b.node && a.output === b.output;
  if (a.kind === 'const' && b.kind === 'const') return a.index === b.index;
  return false;
}

type RunKernel = (kernelName: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap) => tf.Tensor | tf.Tensor[];
interface EngineRunKernel {
  runKernel: RunKernel;
}

let tracing = false;

/**
 * Runs fn while every top-level kernel is recorded into trace. Kernels that a kernel runs
 * internally (a backend composing its own ops) are not recorded: only what modelFn asked for.
 */
export async function traceKernels<T>(trace: KernelTrace, fn: () => T | Promise<T>): Promise<T> {
  if (tracing) throw new Error('Another export is recording kernels in this process; run exports one at a time (await each).');
  const engine = tf.engine() as unknown as EngineRunKernel;
  const ownProperty = Object.prototype.hasOwnProperty.call(engine, 'runKernel');
  const original = engine.runKernel;
  let depth = 0;
  engine.runKernel = (kernelName, inputs, attrs) => {
    if (depth > 0) return original.call(engine, kernelName, inputs, attrs);
    depth++;
    let out: tf.Tensor | tf.Tensor[];
    try {
      out = original.call(engine, kernelName, inputs, attrs);
    } finally {
      depth--;
    }
    trace.record(kernelName, inputs, attrs, Array.isArray(out) ? out : [out]);
    return out;
  };
  tracing = true;
  try {
    return await fn();
  } finally {
    tracing = false;
    if (ownProperty) engine.runKernel = original;
    else delete (engine as Partial<EngineRunKernel>).runKernel;
  }
}

/**
 * Runs the recorded kernels again on new inputs (same keys) and returns the tensors that
 * `wanted` refer to. Used to push a larger batch through servingInputFn's recorded
 * receiver-to-features computation.
 */
export function replay(trace: KernelTrace, inputs: Record<string, tf.Tensor>, wanted: TensorRef[]): tf.Tensor[] {
  const needed = neededKernels(trace.kernels, wanted);
  const produced = new Map<number, tf.Tensor[]>();
  const consts = new Map<number, tf.Tensor>();
  const resolve = (ref: TensorRef): tf.Tensor => {
    if (ref.kind === 'input') {
      const t = inputs[ref.key];
      if (!t) throw new Error(`replay: no input '${ref.key}'.`);
      return t;
    }
    if (ref.kind === 'node') return (produced.get(ref.node) as tf.Tensor[])[ref.output];
    let c = consts.get(ref.index);
    if (!c) {
      const v = trace.consts[ref.index];
      c = tf.tensor(v.values, v.shape, v.dtype);
      consts.set(ref.index, c);
    }
    return c;
  };
  const engine = tf.engine() as unknown as EngineRunKernel;
  trace.kernels.forEach((k, i) => {
    if (!needed.has(i)) return;
    const args = k.inputs.filter((x) => x.ref).map((x) => [x.name, resolve(x.ref as TensorRef)] as const);
    const namedInputs = k.listInputs ? args.map(([, t]) => t) : Object.fromEntries(args);
    const out = engine.runKernel(k.kernelName, namedInputs as tf.NamedTensorMap, k.attrs as tf.NamedAttrMap);
    produced.set(i, Array.isArray(out) ? out : [out]);
  });
  return wanted.map(resolve);
}

/** Indices of the kernels that the wanted tensors depend on. */
export function neededKernels(kernels: TracedKernel[], wanted: TensorRef[]): Set<number> {
  const needed = new Set<number>();
  const stack = wanted.filter((r): r is Extract<TensorRef, { kind: 'node' }> => r.kind === 'node').map((r) => r.node);
  while (stack.length) {
    const i = stack.pop() as number;
    if (needed.has(i)) continue;
    needed.add(i);
    for (const inp of kernels[i].inputs) if (inp.ref?.kind === 'node') stack.push(inp.ref.node);
  }
  return needed;
}
