// Connects the Estimator's loops to the summary machinery: the built-in summary hooks of
// train(), summary scalars as fetchable tensors, and evaluate()'s summaries.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from './run-config';
import type { SessionRunHook } from './hooks/hook';
import { SummarySaverHook, StepCounterHook, writeEvalSummary } from './summary/hooks';
import { activeCollector } from './summary/collect';

export function addSummaryHooks(modelDir: string, config: RunConfig): SessionRunHook[] {
  if (!(config.saveSummarySteps > 0)) return [];
  return [
    new SummarySaverHook({ saveSteps: config.saveSummarySteps, outputDir: modelDir }),
    new StepCounterHook({ everyNSteps: config.saveSummarySteps, outputDir: modelDir }),
  ];
}

/** Scalars recorded by summary.scalar during this step, for hooks that fetch them by name. */
export function collectorScalars(): Record<string, tf.Tensor> {
  const c = activeCollector();
  if (!c) return {};
  return Object.fromEntries([...c.scalars].map(([k, v]) => [k, tf.scalar(v)]));
}

export async function writeEvalResults(modelDir: string, name: string | undefined, step: number, results: Record<string, number>): Promise<void> {
  writeEvalSummary(path.join(modelDir, name ? `eval_${name}` : 'eval'), step, results, undefined);
}
