// Coalesces update_display_data per display id: a cell that updates a display thousands of
// times a second would otherwise flood the frontend (and the notebook file). The first update
// goes out at once, later ones at most every minIntervalMs, always ending on the latest value.

export type SendUpdate = (displayId: string, data: Record<string, unknown>, metadata: Record<string, unknown> | undefined) => void;

interface Pending {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export class UpdateThrottle {
  private readonly lastSent = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Updates received and updates sent, for tests and logs. */
  received = 0;
  sent = 0;

  constructor(
    private readonly minIntervalMs: number,
    private readonly send: SendUpdate,
  ) {}

  push(displayId: string, data: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    this.received += 1;
    const now = performance.now();
    const last = this.lastSent.get(displayId);
    if (last === undefined || (now - last >= this.minIntervalMs && !this.pending.has(displayId))) {
      this.emit(displayId, { data, metadata }, now);
      return;
    }
    this.pending.set(displayId, { data, metadata });
    if (!this.timers.has(displayId)) {
      const wait = Math.max(0, this.minIntervalMs - (now - last));
      this.timers.set(
        displayId,
        setTimeout(() => this.flushOne(displayId), wait),
      );
    }
  }

  /** Sends every pending update now (before other output of the cell, and when it ends). */
  flush(): void {
    for (const id of [...this.pending.keys()]) this.flushOne(id);
  }

  private flushOne(displayId: string): void {
    const t = this.timers.get(displayId);
    if (t) clearTimeout(t);
    this.timers.delete(displayId);
    const p = this.pending.get(displayId);
    if (!p) return;
    this.pending.delete(displayId);
    this.emit(displayId, p, performance.now());
  }

  private emit(displayId: string, p: Pending, now: number): void {
    this.lastSent.set(displayId, now);
    this.sent += 1;
    this.send(displayId, p.data, p.metadata);
  }
}
