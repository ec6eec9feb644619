// The live progress display of a training or evaluation loop, as a hook: one display updated
// in place in the kernel, a throttled text line elsewhere.
import { progress, Progress } from '../../display/progress';
import type { RunArgs, RunContext, RunValues, SessionInfo, SessionRunHook } from './hook';

export class ProgressHook implements SessionRunHook {
  private bar?: Progress;
  private startStep = 0;
  private startTime = 0;
  private steps = 0;
  private lastStep = 0;
  lastLoss?: number;

  constructor(readonly title: string, readonly total?: number) {}

  afterCreateSession(info: SessionInfo): void {
    this.startStep = info.mode === 'train' ? info.globalStep : 0;
    this.lastStep = this.startStep;
    this.startTime = Date.now();
    this.bar = progress({ title: this.title, total: this.total });
  }

  beforeRun(): RunArgs {
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
