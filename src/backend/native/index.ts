// The `native` backend: tfjs's cpu backend with the hot kernels replaced by oneDNN primitives,
// and the output buffers of those kernels recycled (see buffer-pool.ts).
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon, NativeAddon } from './addon';
import { nativeKernels } from './kernels';
import { BufferPool } from './buffer-pool';
import { cpuFacts, defaultThreads } from './threads';
import { registerCustomGradients } from '../custom-kernels';

export const NATIVE_BACKEND = 'native';

type DataId = object;
type BackendValues = Parameters<MathBackendCPU['write']>[0];
type Entry = ReturnType<MathBackendCPU['data']['get']>;

/**
 * Outputs computed only when first read, so that the kernel reading them can fuse their pass
 * into its own (and they are never written when nothing else reads them). The layers' chain
 * batch norm -> relu -> max pooling and its gradient run so:
 *  - conv: in inference (no gradient tape), a convolution of at most 4 input channels (a
 *    first layer); a batch norm after it keeps it as its `from`, and a max pooling at the end
 *    of that chain runs all four one image at a time (addon.convBnReluMaxPool);
 *  - affine: batch norm's y = src * scale + shift per channel (src: `from`'s output, computed
 *    first when `from` is given and has not run);
 *  - affineRelu: relu(src * scale + shift), a relu after a pending affine; a max pooling
 *    reading it pools the values computed on the fly, so neither output is ever written;
 *  - poolScatter: the max-pool gradient, dy scattered to each window's argmax (workspace);
 *  - poolReluGrad: the relu gradient of a poolScatter where the relu was an affineRelu: the
 *    batch norm gradient reading it works from the pooled dy and the workspace alone;
 *  - pooledChainDx: that batch norm gradient's dx (x's gradient); the filter gradient of a
 *    first-layer convolution before it computes it image by image and never writes it;
 *  - reluGrad: relu's gradient, dy where relu's output > 0; the batch norm gradient after it
 *    masks dy on the fly.
 * Anyone else reading such an output computes it first (see the constructor).
 */
export interface PendingConv {
  kind: 'conv';
  shape: Int32Array;
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
  activation: number;
  alpha: number;
  /** Set once y holds the output (computed through either tensor that reads it). */
  done?: boolean;
  y: Float32Array;
}

export type Pending =
  | PendingConv
  | {
      kind: 'affine' | 'affineRelu';
      rows: number;
      channels: number;
      src: Float32Array;
      /** The pending convolution whose output src is. */
      from?: PendingConv;
      scale: Float32Array;
      shift: Float32Array;
      y: Float32Array;
    }
  | { kind: 'poolScatter'; shape: Int32Array; dy: Float32Array; ws: Float32Array; y: Float32Array }
  | {
      kind: 'poolReluGrad';
      shape: Int32Array;
      dy: Float32Array;
      ws: Float32Array;
      src: Float32Array;
      scale: Float32Array;
      shift: Float32Array;
      y: Float32Array;
    }
  | {
      kind: 'pooledChainDx';
      shape: Int32Array;
      x: Float32Array;
      dy: Float32Array;
      ws: Float32Array;
      scale: Float32Array;
      shift: Float32Array;
      mean: Float32Array;
      /** k1 | k0 | k3 of dx = k1 dy + k0 - (x - mean) k3 (addon.bnPooledGradStats). */
      k: Float32Array;
      /** Gets dx summed per channel when computed. */
      sums: Float32Array;
      y: Float32Array;
    }
  | { kind: 'reluGrad'; dy: Float32Array; reluOut: Float32Array; y: Float32Array };
type PendingInput = Pending extends infer P ? (P extends Pending ? Omit<P, 'y'> : never) : never;

/** The input arrays a pending output reads (kept from recycling until it is computed or dropped). */
function sources(p: Pending): Float32Array[] {
  switch (p.kind) {
    case 'conv':
      return p.bias ? [p.x, p.w, p.bias] : [p.x, p.w];
    case 'affine':
    case 'affineRelu':
      return p.from ? [p.src, ...sources(p.from)] : [p.src];
    case 'poolScatter':
      return [p.dy, p.ws];
    case 'poolReluGrad':
      return [p.dy, p.ws, p.src];
    case 'pooledChainDx':
      return [p.x, p.dy, p.ws];
    case 'reluGrad':
      return [p.dy, p.reluOut];
  }
}

/** Computes a pending output into its y. */
function compute(addon: NativeAddon, p: Pending): void {
  switch (p.kind) {
    case 'conv':
      if (!p.done) addon.conv2dForward(p.shape, p.x, p.w, p.bias, p.activation, p.alpha, p.y);
      p.done = true;
      return;
    case 'affine':
    case 'affineRelu':
      if (p.from) compute(addon, p.from);
      return addon.affine(p.rows, p.channels, p.src, p.scale, p.shift, p.kind === 'affineRelu', p.y);
    case 'poolScatter':
      return addon.maxPoolScatter(p.shape, p.dy, p.ws, p.y);
    case 'poolReluGrad':
      return addon.maxPoolScatter(p.shape, p.dy, p.ws, p.y, p.scale, p.shift);
    case 'pooledChainDx':
      return addon.bnPooledDx(p.shape, p.x, p.dy, p.ws, p.scale, p.shift, p.mean, p.k, p.y, p.sums);
    case 'reluGrad':
      return addon.reluGrad(p.dy, p.reluOut, p.y);
  }
}

export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool();
  private readonly pending = new Map<DataId, Pending>();
  private readonly rawGet: (id: DataId) => Entry;
  /** Per-channel sums of outputs that a kernel computed on the way (see channelSumsOf). */
  private readonly channelSums = new WeakMap<DataId, Float32Array>();
  /** Set by registerNativeBackend: computes a pending output in place. */
  static compute?: (p: Pending) => void;

  constructor() {
    super();
    // The cpu backend's "install tfjs-node" banner is wrong advice here: this is the fast path.
    (this as unknown as { firstUse: boolean }).firstUse = false;
    // Every kernel (ours and the cpu backend's) reads values through data.get: a pending
    // output is computed there before anyone sees it.
    const storage = this.data;
    this.rawGet = storage.get.bind(storage);
    storage.get = (id: DataId) => {
      if (this.pending.size !== 0 && this.pending.has(id)) this.materialize(id);
      return this.rawGet(id);
    };
  }

  /** A float32 tensor of this shape over a recycled buffer; the kernel fills every element. */
  output(shape: number[]): { info: tf.TensorInfo; values: Float32Array } {
    const values = this.pool.take(shape.reduce((a, c) => a * c, 1));
    return { info: this.makeTensorInfo(shape, 'float32', values), values };
  }

  /** A float32 output whose values are computed only when read (see Pending). */
  deferred(shape: number[], p: PendingInput): tf.TensorInfo {
    const o = this.output(shape);
    const full = { ...p, y: o.values } as Pending;
    for (const a of sources(full)) this.pool.retain(a); // they must outlive y's computation
    this.pending.set(o.info.dataId, full);
    return o.info;
  }

  /** The pending computation of this tensor, if it has not run yet (then the caller may fuse it). */
  pendingOf(id: DataId): Pending | undefined {
    return this.pending.size === 0 ? undefined : this.pending.get(id);
  }

  /** Computes a pending output that a kernel reads through another's `from` (see Pending). */
  computePending(p: Pending): void {
    NativeBackend.compute!(p);
  }

  /**
   * A kernel that summed its output over every axis but the last on the way records it here:
   * a Sum over those axes (the bias gradient of a convolution before a batch norm) reads it
   * instead of the tensor.
   */
  noteChannelSums(id: DataId, sums: Float32Array): void {
    this.channelSums.set(id, sums);
  }

  channelSumsOf(id: DataId): Float32Array | undefined {
    return this.channelSums.get(id);
  }

  private materialize(id: DataId): void {
    const p = this.pending.get(id)!;
    this.pending.delete(id);
    NativeBackend.compute!(p);
    if (p.kind === 'pooledChainDx') this.noteChannelSums(id, p.sums);
    for (const a of sources(p)) this.pool.release(a);
  }

  private dropPending(id: DataId): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    for (const a of sources(p)) this.pool.release(a);
  }

  override write(values: BackendValues, shape: number[], dtype: tf.DataType): DataId {
    const id = super.write(values, shape, dtype);
    this.pool.retain(values);
    return id;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.dropPending(dataId);
    this.channelSums.delete(dataId); // new values
    const old = this.data.has(dataId) ? this.rawGet(dataId).values : undefined;
    super.move(dataId, values, shape, dtype, refCount);
    if (old !== undefined) this.pool.release(old);
    this.pool.retain(values);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const entry = this.data.has(dataId) ? this.rawGet(dataId) : undefined;
    // Still referenced (a clone the tape saved for a gradient): only the count changes, as in
    // the cpu backend, which would read the entry through data.get and so compute a pending
    // output that nobody may ever read (the relu output a fused max pooling never wrote).
    if (entry && !force && entry.refCount > 1) {
      entry.refCount--;
      return false;
    }
    const values = entry?.values;
    // Going for good: its pending values are never needed.
    if (entry && (force || entry.refCount <= 1)) this.dropPending(dataId);
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.pool.release(values);
    return released;
  }

  // Reference counting only: no need to compute a pending output for it.
  override refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.rawGet(dataId).refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.rawGet(dataId).refCount++;
  }

  override decRef(dataId: DataId): void {
    if (this.data.has(dataId)) this.rawGet(dataId).refCount--;
  }

  override readSync(dataId: DataId): BackendValues {
    if (this.data.has(dataId)) this.pool.escape(this.data.get(dataId).values);
    return super.readSync(dataId);
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override dispose(): void {
    this.pending.clear();
    this.pool.clear();
    super.dispose();
  }
}

/**
 * A Float32Array of n elements for a tensor's values: from the native backend's buffer pool
 * while it is the active backend (the array goes back to the pool when the tensor made from it
 * is disposed, so a batch a step allocates nothing for V8 to collect), else a fresh one.
 */
export function tensorValuesArray(n: number): Float32Array {
  const backend = tf.engine().backend;
  return backend instanceof NativeBackend ? backend.pool.take(n) : new Float32Array(n);
}

let registered: { addon?: NativeAddon; error?: string } | undefined;

/** Registers the backend once; returns why it can't be used, if it can't. */
export function registerNativeBackend(): { addon?: NativeAddon; error?: string } {
  if (registered) return registered;
  const loaded = loadAddon();
  if (!loaded.addon) {
    registered = loaded;
    return registered;
  }
  // Every cpu kernel first, then ours on top.
  for (const kc of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kc, backendName: NATIVE_BACKEND });
  const cpuKernel = (name: string): tf.KernelFunc => {
    const kc = tf.getKernel(name, 'cpu');
    if (!kc) throw new Error(`native backend: no cpu kernel ${name} to fall back to`);
    return kc.kernelFunc;
  };
  const addon = loaded.addon;
  if (!(Number(process.env.OMP_NUM_THREADS) > 0)) addon.setThreads(defaultThreads(cpuFacts(undefined, os.availableParallelism())));
  NativeBackend.compute = (p) => compute(addon, p);
  for (const kc of nativeKernels(loaded.addon, cpuKernel)) {
    if (tf.getKernel(kc.kernelName, NATIVE_BACKEND)) tf.unregisterKernel(kc.kernelName, NATIVE_BACKEND);
    tf.registerKernel(kc);
  }
  registerCustomGradients();
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 3);
  registered = loaded;
  return registered;
}
