// Signatures of the messages already accepted, so a captured signed message replayed later is
// refused (jupyter_client's Session keeps the same digest history). Bounded: past `capacity`
// the oldest signatures are forgotten, so memory stays flat over a long session.
export const DIGEST_HISTORY_SIZE = 1 << 16;

export class DigestHistory {
  private readonly seen = new Set<string>();
  constructor(private readonly capacity = DIGEST_HISTORY_SIZE) {}

  /** Records the signature; false when it was seen before (a replay). */
  add(signature: string): boolean {
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    // A Set iterates in insertion order: the first key is the oldest.
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }

  has(signature: string): boolean {
    return this.seen.has(signature);
  }

  get size(): number {
    return this.seen.size;
  }
}
