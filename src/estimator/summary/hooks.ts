// SummarySaverHook and StepCounterHook: summaries recorded every N steps (with the loss) and
// global_step/sec, into the model directory's event file.
import type { RunArgs, RunContext, RunValues, SessionInfo, SessionRunHook } from '../hooks/hook';
import { StepTimer } from '../hooks/basic-hooks';
import { EventFileWriter } from './writer';
import { SummaryCollector, setActiveCollector } from './collect';

/** One writer per directory while a loop runs, shared by the hooks writing there. */
const writers = new Map<string, { writer: EventFileWriter; users: number }>();

export function acquireWriter(dir: string): EventFileWriter {
  const w = writers.get(dir) ?? { writer: new EventFileWriter(dir), users: 0 };
  w.users += 1;
  writers.set(dir, w);
  return w.writer;
}

export function releaseWriter(dir: string): void {
  const w = writers.get(dir);
  if (!w) return;
  w.users -= 1;
  if (w.users <= 0) {
    w.writer.close();
    writers.delete(dir);
  }
}

export class SummarySaverHook implements SessionRunHook {
  private readonly timer: StepTimer;
  private collector?: SummaryCollector;
  private writer?: EventFileWriter;
  private outputDir = '';
  constructor(readonly opts: { saveSteps?: number; saveSecs?: number; outputDir?: string }) {
    this.timer = new StepTimer(opts.saveSteps, opts.saveSteps == null ? opts.saveSecs ?? 60 : undefined);
  }
  begin(info: SessionInfo): void {
    this.outputDir = this.opts.outputDir ?? info.modelDir;
    this.writer = acquireWriter(this.outputDir);
  }
  beforeRun(ctx: RunContext): RunArgs {
    if (!this.timer.shouldTrigger(ctx.globalStep)) return {};
    // Timed from the step's start, like TF: summaries at steps 1, N+1, 2N+1, ...
    this.timer.update(ctx.globalStep);
    // Summaries in inputFn and modelFn of this step go into this collector.
    this.collector = new SummaryCollector();
    setActiveCollector(this.collector);
    return { fetches: { loss: 'loss' } };
  }
  afterRun(ctx: RunContext, values: RunValues): void {
    if (!this.collector) return;
    setActiveCollector(undefined);
    const loss = values.results.loss;
    const all = [...this.collector.values];
    if (typeof loss === 'number' && !this.collector.scalars.has('loss')) all.push({ tag: 'loss', simpleValue: loss });
    this.writer?.addSummary(ctx.globalStep, all);
    this.collector = undefined;
  }
  end(): void {
    setActiveCollector(undefined);
    this.writer?.flush();
    releaseWriter(this.outputDir);
  }
}

export class StepCounterHook implements SessionRunHook {
  private readonly timer: StepTimer;
  private writer?: EventFileWriter;
  private outputDir = '';
  constructor(readonly opts: { everyNSteps?: number; everyNSecs?: number; outputDir?: string }) {
    this.timer = new StepTimer(opts.everyNSteps, opts.everyNSteps == null ? opts.everyNSecs ?? 60 : undefined);
  }
  begin(info: SessionInfo): void {
    this.outputDir = this.opts.outputDir ?? info.modelDir;
    this.writer = acquireWriter(this.outputDir);
  }
  afterCreateSession(info: SessionInfo): void {
    this.timer.update(info.globalStep);
  }
  afterRun(ctx: RunContext): void {
    if (!this.timer.shouldTrigger(ctx.globalStep)) return;
    const elapsed = this.timer.update(ctx.globalStep);
    if (elapsed && elapsed.secs > 0) this.writer?.addScalars(ctx.globalStep, { 'global_step/sec': elapsed.steps / elapsed.secs });
  }
  end(): void {
    releaseWriter(this.outputDir);
  }
}

/** evaluate() results as scalars at the evaluated step, in modelDir/eval or eval_<name>. */
export function writeEvalSummary(dir: string, step: number, metrics: Record<string, number>, extra: SummaryCollector | undefined): void {
  const writer = acquireWriter(dir);
  try {
    const scalars = Object.fromEntries(Object.entries(metrics).filter(([k]) => k !== 'globalStep'));
    writer.addSummary(step, [...Object.entries(scalars).map(([tag, simpleValue]) => ({ tag, simpleValue })), ...(extra?.values ?? [])]);
  } finally {
    releaseWriter(dir);
  }
}
