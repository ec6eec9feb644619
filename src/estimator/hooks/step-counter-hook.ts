// tf.train.StepCounterHook: global steps per second, every N steps or seconds, logged and (with
// an outputDir) written as the scalar `global_step/sec`.
import type { RunContext, SessionInfo, SessionRunHook } from './hook';
import { StepTimer } from './basic-hooks';
import { checkEvery } from './summary-saver-hook';
import { log } from '../../host/log';
import type { EventFileWriter } from '../../events/writer';
import { acquireWriter, releaseWriter } from '../summary/writer-cache';

/** Options of StepCounterHook. */
export interface StepCounterHookOptions {
  /** Measure every N global steps (default 100 when everyNSecs is not given). */
  everyNSteps?: number;
  /** Or every N seconds. */
  everyNSecs?: number;
  /** Write `global_step/sec` into this directory's event file; without it the rate is only logged. */
  outputDir?: string;
  /** Log `global_step/sec: <rate>` lines (default true, as TF). */
  log?: boolean;
}

/** tf.train.StepCounterHook: measures global steps per second; logs it and, with outputDir, writes `global_step/sec` summaries. */
export class StepCounterHook implements SessionRunHook {
  private readonly timer: StepTimer;
  private writer?: EventFileWriter;
  /** Every rate measured, in order. */
  readonly rates: number[] = [];

  /** @param opts how often to measure, and where the rate goes. */
  constructor(readonly opts: StepCounterHookOptions = {}) {
    const steps = opts.everyNSteps ?? (opts.everyNSecs == null ? 100 : undefined);
    checkEvery('StepCounterHook', steps, opts.everyNSecs, ['everyNSteps', 'everyNSecs']);
    this.timer = new StepTimer(steps, steps == null ? opts.everyNSecs : undefined);
  }

  begin(_info: SessionInfo): void {
    if (this.opts.outputDir !== undefined) this.writer = acquireWriter(this.opts.outputDir);
  }

  afterRun(ctx: RunContext): void {
    if (!this.timer.shouldTrigger(ctx.globalStep)) return;
    // The first trigger only starts the clock, so the first (slow, warming-up) step is not counted.
    const elapsed = this.timer.update(ctx.globalStep);
    if (!elapsed || !(elapsed.secs > 0) || elapsed.steps <= 0) return;
    const rate = elapsed.steps / elapsed.secs;
    this.rates.push(rate);
    this.writer?.addScalars(ctx.globalStep, { 'global_step/sec': rate });
    if (this.opts.log ?? true) log(`global_step/sec: ${rate.toPrecision(4)}`);
  }

  end(): void {
    if (this.writer && this.opts.outputDir !== undefined) releaseWriter(this.opts.outputDir);
    this.writer = undefined;
  }
}
