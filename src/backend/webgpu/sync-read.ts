// Synchronous reads (dataSync, arraySync) on the webgpu backend in Node. tfjs-backend-webgpu's
// readSync draws the buffer onto an OffscreenCanvas, which Node does not have, so every
// dataSync threw. A buffer map completes only when Dawn processes its events, which dawn.node
// does from a native callback it hands to setImmediate; we keep that callback and call it
// ourselves while waiting, so the map completes without returning to the event loop.

interface MappableBuffer {
  size: number;
  mapState: 'unmapped' | 'pending' | 'mapped';
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

interface TensorData {
  values: unknown;
  dtype: string;
  resource?: MappableBuffer | null;
}

interface WebGPUBackendLike {
  tensorMap: { get(dataId: object): TensorData };
  bufferManager: { acquireBuffer(size: number, usage: number): MappableBuffer; releaseBuffer(b: MappableBuffer): void };
  commandEncoder: { copyBufferToBuffer(src: MappableBuffer, so: number, dst: MappableBuffer, doff: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(dataId: object, values: unknown): unknown;
  readSync(dataId: object): unknown;
}

let tick: (() => void) | undefined;
let capturing = false;

/**
 * Wraps setImmediate so that the native callback dawn.node schedules while `fn` runs (its
 * event-processing tick) is kept. Call around Dawn calls that start async work.
 */
export function captureDawnTick<T>(fn: () => T): T {
  const g = globalThis as unknown as {
    setImmediate: (cb: (...a: unknown[]) => void, ...a: unknown[]) => unknown;
    __tfjsEstimatorImmediate?: boolean;
  };
  if (!g.__tfjsEstimatorImmediate) {
    const real = g.setImmediate;
    const wrapped = function (cb: (...a: unknown[]) => void, ...args: unknown[]) {
      if (capturing && typeof cb === 'function' && /\[native code\]/.test(Function.prototype.toString.call(cb))) tick = cb as () => void;
      return real(cb, ...args);
    };
    Object.assign(wrapped, real); // keeps setImmediate[util.promisify.custom]
    g.setImmediate = wrapped as typeof g.setImmediate;
    g.__tfjsEstimatorImmediate = true;
  }
  capturing = true;
  try {
    return fn();
  } finally {
    capturing = false;
  }
}

/**
 * Runs dawn.node's methods that start async work (requesting a device, mapping a buffer) under
 * captureDawnTick, so the tick is seen whoever calls them (tfjs's own backend set-up included).
 */
export function watchDawnTicks(globals: Record<string, unknown>): void {
  const wrap = (cls: unknown, method: string) => {
    const proto = (cls as { prototype?: Record<string, unknown> } | undefined)?.prototype;
    const fn = proto?.[method];
    if (!proto || typeof fn !== 'function' || (fn as { __tick?: boolean }).__tick) return;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      return captureDawnTick(() => (fn as (...a: unknown[]) => unknown).apply(this, args));
    };
    (wrapped as { __tick?: boolean }).__tick = true;
    proto[method] = wrapped;
  };
  wrap(globals.GPUAdapter, 'requestDevice');
  wrap(globals.GPUBuffer, 'mapAsync');
  wrap(globals.GPUQueue, 'onSubmittedWorkDone');
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Maps `buffer` for reading without returning to the event loop. */
function mapNow(buffer: MappableBuffer): ArrayBuffer {
  const MAP_READ = (globalThis as unknown as { GPUMapMode: { READ: number } }).GPUMapMode.READ;
  const pending = captureDawnTick(() => buffer.mapAsync(MAP_READ));
  // The promise still settles later, in the event loop; nothing is left waiting on it.
  pending.catch(() => undefined);
  let waitMs = 0.005;
  const start = Date.now();
  while (buffer.mapState === 'pending') {
    if (!tick) throw new Error('webgpu dataSync: Dawn has not scheduled its event tick; use await tensor.data() instead.');
    tick();
    if (buffer.mapState !== 'pending') break;
    if (Date.now() - start > 600_000)
      throw new Error('webgpu dataSync: the GPU did not finish within 10 minutes (device lost?); use await tensor.data().');
    // Back off so that a long GPU computation costs a few hundred ticks, not millions.
    Atomics.wait(sleeper, 0, 0, waitMs);
    waitMs = Math.min(waitMs * 2, 2);
  }
  if (buffer.mapState !== 'mapped') throw new Error('webgpu dataSync: mapping the read-back buffer failed (device lost or out of memory).');
  return buffer.getMappedRange().slice(0);
}

/**
 * Replaces WebGPUBackend.prototype.readSync with a read through a mapped staging buffer
 * (the same copy that the async read does), cached on the CPU like the async read caches it.
 */
export function patchReadSync(proto: WebGPUBackendLike, convert: (data: ArrayBuffer, dtype: string) => unknown): void {
  const original = proto.readSync;
  proto.readSync = function (this: WebGPUBackendLike, dataId: object): unknown {
    const d = this.tensorMap.get(dataId);
    if (d.values != null || d.dtype === 'string' || d.dtype === 'complex64' || !d.resource) return original.call(this, dataId);
    const src = d.resource;
    const MAP_READ = (globalThis as unknown as { GPUBufferUsage: { MAP_READ: number; COPY_DST: number } }).GPUBufferUsage;
    const staging = this.bufferManager.acquireBuffer(src.size, MAP_READ.COPY_DST | MAP_READ.MAP_READ);
    this.ensureCommandEncoderReady();
    this.endComputePassEncoder();
    this.commandEncoder.copyBufferToBuffer(src, 0, staging, 0, src.size);
    this.submitQueue();
    let data: ArrayBuffer;
    try {
      data = mapNow(staging);
    } finally {
      if (staging.mapState === 'mapped') staging.unmap();
    }
    this.bufferManager.releaseBuffer(staging);
    return this.convertAndCacheOnCPU(dataId, convert(data, d.dtype));
  };
}
