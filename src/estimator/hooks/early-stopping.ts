// tf.estimator.experimental.stop_if_no_decrease_hook / stop_if_no_increase_hook: every N steps
// (or seconds) read the evaluation metrics that evaluate() wrote into the eval directory, and
// stop training once the best value is more than maxSteps global steps old.
import type { RunContext, SessionRunHook } from './hook';
import { StepTimer } from './basic-hooks';
import { readScalars } from '../../events/reader';

interface HasEvalDir {
  evalDir(name?: string): string;
}

/** Options of stopIfNoDecrease / stopIfNoIncrease. */
export interface EarlyStoppingOptions {
  /** Evaluation name (reads modelDir/eval_<name>); default modelDir/eval. */
  evalName?: string;
  /** Never stop before this global step (default 0). */
  minSteps?: number;
  /** Check every N steps (default 60 seconds when neither is given). */
  runEveryNSteps?: number;
  /** Or every N seconds. */
  runEverySecs?: number;
}

/** True when no eval result improved on the best one within the last maxSteps global steps. */
export function shouldStop(
  history: Array<{ step: number; value: number }>,
  better: (a: number, b: number) => boolean,
  maxSteps: number,
  currentStep: number,
): boolean {
  if (!history.length) return false;
  let best = history[0];
  for (const h of history) if (better(h.value, best.value)) best = h;
  return currentStep - best.step > maxSteps;
}

/**
 * tf.estimator.experimental's early-stopping hook: every so often reads the eval summaries
 * (evalDir) and stops training when `metric` has not improved within a number of global steps.
 * Made by stopIfNoDecrease / stopIfNoIncrease.
 */
export class EarlyStoppingHook implements SessionRunHook {
  private readonly timer: StepTimer;
  /** The global step at which it asked training to stop, if it did. */
  stoppedAt?: number;
  /**
   * @param estimator whose evalDir holds the eval summaries.
   * @param metric the eval metric watched.
   * @param maxStepsWithoutImprovement stop when the best value is older than this many global steps.
   * @param better whether a value improves on another.
   * @param opts evalName, minSteps, and how often to check.
   */
  constructor(
    private readonly estimator: HasEvalDir,
    /** The eval metric it watches. */
    readonly metric: string,
    /** Global steps allowed without improvement. */
    readonly maxStepsWithoutImprovement: number,
    private readonly better: (a: number, b: number) => boolean,
    /** The options it was made with. */
    readonly opts: EarlyStoppingOptions = {},
  ) {
    if (!(maxStepsWithoutImprovement > 0))
      throw new Error('early stopping: maxStepsWithoutImprovement must be a positive number of global steps.');
    this.timer = new StepTimer(opts.runEveryNSteps, opts.runEveryNSteps == null ? (opts.runEverySecs ?? 60) : undefined);
  }

  async afterRun(ctx: RunContext): Promise<void> {
    if (ctx.globalStep < (this.opts.minSteps ?? 0) || !this.timer.shouldTrigger(ctx.globalStep)) return;
    this.timer.update(ctx.globalStep);
    const series = (await readScalars(this.estimator.evalDir(this.opts.evalName))).get(this.metric) ?? [];
    if (shouldStop(series, this.better, this.maxStepsWithoutImprovement, ctx.globalStep)) {
      this.stoppedAt = ctx.globalStep;
      ctx.requestStop(`early stopping: no improvement of eval '${this.metric}' in ${this.maxStepsWithoutImprovement} steps`);
    }
  }
}

/** Stops training when eval `metric` has not decreased for maxStepsWithoutDecrease steps. */
export function stopIfNoDecrease(
  estimator: HasEvalDir,
  metric: string,
  maxStepsWithoutDecrease: number,
  opts: EarlyStoppingOptions = {},
): EarlyStoppingHook {
  return new EarlyStoppingHook(estimator, metric, maxStepsWithoutDecrease, (a, b) => a < b, opts);
}

/** Stops training when eval `metric` has not increased for maxStepsWithoutIncrease steps. */
export function stopIfNoIncrease(
  estimator: HasEvalDir,
  metric: string,
  maxStepsWithoutIncrease: number,
  opts: EarlyStoppingOptions = {},
): EarlyStoppingHook {
  return new EarlyStoppingHook(estimator, metric, maxStepsWithoutIncrease, (a, b) => a > b, opts);
}
