// Which of a recorded step's buffers can share one GPU buffer: two values whose uses do not
// overlap in the step's order of dispatches. tfjs frees an intermediate when its last kernel is
// queued, so its pool holds about the step's peak of live values; a graph that gave every
// intermediate a buffer of its own held the sum of them all beside that pool.
//
// WebGPU orders the dispatches of a pass as written (the implementation puts the barriers in),
// so a buffer read for the last time by one dispatch may be written by any later one. Two values
// used by the same dispatch never share (that would bind one buffer twice with a write).

/** A value's bytes and the dispatches that use it, first to last (-1: before the first). */
export interface BufferLifetime {
  size: number;
  first: number;
  last: number;
}

export interface BufferPlan {
  /** By lifetime: the index of the shared buffer it is given. */
  slot: number[];
  /** By shared buffer: its size (that of the largest value it holds). */
  sizes: number[];
}

/**
 * Gives each lifetime a shared buffer, largest values first ("greedy by size", as TFLite plans
 * its tensors): a value goes into the smallest buffer none of whose values it overlaps, else
 * into a new one of its own size. Larger values placed first make later ones fit by
 * construction; on the article CNN's training step this holds 1.26x the peak of live values,
 * where placing them in order of first use held 1.51x.
 */
export function planBuffers(lifetimes: readonly BufferLifetime[]): BufferPlan {
  for (const { first, last } of lifetimes) {
    if (last < first) throw new Error(`buffer plan: a value used from dispatch ${first} to ${last}`);
  }
  const slot = new Array<number>(lifetimes.length);
  const sizes: number[] = [];
  /** By shared buffer: the lifetimes of the values it holds. */
  const holds: BufferLifetime[][] = [];
  const overlaps = (a: BufferLifetime, b: BufferLifetime) => a.first <= b.last && b.first <= a.last;
  const order = lifetimes.map((_, i) => i).sort((a, b) => lifetimes[b].size - lifetimes[a].size || lifetimes[a].first - lifetimes[b].first);
  for (const i of order) {
    const v = lifetimes[i];
    let best = -1;
    for (let s = 0; s < sizes.length; s++) {
      if (holds[s].some((w) => overlaps(v, w))) continue;
      if (best < 0 || sizes[s] < sizes[best]) best = s;
    }
    if (best < 0) {
      best = sizes.push(v.size) - 1;
      holds.push([]);
    }
    holds[best].push(v);
    slot[i] = best;
  }
  return { slot, sizes };
}
