// Connects the Estimator's loops to the summary machinery: the built-in hooks of train() (as
// tf.estimator adds them from RunConfig), summary scalars as fetchable tensors, and evaluate()'s
// summaries.
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from './run-config';
import type { SessionRunHook } from './hooks/hook';
import { SummarySaverHook } from './hooks/summary-saver-hook';
import { StepCounterHook } from './hooks/step-counter-hook';
import { activeCollector } from './summary/collect';
import { EvalSummaryHook, writeEvalSummary } from './summary/eval-summary';

/**
 * tf.estimator's defaults: summaries (and the loss) every saveSummarySteps into modelDir, and
 * global_step/sec every logStepCountSteps, logged and (when summaries are on) written too.
 */
export function builtInTrainHooks(modelDir: string, config: RunConfig): SessionRunHook[] {
  const summariesOn = config.saveSummarySteps > 0;
  return [
    ...(summariesOn ? [new SummarySaverHook({ saveSteps: config.saveSummarySteps, outputDir: modelDir })] : []),
    ...(config.logStepCountSteps > 0
      ? [new StepCounterHook({ everyNSteps: config.logStepCountSteps, outputDir: summariesOn ? modelDir : undefined })]
      : []),
  ];
}

/** Scalars recorded by summary.scalar during this step, for hooks that fetch them by name. */
export function collectorScalars(): Record<string, tf.Tensor> {
  const c = activeCollector();
  if (!c) return {};
  return Object.fromEntries([...c.scalars].map(([k, v]) => [k, tf.scalar(v)]));
}

/** Records the first evaluation batch's summaries for writeEvalResults. */
export function evalSummaryHook(): EvalSummaryHook {
  return new EvalSummaryHook();
}

/** evaluate()'s metrics, plus the summaries of its first batch, into modelDir/eval[_name]. */
export function writeEvalResults(
  modelDir: string,
  name: string | undefined,
  step: number,
  results: Record<string, number>,
  hook: EvalSummaryHook,
): void {
  writeEvalSummary(modelDir, name, step, results, hook.collected);
}
