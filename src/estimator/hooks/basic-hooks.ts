// The built-in hooks of tf.estimator's training loop: stopping, checkpoints, logging, NaN checks.
import type { FetchedValue, RunArgs, RunContext, RunValues, SessionInfo, SessionRunHook, TensorRequest } from './hook';
import { log } from '../../host/log';
import { deviceReadsAreCostly } from '../../backend/read-cost';

/** Fires every N steps and/or every N seconds (tf.train.SecondOrStepTimer). */
export class StepTimer {
  private lastStep: number | undefined;
  private lastTime = 0;
  /**
   * @param everySteps fire every N steps, or
   * @param everySecs every N seconds (give exactly one).
   */
  constructor(
    readonly everySteps?: number,
    readonly everySecs?: number,
  ) {
    if ((everySteps == null) === (everySecs == null)) {
      throw new Error('Give exactly one of everyNSteps / everyNSecs (saveSteps / saveSecs).');
    }
  }
  /** Whether the timer fires at `step` (always at the first call). */
  shouldTrigger(step: number): boolean {
    if (this.lastStep === undefined) return true;
    if (step === this.lastStep) return false;
    if (this.everySteps != null) return step >= this.lastStep + this.everySteps;
    return (Date.now() - this.lastTime) / 1000 >= (this.everySecs as number);
  }
  /** Seconds and steps since the last trigger (undefined at the first). */
  update(step: number): { secs: number; steps: number } | undefined {
    const now = Date.now();
    const prev = this.lastStep === undefined ? undefined : { secs: (now - this.lastTime) / 1000, steps: step - this.lastStep };
    this.lastStep = step;
    this.lastTime = now;
    return prev;
  }
  /** The step of the last update(), or undefined. */
  get lastTriggeredStep(): number | undefined {
    return this.lastStep;
  }
}

/** Stops training after numSteps more steps, or at lastStep (tf.train.StopAtStepHook). */
export class StopAtStepHook implements SessionRunHook {
  private target?: number;
  /** @param opts numSteps (relative to the restored global step) or lastStep (absolute). */
  constructor(readonly opts: { numSteps?: number; lastStep?: number }) {
    if ((opts.numSteps == null) === (opts.lastStep == null)) {
      throw new Error('StopAtStepHook: give exactly one of numSteps (relative) or lastStep (absolute).');
    }
  }
  afterCreateSession(info: SessionInfo): void {
    this.target = this.opts.lastStep ?? info.globalStep + (this.opts.numSteps as number);
  }
  /** The absolute step it stops at (known once the session is created). */
  get lastStep(): number | undefined {
    return this.target;
  }
  beforeRun(ctx: RunContext): void {
    if (this.target !== undefined && ctx.globalStep >= this.target) ctx.requestStop('StopAtStepHook: last step reached');
  }
  afterRun(ctx: RunContext): void {
    if (this.target !== undefined && ctx.globalStep >= this.target) ctx.requestStop('StopAtStepHook: last step reached');
  }
}

/** tf.train.CheckpointSaverListener: called around every save. */
export interface CheckpointSaverListener {
  /** Before training starts. */
  begin?(): void | Promise<void>;
  /** Just before a checkpoint is saved. */
  beforeSave?(globalStep: number): void | Promise<void>;
  /** Return true to stop training after this save. */
  afterSave?(globalStep: number, checkpointPath: string): boolean | void | Promise<boolean | void>;
  /** After training ends. */
  end?(globalStep: number): void | Promise<void>;
}

/** Options of CheckpointSaverHook: saveSteps, or saveSecs (default every 600 s). */
export interface CheckpointSaverOptions {
  /** Save every N global steps. */
  saveSteps?: number;
  /** Save every N seconds. */
  saveSecs?: number;
  /** Called around every save. */
  listeners?: CheckpointSaverListener[];
}

/** Saves a checkpoint every N steps or seconds, and at the end of training. */
export class CheckpointSaverHook implements SessionRunHook {
  private readonly timer: StepTimer;
  private save?: () => Promise<string | undefined>;
  private lastSavedStep?: number;
  /** @param opts how often to save, and the listeners. */
  constructor(readonly opts: CheckpointSaverOptions) {
    this.timer = new StepTimer(opts.saveSteps, opts.saveSteps == null ? (opts.saveSecs ?? 600) : undefined);
  }
  async begin(info: SessionInfo): Promise<void> {
    this.save = info.saveCheckpoint;
    for (const l of this.opts.listeners ?? []) await l.begin?.();
  }
  afterCreateSession(info: SessionInfo): void {
    // The restored step counts as saved: the next save is N steps from here.
    this.timer.update(info.globalStep);
    this.lastSavedStep = info.globalStep;
  }
  async afterRun(ctx: RunContext): Promise<void> {
    if (this.timer.shouldTrigger(ctx.globalStep)) {
      this.timer.update(ctx.globalStep);
      if (await this.saveAt(ctx.globalStep)) ctx.requestStop('a CheckpointSaverListener asked to stop');
    }
  }
  /** The path of the last checkpoint this hook saved. */
  lastSavedPath?: string;
  async end(info: SessionInfo): Promise<void> {
    // A failed step may have left the variables half-updated: keep the last good checkpoint.
    if (info.outcome === 'failed') return;
    if (this.lastSavedStep !== info.globalStep) await this.saveAt(info.globalStep);
    for (const l of this.opts.listeners ?? []) await l.end?.(info.globalStep);
  }
  /** Saves now; returns true when a listener asked to stop. */
  async saveAt(step: number): Promise<boolean> {
    if (!this.save) throw new Error('CheckpointSaverHook used outside Estimator.train (no checkpoint saver was provided).');
    for (const l of this.opts.listeners ?? []) await l.beforeSave?.(step);
    const p = await this.save();
    if (p === undefined) return false;
    this.lastSavedStep = step;
    this.lastSavedPath = p;
    let stop = false;
    for (const l of this.opts.listeners ?? []) if ((await l.afterSave?.(step, p)) === true) stop = true;
    return stop;
  }
}

/** Options of LoggingTensorHook: what to log, and every N steps, every N seconds or only at the end. */
export interface LoggingTensorHookOptions {
  /** Names to log ('loss', 'global_step', prediction keys, summary scalar names) or name -> request. */
  tensors: string[] | Record<string, TensorRequest>;
  /** Log every N steps. */
  everyNIter?: number;
  /** Or every N seconds. */
  everyNSecs?: number;
  /** Also log the last values when the run ends. */
  atEnd?: boolean;
  /** Makes the log line from the fetched values (default `name = value, ...`). */
  formatter?: (values: Record<string, FetchedValue>) => string;
}

function formatValue(v: FetchedValue): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6);
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

/** Logs the requested tensors every N steps or seconds (tf.train.LoggingTensorHook). */
export class LoggingTensorHook implements SessionRunHook {
  private readonly timer: StepTimer;
  private readonly requests: Record<string, TensorRequest>;
  private due = false;
  private last?: Record<string, FetchedValue>;
  /** Every line it logged, in order. */
  readonly lines: string[] = [];
  /** @param opts what to log and how often. */
  constructor(readonly opts: LoggingTensorHookOptions) {
    this.timer = new StepTimer(opts.everyNIter, opts.everyNIter == null ? opts.everyNSecs : undefined);
    this.requests = Array.isArray(opts.tensors) ? Object.fromEntries(opts.tensors.map((t) => [t, t])) : opts.tensors;
    if (Object.keys(this.requests).length === 0)
      throw new Error('LoggingTensorHook: tensors must name at least one tensor, e.g. {tensors: ["loss"]}.');
  }
  private elapsed?: { secs: number; steps: number };
  beforeRun(ctx: RunContext): RunArgs {
    this.due = this.timer.shouldTrigger(ctx.globalStep);
    // Timed from the step's start, like TF: lines at steps 1, N+1, 2N+1, ...
    if (this.due) this.elapsed = this.timer.update(ctx.globalStep);
    // With atEnd, fetch every step so the last values are known.
    return this.due || this.opts.atEnd ? { fetches: this.requests } : {};
  }
  afterRun(_ctx: RunContext, values: RunValues): void {
    if (Object.keys(values.results).length) this.last = values.results;
    if (this.due) this.emit(values.results, this.elapsed ? ` (${this.elapsed.secs.toFixed(3)} sec)` : '');
  }
  end(): void {
    if (this.opts.atEnd && this.last) this.emit(this.last, '');
  }
  private emit(values: Record<string, FetchedValue>, suffix: string): void {
    const line = this.opts.formatter
      ? this.opts.formatter(values)
      : Object.entries(values)
          .map(([k, v]) => `${k} = ${formatValue(v)}`)
          .join(', ') + suffix;
    this.lines.push(line);
    log(line);
  }
}

/** Thrown by NanTensorHook (failOnNanLoss, the default) when the loss is NaN or infinite. */
export class NanLossDuringTrainingError extends Error {
  constructor(step: number) {
    super(
      `NaN loss during training at global step ${step}. No checkpoint containing NaN was written; ` +
        `lower the learning rate, check the inputs for NaN, or clip gradients (minimize(loss, {clipNorm})).`,
    );
    this.name = 'NanLossDuringTrainingError';
  }
}

/**
 * Stops (or throws) when the loss is NaN or infinite (tf.train.NanTensorHook). On a GPU backend
 * it checks every `gpuEveryNSteps` steps (default 100), not every step: each read waits for the
 * GPU to finish, and checkpoints are refused anyway while any variable holds NaN or Inf.
 */
export class NanTensorHook implements SessionRunHook {
  /** @param opts failOnNanLoss (default true: throw NanLossDuringTrainingError; false: stop), gpuEveryNSteps (default 100). */
  constructor(readonly opts: { failOnNanLoss?: boolean; gpuEveryNSteps?: number } = {}) {}
  beforeRun(ctx: RunContext): RunArgs {
    if (deviceReadsAreCostly() && (ctx.globalStep + 1) % (this.opts.gpuEveryNSteps ?? 100) !== 0) return {};
    return { fetches: { loss: 'loss' } };
  }
  afterRun(ctx: RunContext, values: RunValues): void {
    const loss = values.results.loss;
    if (typeof loss === 'number' && !Number.isFinite(loss)) {
      if (this.opts.failOnNanLoss ?? true) throw new NanLossDuringTrainingError(ctx.globalStep);
      log(`NaN loss at global step ${ctx.globalStep}; stopping training.`);
      ctx.requestStop('NaN loss');
    }
  }
}

/** Stops after a fixed number of runs of the loop (evaluate's `steps`). */
export class StopAfterNEvalsHook implements SessionRunHook {
  private count = 0;
  /** @param numEvals how many runs of the loop (batches) before it stops. */
  constructor(readonly numEvals: number) {}
  afterRun(ctx: RunContext): void {
    this.count += 1;
    if (this.count >= this.numEvals) ctx.requestStop(`evaluated ${this.numEvals} batches`);
  }
}
