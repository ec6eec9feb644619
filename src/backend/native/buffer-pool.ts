// Recycles the Float32Arrays that the native kernels write their outputs into. A training step
// allocates the same few megabyte-sized buffers every time; fresh ones cost page faults, zeroing
// and garbage collections (V8 frees array buffers only at GC), which at batch 64 took longer
// than the convolutions. A buffer comes back to the pool only when it is certainly unused:
//  - it was allocated here (user arrays handed to tf.tensor are never recycled);
//  - no tensor data entry refers to it any more (kernels such as Slice hand out views of their
//    input, so entries are counted per ArrayBuffer, not per data id);
//  - nobody outside the backend has seen it (dataSync()/data() return the backend's own array,
//    so a read marks the buffer as escaped and it is left to the garbage collector).

/** Arrays below this size are cheap for V8 to allocate; pooling them buys nothing. */
const MIN_POOLED_ELEMENTS = 1024;

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  /** Buffers allocated here and not escaped -> the full-length array over them. */
  private readonly owned = new WeakMap<ArrayBufferLike, Float32Array>();
  /** Live data entries per owned buffer. */
  private readonly refs = new Map<ArrayBufferLike, number>();
  private pooledBytes = 0;
  hits = 0;
  misses = 0;

  /** Free buffers kept at most (a training step of the article's CNN at batch 64 needs ~60 MB). */
  constructor(private readonly maxPooledBytes = 256 * 1024 * 1024) {}

  /** A Float32Array of exactly n elements with arbitrary contents. */
  take(n: number): Float32Array {
    if (n < MIN_POOLED_ELEMENTS) return new Float32Array(n);
    const list = this.free.get(n);
    const a = list?.pop();
    if (list && a) {
      this.hits++;
      this.pooledBytes -= a.byteLength;
      this.owned.set(a.buffer, a);
      // Most recently used sizes go last: eviction starts from the front.
      this.free.delete(n);
      if (list.length) this.free.set(n, list);
      return a;
    }
    this.misses++;
    const fresh = new Float32Array(n);
    this.owned.set(fresh.buffer, fresh);
    return fresh;
  }

  /** A data entry now refers to these values. */
  retain(values: unknown): void {
    const buf = ownedBuffer(values);
    if (buf && this.owned.has(buf)) this.refs.set(buf, (this.refs.get(buf) ?? 0) + 1);
  }

  /** A data entry that referred to these values was deleted. */
  release(values: unknown): void {
    const buf = ownedBuffer(values);
    if (!buf) return;
    const n = this.refs.get(buf);
    if (n === undefined) return;
    if (n > 1) {
      this.refs.set(buf, n - 1);
      return;
    }
    this.refs.delete(buf);
    const full = this.owned.get(buf);
    if (!full) return; // escaped meanwhile
    this.owned.delete(buf);
    this.pool(full);
  }

  /** Keeps a free buffer, evicting the least recently used sizes beyond the byte budget. */
  private pool(a: Float32Array): void {
    if (a.byteLength > this.maxPooledBytes) return;
    while (this.pooledBytes + a.byteLength > this.maxPooledBytes) {
      const [n, list] = this.free.entries().next().value as [number, Float32Array[]];
      const dropped = list.pop()!;
      this.pooledBytes -= dropped.byteLength;
      if (!list.length) this.free.delete(n);
    }
    const list = this.free.get(a.length) ?? [];
    list.push(a);
    this.free.set(a.length, list);
    this.pooledBytes += a.byteLength;
  }

  /** A buffer from take() that no data entry refers to (a kernel's scratch) goes back now. */
  recycle(values: Float32Array): void {
    this.retain(values);
    this.release(values);
  }

  /** Someone outside the backend holds these values now: never recycle them. */
  escape(values: unknown): void {
    const buf = ownedBuffer(values);
    if (buf) this.owned.delete(buf);
  }

  /** Drops every pooled buffer (for the garbage collector). */
  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }

  stats(): { pooledBytes: number; hits: number; misses: number } {
    return { pooledBytes: this.pooledBytes, hits: this.hits, misses: this.misses };
  }
}

function ownedBuffer(values: unknown): ArrayBufferLike | undefined {
  return values instanceof Float32Array ? values.buffer : undefined;
}
