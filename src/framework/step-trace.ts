// A training step recorded at the engine's level and replayed without modelFn, the tape or the
// engine's per-kernel bookkeeping: what tf.estimator gets from building its graph once, and
// what CUDA graphs give PyTorch. Recording sees every kernel the step runs at top level (not
// the ones a kernel runs inside itself), every tensor it makes from values, and every variable
// it assigns; inputs are tied to where they came from (a kernel's output, a constant, a
// variable, the batch, a tensor held from before the step). A step that reads a value back
// cannot be replayed, and the recorder says why.
import * as tf from '@tensorflow/tfjs';

type DataId = object;

/** Where a kernel's input comes from: a slot of the step (a kernel output or a constant), a
 *  variable as it was when the step began, or one of the batch's tensors. */
export type Ref =
  | { kind: 'slot'; slot: number }
  | { kind: 'variable'; index: number }
  | { kind: 'input'; index: number }
  /** A tensor made before the step and still held (a constant defined in another cell). */
  | { kind: 'held'; index: number };

interface TensorMeta {
  shape: number[];
  dtype: tf.DataType;
}

interface InputUse extends TensorMeta {
  name: string;
  /** null: the op passed null or undefined for this input (`missing` says which). */
  ref: Ref | null;
  missing?: null | undefined;
}

interface TracedKernel {
  kernelName: string;
  inputs: InputUse[];
  /** Kernels such as Pack and Concat take their inputs as an array, not by name. */
  inputsAreArray: boolean;
  attrs: tf.NamedAttrMap | undefined;
  /** The engine's gradient depth when it ran (a backend may choose differently with a tape on). */
  gradientDepth: number;
  outputs: number[];
  outMeta: TensorMeta[];
}

interface TracedConstant extends TensorMeta {
  slot: number;
  values: tf.TypedArray;
}

/** A check of a tensor's values (labels in range) that a replay runs on each new batch. */
export type ValueCheck = (values: tf.TypedArray) => void;

/** What a step computes in JavaScript from a tensor's values (a metric's batch counts). */
export type ValueRead<T> = (values: tf.TypedArray) => T;

interface TracedRead extends TensorMeta {
  ref: Ref;
  /** Runs before this kernel, as when recorded (a batch's labels are still on the host then). */
  before: number;
  read: ValueRead<unknown>;
}

export interface StepTrace {
  kernels: TracedKernel[];
  /** The tensors from before the step that it reads (Ref kind 'held'), by reference. */
  held: tf.Tensor[];
  /** Reads of values the step makes (checks, metrics), run again by each replay. */
  reads: TracedRead[];
  constants: TracedConstant[];
  /** The last value each assigned variable got. */
  assigns: Array<{ index: number; ref: Ref }>;
  /** What the step returns (loss, predictions), by position; null where it returned no tensor. */
  outputs: Array<Ref | null>;
  inputs: TensorMeta[];
  slotCount: number;
}

interface EngineInternals {
  state: { kernelDepth: number; gradientDepth: number; profiling: boolean };
  backend: tf.KernelBackend;
  backendName: string;
  runKernelFunc(params: KernelParams): tf.Tensor | tf.Tensor[];
  makeTensor(values: unknown, shape: number[], dtype: tf.DataType, backend?: tf.KernelBackend): tf.Tensor;
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: tf.KernelBackend): tf.Tensor;
  readSync(dataId: DataId): unknown;
  read(dataId: DataId): Promise<unknown>;
}

interface KernelParams {
  kernelName?: string;
  inputs: Record<string, tf.Tensor | null | undefined>;
  attrs?: tf.NamedAttrMap;
}

function engineInternals(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

type Patchable = 'runKernelFunc' | 'makeTensor' | 'readSync' | 'read';

let recording: StepRecorder | undefined;

/**
 * Runs check on t's values (it throws on bad ones). Where a step is being recorded, the check is
 * recorded too, and a replay runs it on each batch before any variable changes: a check that
 * reads values is not a reason to call modelFn every step.
 */
export function checkValues(t: tf.Tensor, check: ValueCheck): void {
  readValues(t, check);
}

/**
 * read(t's values), where the result depends on nothing else (a metric's counts for the batch).
 * Where a step is being recorded, the read is recorded too, and a replay computes it again from
 * the new batch's values and returns it among its reads (StepReplay.run).
 */
export function readValues<T>(t: tf.Tensor, read: ValueRead<T>): T {
  if (recording) return recording.addRead(t, read);
  return read(t.dataSync() as tf.TypedArray);
}

/** Records one step; start() before modelFn, stop() after the train op. Not re-entrant. */
export class StepRecorder {
  private readonly kernels: TracedKernel[] = [];
  private readonly constants: TracedConstant[] = [];
  private readonly reads: TracedRead[] = [];
  /** What each read returned when recorded, in order (see readResults). */
  private readonly results: unknown[] = [];
  private readonly assigns = new Map<number, Ref>();
  private readonly slotOf = new Map<DataId, number>();
  private readonly outside = new Map<DataId, Ref>();
  private readonly variableIndex = new Map<tf.Variable, number>();
  private readonly held: tf.Tensor[] = [];
  private slotCount = 0;
  private failure: string | undefined;
  private paused = 0;
  private customGradDepth = 0;
  private restore: Array<() => void> = [];

  constructor(
    private readonly variables: readonly tf.Variable[],
    private readonly inputs: readonly tf.Tensor[],
  ) {}

  start(): void {
    const e = engineInternals();
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- readValues reaches the recorder through it
    recording = this;
    this.variables.forEach((v, index) => {
      this.variableIndex.set(v, index);
      this.outside.set(v.dataId, { kind: 'variable', index });
    });
    this.inputs.forEach((t, index) => {
      if (!this.outside.has(t.dataId)) this.outside.set(t.dataId, { kind: 'input', index });
    });
    const rec = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the patched methods run with the engine as `this`
    // A tf.customGrad function (tf.fused.matMul is one) is no kernel: the kernels it runs, one
    // engine level down, are recorded instead.
    const topLevel = (): boolean => e.state.kernelDepth === rec.customGradDepth && rec.paused === 0;

    this.patch(e, 'runKernelFunc', (orig) => (params: KernelParams) => {
      if (!topLevel()) return orig(params);
      if (params.kernelName === undefined) {
        rec.customGradDepth += 1;
        try {
          return orig(params);
        } finally {
          rec.customGradDepth -= 1;
        }
      }
      const inputs: InputUse[] = [];
      for (const name of Object.keys(params.inputs)) {
        const t = params.inputs[name];
        inputs.push(
          t == null
            ? { name, ref: null, missing: t, shape: [], dtype: 'float32' }
            : { name, ref: rec.resolve(t.dataId, t), shape: t.shape.slice(), dtype: t.dtype },
        );
      }
      const gradientDepth = e.state.gradientDepth;
      const out = orig(params) as tf.Tensor | tf.Tensor[];
      const outs = Array.isArray(out) ? out : [out];
      rec.kernels.push({
        kernelName: params.kernelName,
        inputs,
        inputsAreArray: Array.isArray(params.inputs),
        attrs: params.attrs === undefined ? undefined : { ...params.attrs },
        gradientDepth,
        outputs: outs.map((t) => rec.newSlot(t.dataId)),
        outMeta: outs.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype })),
      });
      return out;
    });
    this.patch(e, 'makeTensor', (orig) => (values: unknown, shape: number[], dtype: tf.DataType, backend?: tf.KernelBackend) => {
      const t = orig(values, shape, dtype, backend) as tf.Tensor;
      if (!topLevel()) return t;
      if (!ArrayBuffer.isView(values) || t.dtype === 'string')
        rec.fail(`it makes a ${t.dtype} tensor from values that are not a typed array`);
      else {
        const copy = (values as tf.TypedArray).slice();
        rec.constants.push({ slot: rec.newSlot(t.dataId), values: copy, shape: t.shape.slice(), dtype: t.dtype });
      }
      return t;
    });
    const noReads = (orig: (...args: unknown[]) => unknown) => (dataId: DataId) => {
      if (topLevel()) rec.fail('it reads a value back (dataSync, data, array)');
      return orig(dataId);
    };
    this.patch(e, 'readSync', noReads);
    this.patch(e, 'read', noReads);

    const proto = tf.Variable.prototype;
    const assign = Object.getOwnPropertyDescriptor(proto, 'assign');
    const origAssign = proto.assign;
    proto.assign = function (this: tf.Variable, value: tf.Tensor): void {
      if (topLevel()) {
        const index = rec.variableIndex.get(this);
        if (index === undefined) rec.fail(`it assigns variable ${this.name}, made during the step`);
        else {
          const ref = rec.resolve(value.dataId);
          if (ref) rec.assigns.set(index, ref);
        }
      }
      origAssign.call(this, value);
    };
    this.restore.push(() => {
      if (assign) Object.defineProperty(proto, 'assign', assign);
    });
  }

  /** Runs read on t's values now, and on each replay (see readValues). */
  addRead<T>(t: tf.Tensor, read: ValueRead<T>): T {
    const ref = this.resolve(t.dataId, t);
    const result = this.unrecorded(() => read(t.dataSync() as tf.TypedArray));
    if (ref) this.reads.push({ ref, before: this.kernels.length, shape: t.shape.slice(), dtype: t.dtype, read });
    this.results.push(result);
    return result;
  }

  /** The recorded reads' results so far, in order (a replay's reads come in the same order). */
  readResults(): readonly unknown[] {
    return this.results;
  }

  /** Runs fn unrecorded (the global step's increment, which a replay does itself). */
  unrecorded<T>(fn: () => T): T {
    this.paused += 1;
    try {
      return fn();
    } finally {
      this.paused -= 1;
    }
  }

  /** Marks the step as not replayable (the first reason is kept). */
  fail(reason: string): void {
    this.failure ??= reason;
  }

  /** Ends recording; the trace, or why the step cannot be replayed. outputs: what the step returns. */
  stop(outputs: ReadonlyArray<tf.Tensor | undefined>): StepTrace | string {
    this.unpatch();
    const outs = outputs.map((t) => (t === undefined ? null : this.resolve(t.dataId, t)));
    if (this.failure !== undefined) return this.failure;
    return {
      kernels: this.kernels,
      held: this.held,
      reads: this.reads,
      constants: this.constants,
      assigns: [...this.assigns].map(([index, ref]) => ({ index, ref })).sort((a, b) => a.index - b.index),
      outputs: outs,
      inputs: this.inputs.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype })),
      slotCount: this.slotCount,
    };
  }

  /** Restores the engine (also after a failed step). Idempotent. */
  unpatch(): void {
    if (recording === this) recording = undefined;
    for (const r of this.restore.reverse()) r();
    this.restore = [];
  }

  private patch(e: EngineInternals, key: Patchable, wrap: (orig: (...args: unknown[]) => unknown) => unknown): void {
    const own = Object.getOwnPropertyDescriptor(e, key);
    const orig = (e[key] as (...args: unknown[]) => unknown).bind(e);
    (e as unknown as Record<string, unknown>)[key] = wrap(orig);
    this.restore.push(() => {
      if (own) Object.defineProperty(e, key, own);
      else delete (e as unknown as Record<string, unknown>)[key];
    });
  }

  private newSlot(dataId: DataId): number {
    const slot = this.slotCount++;
    this.slotOf.set(dataId, slot);
    return slot;
  }

  /** Where dataId comes from; `t`, a kernel's input tensor, may be one held from before the step. */
  private resolve(dataId: DataId, t?: tf.Tensor): Ref | null {
    const slot = this.slotOf.get(dataId);
    if (slot !== undefined) return { kind: 'slot', slot };
    const ref = this.outside.get(dataId);
    if (ref) return ref;
    if (t && !(t instanceof tf.Variable) && !t.isDisposed) {
      // Tensors do not change: a replay reads this one again, as long as it is not disposed.
      const held: Ref = { kind: 'held', index: this.held.length };
      this.held.push(t);
      this.outside.set(dataId, held);
      return held;
    }
    this.fail('it uses a tensor made before the step that is neither a variable nor the batch (a variable outside the store)');
    return null;
  }
}

/** Whether two recorded steps ran the same kernels on the same shapes, constants and sources. */
export function sameTrace(a: StepTrace, b: StepTrace): boolean {
  // Reads compare by where and when they read (their functions are new closures each step);
  // held tensors by identity.
  const readRefs = (t: StepTrace) => t.reads.map(({ ref, before, shape, dtype }) => ({ ref, before, shape, dtype }));
  return (
    a.held.length === b.held.length &&
    a.held.every((t, i) => t === b.held[i]) &&
    deepEqual(readRefs(a), readRefs(b)) &&
    a.slotCount === b.slotCount &&
    deepEqual(a.inputs, b.inputs) &&
    deepEqual(a.outputs, b.outputs) &&
    deepEqual(a.assigns, b.assigns) &&
    deepEqual(a.constants, b.constants) &&
    deepEqual(a.kernels, b.kernels)
  );
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return Number.isNaN(a) && Number.isNaN(b);
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * A recorded step made runnable: its constants made once, each kernel called straight on the
 * backend, each intermediate freed after its last use. Variables are assigned at the end, so a
 * step that fails leaves them as they were.
 */
export class StepReplay {
  private readonly constants: Array<{ slot: number; tensor: tf.Tensor }>;
  private readonly constantSlots: Set<number>;
  /** Slots to free after kernel i. */
  private readonly freeAfter: number[][];
  readonly kernelCount: number;

  constructor(private readonly trace: StepTrace) {
    this.constants = trace.constants.map((c) => ({ slot: c.slot, tensor: tf.keep(tf.tensor(c.values, c.shape, c.dtype)) }));
    this.constantSlots = new Set(trace.constants.map((c) => c.slot));
    const lastUse = new Array<number>(trace.slotCount).fill(-1);
    trace.kernels.forEach((k, i) => {
      for (const u of k.inputs) if (u.ref?.kind === 'slot') lastUse[u.ref.slot] = i;
      for (const s of k.outputs) if (lastUse[s] < i) lastUse[s] = i;
    });
    const kept = (ref: Ref | null) => ref?.kind === 'slot' && (lastUse[ref.slot] = Infinity);
    for (const r of trace.outputs) kept(r);
    for (const a of trace.assigns) kept(a.ref);
    for (const c of trace.reads) {
      if (c.ref.kind !== 'slot') continue;
      if (c.before >= trace.kernels.length) kept(c.ref);
      else lastUse[c.ref.slot] = Math.max(lastUse[c.ref.slot], c.before);
    }
    for (const c of trace.constants) lastUse[c.slot] = Infinity;
    this.freeAfter = trace.kernels.map(() => []);
    lastUse.forEach((i, slot) => {
      if (Number.isFinite(i) && i >= 0) this.freeAfter[i].push(slot);
    });
    this.kernelCount = trace.kernels.length;
  }

  /** Why this batch cannot run the recorded step, or undefined when it can. */
  mismatch(inputs: readonly tf.Tensor[]): string | undefined {
    const gone = this.trace.held.findIndex((t) => t.isDisposed);
    if (gone >= 0) return `a tensor it reads from before the step (shape [${this.trace.held[gone].shape}]) was disposed`;
    const want = this.trace.inputs;
    if (inputs.length !== want.length) return `the batch has ${inputs.length} tensors, the recorded step ${want.length}`;
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i].dtype !== want[i].dtype || !tf.util.arraysEqual(inputs[i].shape, want[i].shape)) {
        return `batch tensor ${i} is ${inputs[i].dtype} [${inputs[i].shape}], the recorded step's ${want[i].dtype} [${want[i].shape}]`;
      }
    }
    return undefined;
  }

  /** Runs the step on this batch; returns its outputs as tensors of the current scope, and what
   *  its recorded reads (readValues) returned this time, in order. */
  run(
    variables: readonly tf.Variable[],
    inputs: readonly tf.Tensor[],
    /** Told of each read of a value the step computed, right before it (webgpu's step graph). */
    onRead?: (read: number, dataId: DataId) => void,
  ): { outputs: Array<tf.Tensor | undefined>; reads: unknown[] } {
    const e = engineInternals();
    const backend = e.backend;
    const backendName = e.backendName;
    const live: Array<tf.TensorInfo | undefined> = new Array<tf.TensorInfo | undefined>(this.trace.slotCount);
    for (const c of this.constants) live[c.slot] = c.tensor;
    const start = variables.map((v) => v.dataId);
    const info = (u: TensorMeta & { ref: Ref | null }): tf.TensorInfo | null => {
      const ref = u.ref;
      if (ref === null) return null;
      let dataId: DataId | undefined;
      if (ref.kind === 'slot') dataId = live[ref.slot]?.dataId;
      else if (ref.kind === 'variable') dataId = start[ref.index];
      else if (ref.kind === 'input') dataId = inputs[ref.index].dataId;
      else dataId = this.trace.held[ref.index].dataId;
      if (dataId === undefined) throw new Error(`Step replay: slot ${(ref as { slot: number }).slot} used after it was freed (a bug).`);
      return { dataId, shape: u.shape, dtype: u.dtype };
    };
    const depth = e.state.gradientDepth;
    const reads: unknown[] = [];
    let done = false;
    e.state.kernelDepth++;
    try {
      const kernels = this.trace.kernels;
      const traced = this.trace.reads;
      const runReads = (before: number): void => {
        for (; reads.length < traced.length && traced[reads.length].before <= before;) {
          const r = traced[reads.length];
          const dataId = info(r)!.dataId;
          if (onRead && r.ref.kind === 'slot') onRead(reads.length, dataId);
          reads.push(r.read(backend.readSync(dataId) as tf.TypedArray));
        }
      };
      for (let i = 0; i < kernels.length; i++) {
        runReads(i);
        const k = kernels[i];
        const args: Record<string, tf.TensorInfo | null | undefined> | Array<tf.TensorInfo | null | undefined> = k.inputsAreArray ? [] : {};
        for (const u of k.inputs) (args as Record<string, tf.TensorInfo | null | undefined>)[u.name] = u.ref === null ? u.missing : info(u);
        e.state.gradientDepth = k.gradientDepth;
        const kernel = tf.getKernel(k.kernelName, backendName);
        if (!kernel) throw new Error(`Step replay: kernel ${k.kernelName} is no longer registered for ${backendName}.`);
        const out = kernel.kernelFunc({ inputs: args as tf.NamedTensorInfoMap, attrs: k.attrs ?? {}, backend });
        const outs = Array.isArray(out) ? out : [out];
        if (outs.length !== k.outputs.length)
          throw new Error(`Step replay: ${k.kernelName} gave ${outs.length} outputs, ${k.outputs.length} when recorded.`);
        for (let j = 0; j < outs.length; j++) live[k.outputs[j]] = outs[j];
        for (const s of this.freeAfter[i]) {
          backend.disposeData(live[s]!.dataId);
          live[s] = undefined;
        }
      }
      runReads(kernels.length);
      done = true;
    } finally {
      e.state.gradientDepth = depth;
      e.state.kernelDepth--;
      if (!done) this.release(live, backend);
    }
    // Outputs and new variable values become tensors of the step's scope, one per slot.
    const tensors = new Map<number, tf.Tensor>();
    const tensorOf = (ref: Ref): tf.Tensor => {
      if (ref.kind === 'variable') return variables[ref.index];
      if (ref.kind === 'input') return inputs[ref.index];
      if (ref.kind === 'held') return this.trace.held[ref.index];
      let t = tensors.get(ref.slot);
      if (!t) {
        t = this.isConstant(ref.slot) ? (live[ref.slot] as tf.Tensor) : e.makeTensorFromTensorInfo(live[ref.slot]!, backend);
        tensors.set(ref.slot, t);
      }
      return t;
    };
    const outputs = this.trace.outputs.map((r) => (r === null ? undefined : tensorOf(r)));
    for (const a of this.trace.assigns) variables[a.index].assign(tensorOf(a.ref));
    // Slots kept for an output or an assign that the trace no longer needs (none, normally).
    for (let s = 0; s < live.length; s++) if (live[s] && !tensors.has(s) && !this.isConstant(s)) backend.disposeData(live[s]!.dataId);
    return { outputs, reads };
  }

  /**
   * Whether something else may run the step's kernels in one go (runOutside): its reads all read
   * the batch (they run first), or it assigns no variable (reads of its values then run after
   * the kernels, which nothing can tell apart: an evaluation's metrics).
   */
  get runsInOneGo(): boolean {
    const late = this.trace.assigns.length === 0;
    return this.trace.reads.every((r) => r.ref.kind === 'input' || (late && r.ref.kind === 'slot'));
  }

  /** The variables the step assigns, by index. */
  get assignedVariables(): Set<number> {
    return new Set(this.trace.assigns.map((a) => a.index));
  }

  /** Tensors the step reads that outlive it unchanged: its constants and the held tensors. */
  keptTensors(): tf.Tensor[] {
    return [...this.constants.map((c) => c.tensor), ...this.trace.held];
  }

  /** Of run()'s outputs, those a kernel of the step computed (undefined for the rest). */
  computedOutputs(outputs: ReadonlyArray<tf.Tensor | undefined>): Array<tf.Tensor | undefined> {
    return this.trace.outputs.map((r, i) => (r?.kind === 'slot' && !this.isConstant(r.slot) ? outputs[i] : undefined));
  }

  /**
   * The step on this batch where something else runs its kernels in one go (webgpu's step graph;
   * runsInOneGo): the recorded reads of the batch run first, then `kernels`, which returns the
   * computed outputs by position (as computedOutputs lists them) and, by read, copies of the
   * values the other reads read (freed here once read). Other outputs are as run() gives them.
   */
  runOutside(
    variables: readonly tf.Variable[],
    inputs: readonly tf.Tensor[],
    kernels: () => { outputs: Array<tf.TensorInfo | undefined>; reads: Array<tf.TensorInfo | undefined> },
  ): { outputs: Array<tf.Tensor | undefined>; reads: unknown[] } {
    const e = engineInternals();
    const reads: unknown[] = new Array<unknown>(this.trace.reads.length);
    this.trace.reads.forEach((r, i) => {
      if (r.ref.kind === 'input') reads[i] = r.read(e.backend.readSync(inputs[r.ref.index].dataId) as tf.TypedArray);
    });
    const { outputs: computed, reads: copies } = kernels();
    // Tensors of the step's scope first: a read that throws (a metric's check) leaves nothing behind.
    const outputs = this.trace.outputs.map((r, i) => {
      const made = computed[i];
      if (made) return e.makeTensorFromTensorInfo(made, e.backend);
      if (r === null) return undefined;
      if (r.kind === 'variable') return variables[r.index];
      if (r.kind === 'input') return inputs[r.index];
      if (r.kind === 'held') return this.trace.held[r.index];
      return this.constants.find((c) => c.slot === r.slot)!.tensor;
    });
    try {
      this.trace.reads.forEach((r, i) => {
        if (r.ref.kind === 'input') return;
        const copy = copies[i];
        if (!copy) throw new Error(`Step replay: read ${i} of the step's values came back from nowhere (a bug).`);
        reads[i] = r.read(e.backend.readSync(copy.dataId) as tf.TypedArray);
      });
    } finally {
      for (const c of copies) if (c) e.backend.disposeData(c.dataId);
    }
    return { outputs, reads };
  }

  dispose(): void {
    for (const c of this.constants) c.tensor.dispose();
  }

  private isConstant(slot: number): boolean {
    return this.constantSlots.has(slot);
  }

  private release(live: Array<tf.TensorInfo | undefined>, backend: tf.KernelBackend): void {
    for (let s = 0; s < live.length; s++) if (live[s] && !this.isConstant(s)) backend.disposeData(live[s]!.dataId);
  }
}
