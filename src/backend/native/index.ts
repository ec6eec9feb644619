// The `native` backend: tfjs's cpu backend with the hot kernels replaced by oneDNN primitives,
// and the output buffers of those kernels recycled (see buffer-pool.ts).
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon, NativeAddon } from './addon';
import { nativeKernels } from './kernels';
import { BufferPool } from './buffer-pool';
import { registerCustomGradients } from '../custom-kernels';

export const NATIVE_BACKEND = 'native';

type DataId = object;
type BackendValues = Parameters<MathBackendCPU['write']>[0];

export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool();

  constructor() {
    super();
    // The cpu backend's "install tfjs-node" banner is wrong advice here: this is the fast path.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A float32 tensor of this shape over a recycled buffer; the kernel fills every element. */
  output(shape: number[]): { info: tf.TensorInfo; values: Float32Array } {
    const values = this.pool.take(shape.reduce((a, c) => a * c, 1));
    return { info: this.makeTensorInfo(shape, 'float32', values), values };
  }

  override write(values: BackendValues, shape: number[], dtype: tf.DataType): DataId {
    const id = super.write(values, shape, dtype);
    this.pool.retain(values);
    return id;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    const old = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    super.move(dataId, values, shape, dtype, refCount);
    if (old !== undefined) this.pool.release(old);
    this.pool.retain(values);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.pool.release(values);
    return released;
  }

  override readSync(dataId: DataId): BackendValues {
    if (this.data.has(dataId)) this.pool.escape(this.data.get(dataId).values);
    return super.readSync(dataId);
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override dispose(): void {
    this.pool.clear();
    super.dispose();
  }
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
  for (const kc of nativeKernels(loaded.addon, cpuKernel)) {
    if (tf.getKernel(kc.kernelName, NATIVE_BACKEND)) tf.unregisterKernel(kc.kernelName, NATIVE_BACKEND);
    tf.registerKernel(kc);
  }
  registerCustomGradients();
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 3);
  registered = loaded;
  return registered;
}
