// tf.estimator.train_and_evaluate on one machine: a single train() call whose checkpoint saves
// trigger evaluation (at most once per throttleSecs), then the exporters; a final evaluation
// runs at the last step. Early-stopping hooks in TrainSpec.hooks end the whole run.
import * as path from 'path';
import type { Estimator, EvalResults } from './estimator';
import type { InputFn, TensorOrDict } from './input';
import type { SessionRunHook } from './hooks/hook';
import type { CheckpointSaverListener } from './hooks/basic-hooks';
import type { ExportableEstimator } from './export/export-saved-model';
import { info } from '../host/log';

/** tf.estimator.TrainSpec: what trainAndEvaluate trains on, and for how long. */
export interface TrainSpec<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> {
  /** The training input. */
  inputFn: InputFn<F, L>;
  /** Absolute global step to train to; undefined trains until the input ends. */
  maxSteps?: number;
  /** Extra training hooks (early-stopping hooks end the whole run). */
  hooks?: SessionRunHook[];
}

/** Something that exports the model after an evaluation (LatestExporter, BestExporter). */
export interface Exporter {
  /** Exports go to modelDir/export/<name>/. */
  readonly name: string;
  /** Exports the checkpoint just evaluated under exportPath if it decides to; returns the export's directory or undefined. */
  export(
    estimator: ExportableEstimator,
    exportPath: string,
    checkpointPath: string,
    evalResult: EvalResults,
    isTheFinalExport: boolean,
  ): Promise<string | undefined>;
}

/** tf.estimator.EvalSpec: how trainAndEvaluate evaluates (after checkpoints, throttled) and exports. */
export interface EvalSpec<F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> {
  /** The evaluation input. */
  inputFn: InputFn<F, L>;
  /** Batches per evaluation (default: until the input ends). */
  steps?: number;
  /** Evaluation name: summaries go to modelDir/eval_<name>/. */
  name?: string;
  /** Extra evaluation hooks. */
  hooks?: SessionRunHook[];
  /** Run after each evaluation with its results (LatestExporter, BestExporter, FinalExporter). */
  exporters?: Exporter[];
  /** Accepted for tf.estimator compatibility; a local run starts evaluating after the first checkpoint. */
  startDelaySecs?: number;
  /** Minimum seconds between two evaluations (default 600). */
  throttleSecs?: number;
}

/** What trainAndEvaluate resolves to. */
export interface TrainAndEvaluateResult {
  /** The last evaluation's metrics. */
  metrics: EvalResults;
  /** Paths written by the exporters at the last evaluation. */
  exportResults: string[];
  /** Every evaluation, in order. */
  history: EvalResults[];
}

/**
 * tf.estimator.train_and_evaluate on one machine: trains per trainSpec; after a checkpoint is
 * saved (at most once per evalSpec.throttleSecs) evaluates per evalSpec and runs the exporters;
 * evaluates once more at the last step.
 * @example await trainAndEvaluate(est, { inputFn: trainInput, maxSteps: 5000 }, { inputFn: evalInput, throttleSecs: 60 });
 */
export async function trainAndEvaluate<F extends TensorOrDict, L extends TensorOrDict, P extends object>(
  estimator: Estimator<F, L, P>,
  trainSpec: TrainSpec<F, L>,
  evalSpec: EvalSpec<F, L>,
): Promise<TrainAndEvaluateResult> {
  if (!trainSpec || typeof trainSpec.inputFn !== 'function') {
    throw new Error('trainAndEvaluate: trainSpec must be {inputFn, maxSteps?, hooks?}.');
  }
  if (!evalSpec || typeof evalSpec.inputFn !== 'function') {
    throw new Error('trainAndEvaluate: evalSpec must be {inputFn, steps?, name?, throttleSecs?, exporters?}.');
  }
  const throttleMs = (evalSpec.throttleSecs ?? 600) * 1000;
  const history: EvalResults[] = [];
  let exportResults: string[] = [];
  let lastEvalTime = 0;
  let lastEvalStep = -1;
  let lastCheckpoint: string | undefined;

  let lastExportWasFinal = false;
  const runExporters = async (checkpointPath: string, metrics: EvalResults, isFinal: boolean): Promise<void> => {
    exportResults = [];
    lastExportWasFinal = isFinal;
    for (const exporter of evalSpec.exporters ?? []) {
      const exportPath = path.join(estimator.modelDir, 'export', exporter.name);
      const written = await exporter.export(estimator, exportPath, checkpointPath, metrics, isFinal);
      if (written) exportResults.push(written);
    }
  };

  const evaluateAt = async (step: number, checkpointPath: string, isFinal: boolean): Promise<void> => {
    const metrics = await estimator.evaluate(evalSpec.inputFn, {
      steps: evalSpec.steps,
      name: evalSpec.name,
      hooks: evalSpec.hooks,
      checkpointPath,
    });
    lastEvalTime = Date.now();
    lastEvalStep = step;
    lastCheckpoint = checkpointPath;
    history.push(metrics);
    // As tf.estimator: an evaluation at (or past) maxSteps is the final one, whoever triggered it.
    const reachedMax = trainSpec.maxSteps !== undefined && step >= trainSpec.maxSteps;
    await runExporters(checkpointPath, metrics, isFinal || reachedMax);
  };

  const listener: CheckpointSaverListener = {
    afterSave: async (step, checkpointPath) => {
      lastCheckpoint = checkpointPath;
      if (Date.now() - lastEvalTime >= throttleMs || lastEvalTime === 0) await evaluateAt(step, checkpointPath, false);
    },
    end: async (step) => {
      const ckpt = estimator.latestCheckpoint() ?? lastCheckpoint;
      if (ckpt && lastEvalStep !== step) await evaluateAt(step, ckpt, true);
      // Already evaluated at this step (its save triggered it) but not as the final export:
      // the exporters still get their final call, with those metrics.
      else if (ckpt && !lastExportWasFinal && history.length > 0) await runExporters(ckpt, history[history.length - 1], true);
    },
  };

  await estimator.train(trainSpec.inputFn, { maxSteps: trainSpec.maxSteps, hooks: trainSpec.hooks, savingListeners: [listener] });
  if (history.length === 0) {
    // maxSteps was already reached: evaluate the existing checkpoint once, as tf.estimator does.
    const ckpt = estimator.latestCheckpoint();
    if (!ckpt) throw new Error(`trainAndEvaluate: no checkpoint in ${estimator.modelDir} after training.`);
    await evaluateAt(Number(/(\d+)$/.exec(ckpt)?.[1] ?? 0), ckpt, true);
  }
  const metrics = history[history.length - 1];
  info(`trainAndEvaluate finished at global step ${metrics.globalStep} after ${history.length} evaluation(s).`);
  return { metrics, exportResults, history };
}
