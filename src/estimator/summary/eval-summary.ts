// evaluate()'s results as TensorBoard scalars at the evaluated global step, in modelDir/eval
// or modelDir/eval_<name> (tf.estimator's eval_dir and _write_dict_to_summary).
import * as path from 'path';
import { acquireWriter, releaseWriter } from './writer-cache';
import { abandonStepCollector, joinStepCollector, leaveStepCollector, SummaryCollector } from './collect';
import type { RunContext, SessionRunHook } from '../hooks/hook';
import type { SummaryValue } from '../../events/proto';

/** modelDir/eval, or modelDir/eval_<name>. */
export function evalDir(modelDir: string, name?: string): string {
  return path.join(modelDir, name ? `eval_${name}` : 'eval');
}

/**
 * Writes every metric but the global step as a scalar, plus the summaries `collected` during
 * evaluation (a metric wins over a summary scalar of the same name), into modelDir/eval or
 * modelDir/eval_<name> at `globalStep`, and flushes. Returns the event file written to.
 */
export function writeEvalSummary(
  modelDir: string,
  name: string | undefined,
  globalStep: number,
  metrics: Record<string, number>,
  collected?: SummaryCollector,
): string {
  return writeResultsTo(evalDir(modelDir, name), globalStep, metrics, collected);
}

/** writeEvalSummary into an explicit directory. */
export function writeResultsTo(dir: string, globalStep: number, metrics: Record<string, number>, collected?: SummaryCollector): string {
  const values: SummaryValue[] = [];
  for (const [tag, v] of Object.entries(metrics)) {
    if (tag === 'globalStep' || tag === 'global_step') continue;
    if (typeof v !== 'number') continue; // TF skips values it cannot write as a scalar
    values.push({ tag, simpleValue: v });
  }
  const taken = new Set(values.map((v) => v.tag));
  for (const v of collected?.values ?? []) if (!taken.has(v.tag)) values.push(v);
  const writer = acquireWriter(dir);
  try {
    writer.addSummary(globalStep, values);
    return writer.file;
  } finally {
    releaseWriter(dir);
  }
}

/**
 * Records the summaries of the first batch of an evaluation (the same examples every time, so
 * image summaries compare across checkpoints); pass `collected` to writeEvalSummary.
 */
export class EvalSummaryHook implements SessionRunHook {
  collected?: SummaryCollector;
  private open?: SummaryCollector;
  private first = true;

  begin(): void {
    abandonStepCollector();
    this.collected = undefined;
    this.first = true;
  }

  beforeRun(ctx: RunContext): void {
    if (!this.first) return;
    this.first = false;
    this.open = joinStepCollector(ctx.globalStep);
  }

  afterRun(): void {
    if (!this.open) return;
    leaveStepCollector(this.open);
    this.collected = this.open;
    this.open = undefined;
  }

  end(): void {
    if (this.open) leaveStepCollector(this.open);
    this.open = undefined;
  }
}
