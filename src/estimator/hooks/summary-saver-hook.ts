// tf.train.SummarySaverHook: every saveSteps steps (or saveSecs seconds) the summaries that
// inputFn and modelFn record during the step, plus the loss, go into the output directory's
// event file at the global step after the step.
import type { RunArgs, RunContext, RunValues, SessionInfo, SessionRunHook } from './hook';
import { StepTimer } from './basic-hooks';
import { EventFileWriter } from '../../events/writer';
import { acquireWriter, releaseWriter } from '../summary/writer-cache';
import { abandonStepCollector, joinStepCollector, leaveStepCollector, SummaryCollector } from '../summary/collect';
import type { SummaryValue } from '../../events/proto';

/** Options of SummarySaverHook. */
export interface SummarySaverHookOptions {
  /** Save every N global steps (the Estimator uses RunConfig.saveSummarySteps). */
  saveSteps?: number;
  /** Or every N seconds. Give exactly one of the two. */
  saveSecs?: number;
  /** Directory of the event file (default: the model directory). */
  outputDir?: string;
}

export function checkEvery(hook: string, steps: number | undefined, secs: number | undefined, names: [string, string]): void {
  if ((steps == null) === (secs == null))
    throw new Error(`${hook}: give exactly one of ${names[0]} or ${names[1]}, e.g. {${names[0]}: 100}.`);
  const v = (steps ?? secs) as number;
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v)))
    throw new Error(`${hook}: ${steps != null ? names[0] : names[1]} must be a positive number, got ${v}.`);
}

/**
 * tf.train.SummarySaverHook: on the first step and every N steps (or seconds) writes what
 * summary.scalar / image / histogram recorded during the step, plus the loss, to the event
 * file. The Estimator adds one per train call (RunConfig.saveSummarySteps).
 * @example hooks: [new hooks.SummarySaverHook({ saveSteps: 10, outputDir: '/tmp/run/extra' })]
 */
export class SummarySaverHook implements SessionRunHook {
  private readonly timer: StepTimer;
  private writer?: EventFileWriter;
  private outputDir?: string;
  private collector?: SummaryCollector;
  private started = false;

  /** @param opts saveSteps or saveSecs, and outputDir. */
  constructor(readonly opts: SummarySaverHookOptions) {
    checkEvery('SummarySaverHook', opts.saveSteps, opts.saveSecs, ['saveSteps', 'saveSecs']);
    this.timer = new StepTimer(opts.saveSteps, opts.saveSteps == null ? opts.saveSecs : undefined);
  }

  /** The event file written to (after begin). */
  get file(): string | undefined {
    return this.writer?.file;
  }

  begin(info: SessionInfo): void {
    abandonStepCollector();
    this.outputDir = this.opts.outputDir ?? info.modelDir;
    this.writer = acquireWriter(this.outputDir);
    this.started = false;
  }

  beforeRun(ctx: RunContext): RunArgs | void {
    // Like TF: the first step of a run always saves, then every N steps after the last save,
    // judged by the global step this step will produce (eval/predict steps produce none).
    const next = ctx.mode === 'train' ? ctx.globalStep + 1 : ctx.globalStep;
    if (this.started && !this.timer.shouldTrigger(next)) return;
    // Summaries recorded in inputFn and modelFn during this step go into this collector.
    this.collector = joinStepCollector(ctx.globalStep);
    return ctx.mode === 'infer' ? {} : { fetches: { loss: 'loss' } };
  }

  afterRun(ctx: RunContext, values: RunValues): void {
    if (!this.started && ctx.mode === 'train') this.writer?.addSessionStart(ctx.globalStep);
    this.started = true;
    const c = this.collector;
    if (!c) return;
    this.collector = undefined;
    leaveStepCollector(c);
    this.timer.update(ctx.globalStep);
    const all: SummaryValue[] = c.values;
    const loss = values.results.loss;
    // tf.estimator adds summary.scalar('loss', loss) to every model; a user's own 'loss' wins.
    if (typeof loss === 'number' && !c.scalars.has('loss')) all.push({ tag: 'loss', simpleValue: loss });
    this.writer?.addSummary(ctx.globalStep, all);
  }

  end(): void {
    if (this.collector) leaveStepCollector(this.collector);
    this.collector = undefined;
    if (this.outputDir !== undefined) releaseWriter(this.outputDir);
    this.writer = undefined;
    this.outputDir = undefined;
  }
}
