// An eager trace has the example's batch size baked into it (a reshape to [2, 64], a slice of
// 2 rows). The export traces modelFn twice, with 2 and with 3 examples, and compares: what is
// equal does not depend on the batch; a reshape or slice whose size follows the batch gets -1
// there; anything else that differs cannot be served at another batch size, and is reported
// with the kernel and the likely cause.
import type { KernelTrace, TensorMeta, TensorRef, TracedConst, TracedKernel, AttrMap } from './trace';
import { neededKernels } from './trace';

export interface ProbeOutput {
  key: string;
  ref: TensorRef;
  meta: TensorMeta;
}

/** One tracing run of servingInputFn's features through modelFn at a known batch size. */
export interface Probe {
  batch: number;
  trace: KernelTrace;
  inputs: Record<string, TensorMeta>;
  outputs: ProbeOutput[];
}

export interface ExportGraph {
  kernels: TracedKernel[];
  /** Indices of the kernels the outputs depend on, the only ones exported. */
  needed: Set<number>;
  consts: TracedConst[];
  inputs: Array<{ key: string; shape: number[]; dtype: TensorMeta['dtype'] }>;
  outputs: Array<{ key: string; ref: TensorRef; shape: number[]; dtype: TensorMeta['dtype'] }>;
}

const BATCH_HINT =
  'The export leaves the batch size open, so modelFn must not build shapes from it: use -1 for the batch axis ' +
  '(tf.reshape(x, [-1, ...])), or derive such tensors with tf ops from the inputs (tf.zerosLike, tf.onesLike).';

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a as object).filter((k) => (a as AttrMap)[k] !== undefined);
    const kb = Object.keys(b as object).filter((k) => (b as AttrMap)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => same((a as AttrMap)[k], (b as AttrMap)[k]));
  }
  return false;
}

function constsEqual(a: TracedConst, b: TracedConst): boolean {
  if (a.variable || b.variable) return a.variable === b.variable;
  if (a.dtype !== b.dtype || !same(a.shape, b.shape) || a.values.length !== b.values.length) return false;
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i];
    const y = b.values[i];
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return false;
  }
  return true;
}

function describeKernel(k: TracedKernel, i: number): string {
  return `kernel '${k.kernelName}' (#${i} of the PREDICT computation)`;
}

class BatchProbeComparison {
  constructor(
    private readonly a: Probe,
    private readonly b: Probe,
  ) {}

  refsMatch(ra: TensorRef | undefined, rb: TensorRef | undefined, where: string): void {
    if (!ra || !rb) {
      if (ra !== rb) throw new Error(`${where} has an input with ${this.a.batch} examples but not with ${this.b.batch}. ${BATCH_HINT}`);
      return;
    }
    const differ = (): never => {
      throw new Error(
        `${where} reads different tensors with ${this.a.batch} and ${this.b.batch} examples; modelFn's computation depends on the batch size. ${BATCH_HINT}`,
      );
    };
    if (ra.kind !== rb.kind) differ();
    if (ra.kind === 'input' && rb.kind === 'input' && ra.key !== rb.key) differ();
    if (ra.kind === 'node' && rb.kind === 'node' && (ra.node !== rb.node || ra.output !== rb.output)) differ();
    if (ra.kind === 'const' && rb.kind === 'const') {
      const ca = this.a.trace.consts[ra.index];
      const cb = this.b.trace.consts[rb.index];
      if (constsEqual(ca, cb)) return;
      if (!same(ca.shape, cb.shape)) {
        throw new Error(
          `${where} reads a constant whose shape follows the batch size ([${ca.shape}] with ${this.a.batch} examples, [${cb.shape}] with ${this.b.batch}): ` +
            `modelFn makes a tensor from the batch size (e.g. tf.zeros([x.shape[0], ...])). ${BATCH_HINT}`,
        );
      }
      throw new Error(
        `${where} reads a constant whose values differ between two runs of modelFn: either modelFn reads tensor values back into ` +
          `JavaScript (dataSync/arraySync/data) and makes a new tensor from them, or it draws random numbers (tf.random*, dropout with ` +
          `training on) in PREDICT mode. An exported graph cannot replay either; keep PREDICT deterministic and in tf ops.`,
      );
    }
  }

  /** Attributes of kernel i with the batch axis left open, or an error saying why it cannot be. */
  generalizeAttrs(i: number): AttrMap {
    const ka = this.a.trace.kernels[i];
    const kb = this.b.trace.kernels[i];
    if (same(ka.attrs, kb.attrs)) return ka.attrs;
    const where = describeKernel(ka, i);
    if (ka.kernelName === 'Reshape') {
      const oa = ka.outputs[0].shape;
      const ob = kb.outputs[0].shape;
      const diff = oa.map((d, j) => (d !== ob[j] ? j : -1)).filter((j) => j >= 0);
      if (oa.length === ob.length && diff.length === 1) {
        return { ...ka.attrs, shape: oa.map((d, j) => (j === diff[0] ? -1 : d)) };
      }
    }
    if (ka.kernelName === 'Slice') {
      const general = this.generalizeSlice(ka, kb);
      if (general) return general;
    }
    const key = Object.keys({ ...ka.attrs, ...kb.attrs }).find((k) => !same(ka.attrs[k], kb.attrs[k])) as string;
    throw new Error(
      `${where} has attribute ${key} = ${JSON.stringify(ka.attrs[key])} with ${this.a.batch} examples but ${JSON.stringify(kb.attrs[key])} with ${this.b.batch}. ${BATCH_HINT}`,
    );
  }

  /** A slice whose size runs to the end of an axis in both runs gets size -1 there. */
  private generalizeSlice(ka: TracedKernel, kb: TracedKernel): AttrMap | undefined {
    const rank = ka.inputs[0].meta?.shape.length ?? 0;
    const vec = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : Array(rank).fill(v as number));
    const [beginA, beginB, sizeA, sizeB] = [vec(ka.attrs.begin), vec(kb.attrs.begin), vec(ka.attrs.size), vec(kb.attrs.size)];
    if (!same(beginA, beginB)) return undefined;
    const inA = ka.inputs[0].meta?.shape ?? [];
    const inB = kb.inputs[0].meta?.shape ?? [];
    const size: number[] = [];
    for (let j = 0; j < rank; j++) {
      if (sizeA[j] === sizeB[j]) size.push(sizeA[j]);
      else if (sizeA[j] === inA[j] - beginA[j] && sizeB[j] === inB[j] - beginB[j]) size.push(-1);
      else return undefined;
    }
    return { ...ka.attrs, begin: beginA, size };
  }

  compare(): ExportGraph {
    const { a, b } = this;
    const keysA = a.outputs.map((o) => o.key);
    const keysB = b.outputs.map((o) => o.key);
    if (!same(keysA, keysB)) {
      throw new Error(
        `modelFn returned predictions [${keysA.join(', ')}] for ${a.batch} examples but [${keysB.join(', ')}] for ${b.batch}; return the same keys every time.`,
      );
    }
    const ka = a.trace.kernels;
    const kb = b.trace.kernels;
    const firstDiff = ka.findIndex((k, i) => kb[i]?.kernelName !== k.kernelName);
    if (firstDiff >= 0 || ka.length !== kb.length) {
      const i = firstDiff >= 0 ? firstDiff : Math.min(ka.length, kb.length);
      throw new Error(
        `modelFn ran different kernels for ${a.batch} and ${b.batch} examples (kernel #${i}: '${ka[i]?.kernelName ?? 'none'}' vs '${kb[i]?.kernelName ?? 'none'}'): ` +
          `its PREDICT computation depends on the batch size, so one exported graph cannot serve every batch. ${BATCH_HINT}`,
      );
    }
    const needed = neededKernels(
      ka,
      a.outputs.map((o) => o.ref),
    );
    const kernels = ka.map((k, i) => {
      if (!needed.has(i)) return k;
      const where = describeKernel(k, i);
      k.inputs.forEach((inp, j) => this.refsMatch(inp.ref, kb[i].inputs[j]?.ref, `${where}, input '${inp.name}'`));
      return { ...k, attrs: this.generalizeAttrs(i) };
    });
    const outputs = a.outputs.map((oa, i) => {
      const ob = b.outputs[i];
      this.refsMatch(oa.ref, ob.ref, `Prediction '${oa.key}'`);
      const batchFirst =
        oa.meta.shape[0] === a.batch && ob.meta.shape[0] === b.batch && same(oa.meta.shape.slice(1), ob.meta.shape.slice(1));
      if (!batchFirst) {
        throw new Error(
          `Prediction '${oa.key}' has shape [${oa.meta.shape}] for ${a.batch} examples and [${ob.meta.shape}] for ${b.batch}; ` +
            `every prediction needs the batch axis first (one row per example).`,
        );
      }
      return { key: oa.key, ref: oa.ref, shape: [-1, ...oa.meta.shape.slice(1)], dtype: oa.meta.dtype };
    });
    const inputs = Object.entries(a.inputs).map(([key, m]) => ({ key, shape: [-1, ...m.shape.slice(1)], dtype: m.dtype }));
    return { kernels, needed, consts: a.trace.consts, inputs, outputs };
  }
}

export function generalizeBatch(a: Probe, b: Probe): ExportGraph {
  return new BatchProbeComparison(a, b).compare();
}
