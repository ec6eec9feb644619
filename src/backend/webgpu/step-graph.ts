// A replayed step's GPU commands, recorded once and encoded again at each later step without
// going through tfjs-webgpu: as a CUDA graph is captured once and launched after. Replaying the
// step's kernels through tfjs still costs, per dispatch, a shader key, a uniform buffer filled
// and written, and a new bind group (~50 µs of CPU on SwiftShader's host, 195 µs measured per op
// on the H200 machine). Here the pipelines, bind groups and uniforms are made once, and a step
// is: the batch written into buffers of the graph's own, one compute pass of setPipeline /
// setBindGroup / dispatch, the outputs copied into fresh tfjs tensors, one submit.
//
// Buffers: the step's intermediates live in buffers the graph holds for its life (tfjs hands a
// tensor's buffer to other work once the tensor is freed); values whose uses do not overlap
// share one (buffer-plan.ts), so the graph holds about the step's peak of live values. It takes
// them from tfjs-webgpu's pool, where the recorded step left buffers of these very sizes, and
// gives them back when dropped: the graph adds little to the GPU memory tfjs already holds, and
// counts in tf.memory(). Uniforms are the graph's own. Variables are updated in place: each step
// first copies a variable's value into a buffer of the graph (its value "as the step began"),
// then the step's update writes the variable's own buffer, so its tensor stays the same one.
// Anything that breaks that (a variable assigned between steps, a tensor shared with the
// variable, a held tensor disposed) is noticed before the step and it runs through tfjs again.
import * as tf from '@tensorflow/tfjs';
import { WEBGPU_BACKEND } from './index';
import { BufferLifetime, planBuffers } from './buffer-plan';

// The few WebGPU shapes used here, declared locally (see setup.ts).
interface GpuBuffer {
  readonly size: number;
  readonly usage: number;
  destroy(): void;
}
interface BufferBinding {
  buffer: GpuBuffer;
  offset?: number;
  size?: number;
}
interface BindGroupEntry {
  binding: number;
  resource: BufferBinding | object;
}
interface BindGroupDescriptor {
  layout: object;
  entries: BindGroupEntry[];
}
interface ComputePass {
  setPipeline(p: object): void;
  setBindGroup(index: number, group: object): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface CommandEncoder {
  beginComputePass(d?: object): ComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
}
interface GpuQueue {
  writeBuffer(b: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
}
interface GpuDevice {
  createBuffer(d: { size: number; usage: number }): GpuBuffer;
  createBindGroup(d: BindGroupDescriptor): object;
  createCommandEncoder(): CommandEncoder & { finish(): object };
  pushErrorScope(filter: 'validation' | 'out-of-memory'): void;
  popErrorScope(): Promise<{ message: string } | null>;
}
interface TensorData {
  resource?: unknown;
  values?: tf.TypedArray | null;
  refCount: number;
  dtype: tf.DataType;
  shape: number[];
}
/** What this module needs of tfjs-webgpu's backend (internal members, present in 4.x). */
interface WebGPUBackendInternals {
  device: GpuDevice;
  queue: GpuQueue;
  tensorMap: { get(dataId: object): TensorData | undefined };
  commandEncoder: CommandEncoder | null;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  bufferManager: {
    acquireBuffer(size: number, usage: number): GpuBuffer;
    /** reuse false: destroyed, not pooled. */
    releaseBuffer(buffer: GpuBuffer, reuse?: boolean): void;
  };
}

const CPU_FORWARD = 'WEBGPU_CPU_FORWARD';

const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;

/** One dispatch as recorded: its pipeline, its bind group's layout and entries, its size. */
interface RecordedDispatch {
  pipeline: object;
  layout: object;
  entries: Array<{ binding: number; buffer: GpuBuffer; offset?: number; size?: number; uniform?: Uint8Array }>;
  workgroups: [number, number, number];
}

/** A Dawn method as patched: called with the arguments its wrapper was given. */
type AnyMethod = (this: unknown, ...a: unknown[]) => unknown;

/** A read of one of the step's values (a metric's), after `afterDispatch` dispatches. */
interface RecordedRead {
  read: number;
  afterDispatch: number;
  buffer: GpuBuffer;
  shape: number[];
  dtype: tf.DataType;
}

/** The prototypes patched while a step is recorded. */
interface DawnPrototypes {
  device: Record<string, unknown>;
  queue: Record<string, unknown>;
  pass: Record<string, unknown>;
  encoder: Record<string, unknown>;
  buffer: Record<string, unknown>;
}

function dawnPrototypes(): DawnPrototypes | undefined {
  const g = globalThis as unknown as Record<string, { prototype?: Record<string, unknown> } | undefined>;
  const device = g.GPUDevice?.prototype;
  const queue = g.GPUQueue?.prototype;
  const pass = g.GPUComputePassEncoder?.prototype;
  const encoder = g.GPUCommandEncoder?.prototype;
  const buffer = g.GPUBuffer?.prototype;
  return device && queue && pass && encoder && buffer ? { device, queue, pass, encoder, buffer } : undefined;
}

function internals(backend: unknown): WebGPUBackendInternals | undefined {
  const b = backend as Partial<WebGPUBackendInternals>;
  const ok =
    b.device !== undefined &&
    b.queue !== undefined &&
    b.tensorMap !== undefined &&
    typeof b.submitQueue === 'function' &&
    typeof b.ensureCommandEncoderReady === 'function' &&
    typeof b.uploadToGPU === 'function' &&
    typeof b.makeTensorInfo === 'function' &&
    typeof b.endComputePassEncoder === 'function' &&
    typeof b.bufferManager?.acquireBuffer === 'function' &&
    typeof b.bufferManager?.releaseBuffer === 'function';
  return ok ? (b as WebGPUBackendInternals) : undefined;
}

/** Whether replayed steps on this backend should become step graphs. */
export function stepGraphsWanted(): boolean {
  return tf.getBackend() === WEBGPU_BACKEND && process.env.TFJS_ESTIMATOR_WEBGPU_GRAPH !== '0' && dawnPrototypes() !== undefined;
}

/** A copy of `size` bytes (a recorded buffer's; `to` may be larger) from one buffer into another. */
interface BufferCopy {
  from: GpuBuffer;
  to: GpuBuffer;
  size: number;
}

/** A value of the step copied into a new tensor after the step (an output) or where it is read. */
interface CopiedValue {
  from: GpuBuffer;
  size: number;
  shape: number[];
  dtype: tf.DataType;
}

/** The tensors a recorded step was tied to, after it ran (see StepGraphRecording.finish). */
export interface StepGraphRoles {
  /** The variables in the order the step's trace numbers them (as they are after the step). */
  variables: readonly tf.Tensor[];
  /** Indices of the variables the step assigns. */
  assigned: ReadonlySet<number>;
  /** The batch's tensors. */
  inputs: readonly tf.Tensor[];
  /** Tensors the step reads that outlive it unchanged (its constants, tensors from other cells). */
  kept: readonly tf.Tensor[];
  /** The step's outputs that a kernel of the step computed (loss, predictions); undefined for the rest. */
  outputs: ReadonlyArray<tf.Tensor | undefined>;
}

/**
 * Records the GPU commands of one step run through tfjs. Start it right before the step and
 * call finish() right after (stop() on failure): the Dawn prototypes are patched in between.
 */
export class StepGraphRecording {
  private readonly dispatches: RecordedDispatch[] = [];
  private readonly bindGroups = new Map<object, { layout: object; entries: RecordedDispatch['entries'] }>();
  private readonly uniformWrites = new Map<GpuBuffer, Uint8Array>();
  /** Buffers written by a copy or a write that is not a uniform (uploads of tensors' values). */
  private readonly written = new Set<GpuBuffer>();
  private readonly startBuffers: Array<GpuBuffer | undefined>;
  private readonly reads: RecordedRead[] = [];
  private failure: string | undefined;
  private restore: Array<() => void> = [];

  private constructor(
    private readonly backend: WebGPUBackendInternals,
    variables: readonly tf.Tensor[],
  ) {
    // A variable whose value is still on the host would be uploaded inside the step, and its
    // buffer taken for one of the step's own.
    this.startBuffers = variables.map((v) => {
      backend.uploadToGPU(v.dataId);
      return bufferOf(backend, v);
    });
    // tfjs-webgpu runs a kernel on the CPU when its inputs are small and still on the host (a
    // batch's labels): no GPU command would record it. While recording, every kernel dispatches.
    const env = tf.env();
    const forward = env.getBool(CPU_FORWARD);
    env.set(CPU_FORWARD, false);
    this.restore.push(() => env.set(CPU_FORWARD, forward));
    this.install(dawnPrototypes()!);
  }

  /** A recording of the next step, or undefined where step graphs are off or impossible. */
  static start(variables: readonly tf.Tensor[]): StepGraphRecording | undefined {
    const backend = internals(tf.backend());
    if (!stepGraphsWanted() || !backend) return undefined;
    return new StepGraphRecording(backend, variables);
  }

  /** Notes that the step reads one of its values here (read: its number among the step's reads). */
  markRead(read: number, dataId: object): void {
    const data = this.backend.tensorMap.get(dataId);
    const buffer = data && bufferOf(this.backend, { dataId, shape: data.shape, dtype: data.dtype });
    if (!data || !buffer) return this.fail('the step reads a value that is not on the GPU');
    this.reads.push({ read, afterDispatch: this.dispatches.length, buffer, shape: data.shape.slice(), dtype: data.dtype });
  }

  /** Removes the patches (idempotent). */
  stop(): void {
    for (const r of this.restore.reverse()) r();
    this.restore = [];
  }

  /** The graph of the recorded step, or why it cannot be one. */
  finish(roles: StepGraphRoles): StepGraph | string {
    this.stop();
    if (this.failure) return this.failure;
    if (this.dispatches.length === 0) return 'the step ran no GPU dispatch';
    try {
      return new StepGraph(this.backend, this.dispatches, this.reads, this.startBuffers, this.written, roles);
    } catch (e) {
      return (e as Error).message;
    }
  }

  private fail(why: string): void {
    this.failure ??= why;
  }

  private install(p: DawnPrototypes): void {
    // Patched on the prototypes: tfjs holds the device, queue and encoders, not us. The wrappers
    // keep Dawn's `this`, so they reach the recording through these.
    const fail = (why: string) => this.fail(why);
    const { bindGroups, uniformWrites, written, dispatches } = this;
    this.patch(
      p.device,
      'createBindGroup',
      (orig) =>
        function (this: unknown, d: BindGroupDescriptor) {
          const group = orig.call(this, d) as object;
          const entries: RecordedDispatch['entries'] = [];
          for (const e of d.entries) {
            const r = e.resource as Partial<BufferBinding>;
            if (!r || !r.buffer) {
              fail('a dispatch binds a texture or sampler');
              continue;
            }
            const uniform = r.buffer.usage & USAGE.UNIFORM ? uniformWrites.get(r.buffer) : undefined;
            if (r.buffer.usage & USAGE.UNIFORM && !uniform) fail('a uniform buffer was bound without being written');
            entries.push({ binding: e.binding, buffer: r.buffer, offset: r.offset, size: r.size, uniform });
          }
          bindGroups.set(group, { layout: d.layout, entries });
          return group;
        },
    );
    this.patch(
      p.queue,
      'writeBuffer',
      (orig) =>
        function (this: unknown, b: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number) {
          if (b.usage & USAGE.UNIFORM) {
            // tfjs fills a uniform buffer whole, from an ArrayBuffer, right before binding it.
            if (offset !== 0 || !(data instanceof ArrayBuffer)) fail('a uniform buffer was written in part');
            else uniformWrites.set(b, new Uint8Array(data.slice(dataOffset ?? 0, (dataOffset ?? 0) + (size ?? data.byteLength))));
          } else written.add(b);
          return orig.call(this, b, offset, data, dataOffset, size);
        },
    );
    let pipeline: object | undefined;
    let group: object | undefined;
    this.patch(
      p.pass,
      'setPipeline',
      (orig) =>
        function (this: unknown, pl: object) {
          pipeline = pl;
          return orig.call(this, pl);
        },
    );
    this.patch(
      p.pass,
      'setBindGroup',
      (orig) =>
        function (this: unknown, index: number, g: object, ...rest: unknown[]) {
          if (index !== 0 || rest.length > 0) fail('a dispatch uses a second bind group or dynamic offsets');
          group = g;
          return orig.call(this, index, g, ...rest);
        },
    );
    this.patch(
      p.pass,
      'dispatchWorkgroups',
      (orig) =>
        function (this: unknown, x: number, y = 1, z = 1) {
          const bg = group && bindGroups.get(group);
          if (!pipeline || !bg) fail('a dispatch whose bind group was made before the step');
          else dispatches.push({ pipeline, layout: bg.layout, entries: bg.entries, workgroups: [x, y, z] });
          return orig.call(this, x, y, z);
        },
    );
    this.patch(
      p.pass,
      'dispatchWorkgroupsIndirect',
      (orig) =>
        function (this: unknown, ...a: unknown[]) {
          fail('an indirect dispatch');
          return orig.apply(this, a);
        },
    );
    this.patch(
      p.encoder,
      'copyBufferToBuffer',
      (orig) =>
        function (this: unknown, src: GpuBuffer, so: number, dst: GpuBuffer, ...rest: unknown[]) {
          // A copy into a read-back buffer is a read (a hook's, between kernels); any other is an
          // upload of a tensor's values, allowed only into the step's inputs (checked in StepGraph).
          if (!(dst.usage & USAGE.MAP_READ)) written.add(dst);
          return orig.call(this, src, so, dst, ...rest);
        },
    );
    this.patch(
      p.buffer,
      'getMappedRange',
      (orig) =>
        function (this: GpuBuffer, ...a: unknown[]) {
          // A tensor's buffer made mapped and filled from the host, without a copy (an upload).
          if (this.usage & USAGE.STORAGE) written.add(this);
          return orig.apply(this, a);
        },
    );
    for (const method of ['clearBuffer', 'copyBufferToTexture', 'copyTextureToBuffer', 'copyTextureToTexture']) {
      this.patch(
        p.encoder,
        method,
        (orig) =>
          function (this: unknown, ...a: unknown[]) {
            fail(`the step calls ${method}`);
            return orig.apply(this, a);
          },
      );
    }
  }

  private patch(proto: Record<string, unknown>, key: string, wrap: (orig: AnyMethod) => unknown): void {
    const orig = proto[key];
    if (typeof orig !== 'function') return;
    proto[key] = wrap(orig as AnyMethod);
    this.restore.push(() => (proto[key] = orig));
  }
}

function bufferOf(backend: WebGPUBackendInternals, t: tf.TensorInfo): GpuBuffer | undefined {
  const r = backend.tensorMap.get(t.dataId)?.resource as Partial<GpuBuffer> | undefined;
  return r && typeof r.usage === 'number' ? (r as GpuBuffer) : undefined;
}

const STORAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

/** A recorded step, encoded again at each run without tfjs (see the file's header). */
export class StepGraph {
  readonly dispatchCount: number;
  /** Steps run from this graph so far. */
  stepsRun = 0;
  private checked: Promise<void> = Promise.resolve();
  private refusal: string | undefined;
  /** Buffers taken from tfjs-webgpu's pool (the step's values), and made by the graph (uniforms). */
  private readonly pooled: GpuBuffer[] = [];
  private readonly owned: GpuBuffer[] = [];
  /** Bytes of the GPU buffers the graph made (intermediates shared by lifetime, uniforms). */
  bytes = 0;
  /** What the step's values would take with a buffer each (for the report: what sharing saves). */
  unsharedBytes = 0;
  private readonly groups: Array<{ pipeline: object; group: object; workgroups: [number, number, number] }> = [];
  /** Per assigned variable: its buffer, and the graph's buffer its value is copied to first. */
  private readonly copyIn: Array<{ index: number; from: GpuBuffer; to: GpuBuffer; size: number }> = [];
  /** Variables the step binds (read or written in place), with the dataId they must still have. */
  private readonly bound: Array<{ index: number; dataId: object; buffer: GpuBuffer; assigned: boolean }> = [];
  // Sizes are the recorded buffers': a shared buffer may be larger.
  private readonly inputs: Array<{ index: number; to: GpuBuffer; size: number }> = [];
  private readonly outputs: Array<{ index: number; from: GpuBuffer; size: number; shape: number[]; dtype: tf.DataType } | undefined>;
  /** The step's reads of its own values: copied out after their dispatch, read after the submit. */
  private readonly reads: Array<Omit<RecordedRead, 'buffer'> & { from: GpuBuffer; size: number }> = [];
  private readonly kept: Array<{ tensor: tf.Tensor; buffer: GpuBuffer }> = [];

  constructor(
    private readonly backend: WebGPUBackendInternals,
    recorded: RecordedDispatch[],
    reads: readonly RecordedRead[],
    startBuffers: ReadonlyArray<GpuBuffer | undefined>,
    written: ReadonlySet<GpuBuffer>,
    roles: StepGraphRoles,
  ) {
    const b = backend;
    // tfjs pools a freed tensor's buffer only once the commands using it are submitted: the
    // recorded step's are, so its buffers wait in the pool for the graph to take them.
    if (b.commandEncoder) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
    const pooled = (size: number): GpuBuffer => {
      const buf = b.bufferManager.acquireBuffer(size, STORAGE);
      this.pooled.push(buf);
      this.bytes += size;
      return buf;
    };
    const own = (size: number, usage: number): GpuBuffer => {
      const buf = b.device.createBuffer({ size, usage });
      this.owned.push(buf);
      this.bytes += size;
      return buf;
    };
    /** What each buffer of the recorded step is at a later step. */
    const map = new Map<GpuBuffer, GpuBuffer>();
    const identity = (buf: GpuBuffer | undefined): void => void (buf && map.set(buf, buf));
    /** Each recorded buffer's first and last dispatch (uniforms aside). */
    const uses = new Map<GpuBuffer, BufferLifetime>();
    recorded.forEach((d, i) => {
      for (const e of d.entries) {
        if (e.uniform) continue;
        const u = uses.get(e.buffer);
        if (u) u.last = i;
        else uses.set(e.buffer, { size: e.buffer.size, first: i, last: i });
      }
    });
    /** Recorded buffers that become buffers of the graph's own, shared where their uses allow. */
    const planned = new Map<GpuBuffer, BufferLifetime>();
    const plan = (buf: GpuBuffer, from: number, to: number): void => {
      const u = planned.get(buf) ?? { ...(uses.get(buf) ?? { size: buf.size, first: from, last: to }) };
      u.first = Math.min(u.first, from);
      u.last = Math.max(u.last, to);
      planned.set(buf, u);
    };
    const end = recorded.length;
    // Dawn reports a buffer it could not make, or a bind group or command it refuses, later and
    // apart from the call; in these scopes the refusal is this graph's (see verdict()).
    b.device.pushErrorScope('out-of-memory');
    b.device.pushErrorScope('validation');
    try {
      for (const t of roles.kept) {
        const buf = bufferOf(b, t);
        if (buf) this.kept.push({ tensor: t, buffer: buf });
        identity(buf);
      }
      const copyIn: Array<{ index: number; from: GpuBuffer; start: GpuBuffer }> = [];
      roles.variables.forEach((v, index) => {
        const now = bufferOf(b, v);
        const start = startBuffers[index];
        // Only the variables the step reads or writes (the global step changes between steps).
        if (!now || !(uses.has(now) || (start && uses.has(start)))) return;
        identity(now);
        const assigned = roles.assigned.has(index);
        this.bound.push({ index, dataId: v.dataId, buffer: now, assigned });
        if (assigned && start && start !== now) {
          // Its value as the step began: copied in before the first dispatch.
          plan(start, -1, -1);
          copyIn.push({ index, from: now, start });
        }
      });
      const inputs: Array<{ index: number; buf: GpuBuffer }> = [];
      roles.inputs.forEach((t, index) => {
        const buf = bufferOf(b, t);
        if (!buf || map.has(buf) || planned.has(buf)) return;
        plan(buf, -1, -1);
        inputs.push({ index, buf });
      });
      const outputs = roles.outputs.map((t, index) => {
        if (!t) return undefined;
        const buf = bufferOf(b, t);
        if (!buf) throw new Error('an output of the step was computed on the CPU');
        if (!map.has(buf)) plan(buf, end, end);
        return { index, buf, shape: t.shape, dtype: t.dtype };
      });
      for (const w of written) {
        if (!map.has(w) && !planned.has(w))
          throw new Error('the step copies into a buffer that is none of its inputs, variables or constants');
      }
      for (const r of reads) {
        if (map.has(r.buffer)) continue;
        if (!uses.has(r.buffer) && !planned.has(r.buffer)) throw new Error('the step reads a value no dispatch of it wrote');
        // Copied out right before dispatch `afterDispatch`: kept until then.
        plan(r.buffer, r.afterDispatch, r.afterDispatch);
      }
      // Anything else a dispatch binds is an intermediate of the step.
      for (const [buf, u] of uses) if (!map.has(buf)) plan(buf, u.first, u.last);
      const recordedBufs = [...planned.keys()];
      const lifetimes = [...planned.values()];
      const { slot, sizes } = planBuffers(lifetimes);
      const shared = sizes.map(pooled);
      const valueBytes = lifetimes.reduce((n, u) => n + u.size, 0);
      const sharedBytes = this.bytes;
      recordedBufs.forEach((buf, i) => map.set(buf, shared[slot[i]]));

      for (const c of copyIn) this.copyIn.push({ index: c.index, from: c.from, to: map.get(c.start)!, size: c.start.size });
      for (const i of inputs) this.inputs.push({ index: i.index, to: map.get(i.buf)!, size: i.buf.size });
      this.outputs = outputs.map((o) => o && { index: o.index, from: map.get(o.buf)!, size: o.buf.size, shape: o.shape, dtype: o.dtype });
      for (const r of reads) this.reads.push({ ...r, from: map.get(r.buffer)!, size: r.buffer.size });

      const uniforms = new Map<string, GpuBuffer>();
      for (const d of recorded) {
        const entries = d.entries.map((e) => {
          let buffer: GpuBuffer;
          if (e.uniform) {
            // Uniforms hold shapes and attributes: the same at every step, so written once.
            const key = `${e.buffer.size}:${Buffer.from(e.uniform).toString('base64')}`;
            buffer = uniforms.get(key) ?? own(e.buffer.size, USAGE.UNIFORM | USAGE.COPY_DST);
            if (!uniforms.has(key)) {
              uniforms.set(key, buffer);
              b.queue.writeBuffer(buffer, 0, e.uniform.buffer, e.uniform.byteOffset, e.uniform.byteLength);
            }
          } else buffer = map.get(e.buffer)!;
          // Bound as recorded: a shared buffer may be larger than the value, and the whole of it
          // past the device's binding-size limit.
          const resource: BufferBinding = { buffer, size: e.size ?? e.buffer.size - (e.offset ?? 0) };
          if (e.offset !== undefined) resource.offset = e.offset;
          return { binding: e.binding, resource };
        });
        this.groups.push({
          pipeline: d.pipeline,
          group: b.device.createBindGroup({ layout: d.layout, entries }),
          workgroups: d.workgroups,
        });
      }
      // The uniforms' bytes count on both sides.
      this.unsharedBytes = valueBytes + this.bytes - sharedBytes;
      // The step's commands encoded once, never submitted: what Dawn would refuse in them
      // (a binding, a dispatch's size, a copy) is refused now, in the scopes.
      const check = b.device.createCommandEncoder();
      this.encode(check, [], () => undefined);
      check.finish();
    } catch (e) {
      this.dispose();
      throw e;
    } finally {
      const refused = Promise.all([b.device.popErrorScope(), b.device.popErrorScope()]);
      this.checked = refused.then(
        ([validation, memory]) => {
          // Dawn's messages run over lines ("... - While calling [Device].CreateBuffer(...)").
          const said = (e: { message: string }) => e.message.replace(/\s*\n\s*(- )?/g, ' ').trim();
          this.refusal = memory
            ? `the GPU has not enough memory for the step graph's ${(this.bytes / 2 ** 20).toFixed(1)} MiB of buffers (${said(memory)})`
            : validation
              ? `Dawn refused the step's recorded commands (${said(validation)})`
              : '';
        },
        (e: Error) => void (this.refusal = `Dawn's error scope failed (${e.message})`),
      );
    }
    this.dispatchCount = this.groups.length;
  }

  /**
   * Whether Dawn took the graph's buffers, bind groups and commands (an empty string), or why
   * not. Awaited before the graph's first step: its buffers are made and its commands encoded
   * once when it is built, and Dawn tells of a refusal only asynchronously.
   */
  async verdict(): Promise<string> {
    await this.checked;
    return this.refusal!;
  }

  /** Why this step cannot run from the graph (what it was recorded with has changed), or undefined. */
  mismatch(variables: readonly tf.Tensor[]): string | undefined {
    for (const v of this.bound) {
      const t = variables[v.index];
      const data = t && this.backend.tensorMap.get(t.dataId);
      if (!t || t.dataId !== v.dataId || !data || data.resource !== v.buffer) return `variable ${v.index} was assigned outside the step`;
      // An update in place would change every tensor that shares the variable's data.
      if (v.assigned && data.refCount !== 1) return `variable ${v.index}'s value is shared with another tensor`;
    }
    for (const k of this.kept) {
      if (k.tensor.isDisposed || this.backend.tensorMap.get(k.tensor.dataId)?.resource !== k.buffer)
        return 'a tensor it reads from before the step changed';
    }
    return undefined;
  }

  /**
   * Runs the step on this batch (mismatch() said yes): returns the outputs' tensor infos, by
   * position, each in a new buffer of tfjs's (undefined where the step computed no output), and
   * by read number the values the step reads, copied where it read them (the caller frees them).
   */
  run(inputs: readonly tf.Tensor[]): { outputs: Array<tf.TensorInfo | undefined>; reads: Array<tf.TensorInfo | undefined> } {
    const b = this.backend;
    this.stepsRun += 1;
    const copies: BufferCopy[] = [];
    for (const { index, to, size } of this.inputs) {
      const data = b.tensorMap.get(inputs[index].dataId)!;
      const values = data.values;
      if (!data.resource && values && (values instanceof Float32Array || values instanceof Int32Array) && values.byteLength === size) {
        b.queue.writeBuffer(to, 0, values.buffer, values.byteOffset, values.byteLength);
        continue;
      }
      b.uploadToGPU(inputs[index].dataId);
      copies.push({ from: bufferOf(b, inputs[index])!, to, size });
    }
    // Encoded after whatever tfjs has queued (the batch's own kernels, an upload above), in the
    // same command buffer, submitted by tfjs so that it frees what waited on the submit.
    b.ensureCommandEncoderReady();
    b.endComputePassEncoder();
    const encoder = b.commandEncoder!;
    /** A new tensor of tfjs's with a copy of a value, encoded at this point of the step. */
    const copyOut = ({ from, size, shape, dtype }: CopiedValue): tf.TensorInfo => {
      const info = b.makeTensorInfo(shape, dtype);
      b.uploadToGPU(info.dataId);
      const to = bufferOf(b, info)!;
      encoder.copyBufferToBuffer(from, 0, to, 0, Math.min(size, to.size));
      return info;
    };
    const reads = this.encode(encoder, copies, copyOut);
    const outputs = this.outputs.map((o) => (o ? copyOut(o) : undefined));
    b.submitQueue();
    return { outputs, reads };
  }

  /**
   * Encodes the step: the batch's copies and the variables' copy-in, then its dispatches in one
   * compute pass, split only where the step reads one of its values (a copy goes between
   * passes). Returns, by read number, what copyOut made of each read.
   */
  private encode<T>(encoder: CommandEncoder, copies: readonly BufferCopy[], copyOut: (v: CopiedValue) => T): T[] {
    for (const c of [...copies, ...this.copyIn]) encoder.copyBufferToBuffer(c.from, 0, c.to, 0, Math.min(c.from.size, c.size));
    const reads: T[] = [];
    let next = 0;
    for (let at = 0; at <= this.groups.length;) {
      for (; next < this.reads.length && this.reads[next].afterDispatch <= at; next++) {
        const r = this.reads[next];
        reads[r.read] = copyOut(r);
      }
      const end = next < this.reads.length ? this.reads[next].afterDispatch : this.groups.length;
      if (end > at) {
        const pass = encoder.beginComputePass();
        for (; at < end; at++) {
          const g = this.groups[at];
          pass.setPipeline(g.pipeline);
          pass.setBindGroup(0, g.group);
          pass.dispatchWorkgroups(g.workgroups[0], g.workgroups[1], g.workgroups[2]);
        }
        pass.end();
      }
      if (at === this.groups.length && next >= this.reads.length) break;
    }
    return reads;
  }

  /**
   * Gives the step's buffers back to tfjs's pool and frees the uniforms. Buffers of a graph Dawn
   * refused, or whose check is not in, may be invalid (one it could not make): those are
   * destroyed rather than pooled, where tfjs would hand them to a tensor.
   */
  dispose(): void {
    const valid = this.refusal === '';
    for (const buf of this.pooled) this.backend.bufferManager.releaseBuffer(buf, valid);
    for (const buf of this.owned) buf.destroy();
    this.pooled.length = 0;
    this.owned.length = 0;
  }
}
