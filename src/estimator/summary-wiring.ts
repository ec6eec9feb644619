// Connects the Estimator's loops to the summary machinery (event files, summary hooks).
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from './run-config';
import type { SessionRunHook } from './hooks/hook';

export function addSummaryHooks(_modelDir: string, _config: RunConfig): SessionRunHook[] {
  return [];
}

export function collectorScalars(): Record<string, tf.Tensor> {
  return {};
}

export async function writeEvalResults(_modelDir: string, _name: string | undefined, _step: number, _results: Record<string, number>): Promise<void> {}
