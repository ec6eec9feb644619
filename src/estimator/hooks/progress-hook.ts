// The live progress display of a training or evaluation loop, as a hook: one display updated
// in place in the kernel, a throttled text line elsewhere.
import { progress, Progress } from '../../host/progress';
import { deviceReadsAreCostly } from '../../backend/read-cost';
import type { RunArgs, RunContext, RunValues, SessionInfo, SessionRunHook } from './hook';

/** On a GPU the loss is read at most this often (each read waits for the GPU to finish). */
const GPU_LOSS_READ_MS = 500;

export class ProgressHook implements SessionRunHook {
  private bar?: Progress;
  private startStep = 0;
  private startTime = 0;
  private steps = 0;
  private lastStep = 0;
  private lastRead = 0;
  lastLoss?: number;

  constructor(
    readonly title: string,
    readonly total?: number,
  ) {}

  afterCreateSession(info: SessionInfo): void {
    this.startStep = info.mode === 'train' ? info.globalStep : 0;
    this.lastStep = this.startStep;
    this.startTime = Date.now();
    this.bar = progress({ title: this.title, total: this.total });
  }

  beforeRun(ctx: RunContext): RunArgs {
    if (deviceReadsAreCostly()) {
      // The bar redraws a few times a second anyway; the last step (when known) is always read.
      const step = ctx.mode === 'train' ? ctx.globalStep + 1 : this.steps + 1;
      const last = this.total !== undefined && step >= this.total;
      if (!last && this.lastRead > 0 && Date.now() - this.lastRead < GPU_LOSS_READ_MS) return {};
      this.lastRead = Date.now();
    }
    return { fetches: { loss: 'loss' } };
  }

  afterRun(ctx: RunContext, values: RunValues): void {
    this.steps += 1;
    this.lastStep = ctx.mode === 'train' ? ctx.globalStep : this.steps;
    const loss = values.results.loss;
    if (typeof loss === 'number') this.lastLoss = loss;
    this.bar?.update(this.state());
  }

  end(info?: SessionInfo): void {
    if (info?.outcome === 'failed') this.fail(info.error);
    else if (info?.outcome === 'interrupted') this.interrupt(this.lastStep);
    else this.bar?.close('done', this.state());
  }

  fail(e: unknown): void {
    this.bar?.close('error', { ...this.state(), message: e instanceof Error ? e.name : String(e) });
  }

  interrupt(step: number): void {
    this.lastStep = step;
    this.bar?.close('interrupted', this.state());
  }

  private state() {
    const secs = (Date.now() - this.startTime) / 1000;
    return {
      step: this.lastStep,
      total: this.total,
      loss: this.lastLoss,
      stepsPerSec: secs > 0 ? this.steps / secs : undefined,
    };
  }
}
