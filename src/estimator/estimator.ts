// The Estimator: train / evaluate / predict over a persistent model directory, in the shape of
// tf.estimator's train -> _train_model -> _train_with_estimator_spec. Every call restores the
// latest checkpoint; every train call ends with a checkpoint. Everything around the step loop
// (stopping, saving, logging, summaries, NaN checks, progress) is a hook.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { GraphContext, GraphKeys, UpdateOp, withGraph } from '../framework/graph';
import { StepTape } from '../framework/tape';
import { VariableStore } from '../framework/variables';
import { GLOBAL_STEP_NAME, TrainStepContext, describeValue } from './train-ops';
import { EstimatorSpec, ModeKey, ModeKeys, Predictions, validateSpec } from './spec';
import { RunConfig, RunConfigOptions } from './run-config';
import { InputBatch, InputFn, TensorOrDict } from './input';
import { CheckpointError, checkpointCandidates, latestCheckpoint, loadCheckpoint, LoadedCheckpoint, saveCheckpoint } from './checkpoint';
import { acquireTrainLock } from './lock';
import type { FetchedValue, RunArgs, SessionRunHook, StepTensors, TensorRequest } from './hooks/hook';
import {
  CheckpointSaverHook,
  CheckpointSaverListener,
  LoggingTensorHook,
  NanTensorHook,
  StopAfterNEvalsHook,
  StopAtStepHook,
} from './hooks/basic-hooks';
import { ProgressHook } from './hooks/progress-hook';
import { KeyboardInterrupt } from '../host/interrupt';
import { info, log, warn } from '../host/log';
import { prepareBackend } from './backend-init';
import type { MetricOp } from './metrics';
import { builtInTrainHooks, collectorScalars, evalSummaryHook, writeEvalResults } from './summary-wiring';
import { writeStepGraph } from './summary/graph-summary';
import { BuiltStep, drain, runLoop } from './run-loop';
import { LoopReplay, stepOutputs } from './loop-replay';
import { asOneSubmit } from '../backend/webgpu/one-submit';
import { checkModelDirReadable, isReadOnlyError, readOnlyCode } from './model-dir';
import { exportSavedModel, ExportSavedModelOptions, ServingInputFn } from './export';

/** What an inference step yields: modelFn's spec, or a replayed step's outputs and metrics. */
type InferenceResults = Pick<EstimatorSpec, 'loss' | 'predictions' | 'evalMetricOps'>;

/** Hyperparameters passed to modelFn as its `params` argument (EstimatorOptions.params). */
export type Params = Record<string, unknown>;

/**
 * tf.estimator's model_fn: builds the model for one batch and returns an EstimatorSpec for `mode`
 * (loss and trainOp in TRAIN, loss and evalMetricOps in EVAL, predictions in PREDICT). It runs
 * eagerly on every step; labels are undefined in PREDICT.
 * @example const modelFn: ModelFn = (x, y, mode) => new EstimatorSpec({ mode, predictions: layers.dense(x, 1) });
 */
export type ModelFn<F extends TensorOrDict = tf.Tensor, L extends TensorOrDict = tf.Tensor, P extends object = Params> = (
  features: F,
  labels: L | undefined,
  mode: ModeKey,
  params: P,
  config: RunConfig,
) => EstimatorSpec | Promise<EstimatorSpec>;

/** tf.estimator.WarmStartSettings: start a new model from another model's variables. */
export interface WarmStartSettings {
  /** A model directory or a checkpoint directory (model.ckpt-N). */
  ckptToInitializeFrom: string;
  /** Regex (string or RegExp) over trainable variable names, or a list of regexes over all names. Default '.*'. */
  varsToWarmStart?: string | RegExp | Array<string | RegExp>;
}

/** The third argument of `new Estimator(modelFn, modelDir, opts)`. */
export interface EstimatorOptions<P extends object = Params> {
  /** Checkpoint, summary, seed and backend settings (a RunConfig or its options). */
  config?: RunConfig | RunConfigOptions;
  /** Hyperparameters handed to modelFn as `params` (default {}). */
  params?: P;
  /** When modelDir has no checkpoint yet: initialize variables from this checkpoint or model directory. */
  warmStartFrom?: string | WarmStartSettings;
}

/** Options of Estimator.train: give `steps` or `maxSteps` (or neither: train until the input ends). */
export interface TrainOptions {
  /** Train this many more steps (relative to the restored global step). */
  steps?: number;
  /** Train until the global step reaches this (absolute; a no-op once reached). */
  maxSteps?: number;
  /** Extra hooks for this call, run after the built-in ones (stop, checkpoint, logging, summaries). */
  hooks?: SessionRunHook[];
  /** Called around every checkpoint this call saves (tf.train.CheckpointSaverListener). */
  savingListeners?: CheckpointSaverListener[];
  /** If the newest checkpoint is corrupt, restore the newest intact one instead of failing. */
  fallbackToPreviousCheckpoint?: boolean;
}

/** Options of Estimator.evaluate. */
export interface EvaluateOptions {
  /** Batches to evaluate; default: until the input ends. */
  steps?: number;
  /** Evaluation name: summaries go to modelDir/eval_<name>/ (default modelDir/eval/). */
  name?: string;
  /** Evaluate this checkpoint instead of the latest in modelDir. */
  checkpointPath?: string;
  /** Extra hooks for this evaluation. */
  hooks?: SessionRunHook[];
  /** If the newest checkpoint is corrupt, evaluate the newest intact one instead of failing. */
  fallbackToPreviousCheckpoint?: boolean;
}

/** Options of Estimator.predict. */
export interface PredictOptions {
  /** Keep only these keys of a predictions object (a single key yields its bare values). */
  predictKeys?: string | string[];
  /** Predict with this checkpoint instead of the latest in modelDir. */
  checkpointPath?: string;
  /** Yield one example at a time (default) or whole batches. */
  yieldSingleExamples?: boolean;
  /** Extra hooks for this prediction run. */
  hooks?: SessionRunHook[];
}

/** A predicted value for one example: a number, a typed array (rank 1) or nested arrays. */
export type PredictionValue = number | Float32Array | Int32Array | Uint8Array | number[] | number[][] | number[][][];
/** What Estimator.predict yields: one value, or an object of them when predictions is an object. */
export type Prediction = PredictionValue | Record<string, PredictionValue>;

/** Estimator.evaluate's result: each eval metric's value, the mean `loss` and the checkpoint's `globalStep`. */
export type EvalResults = Record<string, number> & { loss: number; globalStep: number };

interface Restored {
  tensors: tf.NamedTensorMap;
  globalStep: number;
  path?: string;
}

let backendLogged = false;

/**
 * tf.estimator.Estimator: trains, evaluates and predicts with a modelFn over a persistent model
 * directory. Every call restores the latest checkpoint there; every train call ends by saving
 * one, so a new process (or a restarted kernel) continues where the last one stopped.
 * @example
 * const est = new Estimator(modelFn, '/tmp/mnist', { params: { lr: 1e-3 } });
 * await est.train(trainInputFn, { steps: 1000 });
 * const { accuracy } = await est.evaluate(evalInputFn);
 */
export class Estimator<F extends TensorOrDict = tf.Tensor, L extends TensorOrDict = tf.Tensor, P extends object = Params> {
  /** The model directory (absolute): checkpoints, event files, eval/ and exports. */
  readonly modelDir: string;
  /** The run configuration, with modelDir filled in. */
  readonly config: RunConfig;
  /** The hyperparameters modelFn receives. */
  readonly params: P;
  /** Where variables are initialized from when modelDir has no checkpoint. */
  readonly warmStartFrom?: WarmStartSettings;

  /**
   * @param modelFn builds the model and returns an EstimatorSpec for each mode.
   * @param modelDir where checkpoints and summaries live; default config.modelDir, else a new temporary folder.
   * @param opts config, params and warmStartFrom.
   */
  constructor(
    readonly modelFn: ModelFn<F, L, P>,
    modelDir?: string,
    opts: EstimatorOptions<P> = {},
  ) {
    if (typeof modelFn !== 'function') {
      throw new Error(
        `new Estimator(modelFn, modelDir): modelFn must be a function (features, labels, mode, params, config) => EstimatorSpec, got ${describeValue(modelFn)}.`,
      );
    }
    if (opts === null || typeof opts !== 'object') {
      throw new Error('new Estimator(modelFn, modelDir, {config, params, warmStartFrom}): the third argument must be an options object.');
    }
    const config = opts.config instanceof RunConfig ? opts.config : new RunConfig(opts.config ?? {});
    const dir = modelDir ?? config.modelDir;
    if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
      throw new Error(`new Estimator: modelDir must be a directory path string, got ${describeValue(dir)}.`);
    }
    if (modelDir && config.modelDir && path.resolve(modelDir) !== path.resolve(config.modelDir)) {
      throw new Error(`modelDir (${modelDir}) and config.modelDir (${config.modelDir}) differ; give only one.`);
    }
    this.modelDir = path.resolve(dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-estimator-')));
    if (dir === undefined) info(`Using temporary folder as model directory: ${this.modelDir}`);
    this.config = config.replace({ modelDir: this.modelDir });
    this.params = (opts.params ?? {}) as P;
    if (opts.warmStartFrom !== undefined) {
      this.warmStartFrom = typeof opts.warmStartFrom === 'string' ? { ckptToInitializeFrom: opts.warmStartFrom } : opts.warmStartFrom;
    }
  }

  /** A short description (what a notebook shows after `await estimator.train(...)`). */
  toString(): string {
    const ckpt = (() => {
      try {
        return this.latestCheckpoint();
      } catch {
        return undefined;
      }
    })();
    return `Estimator(modelDir: ${this.modelDir}, latest checkpoint: ${ckpt ? path.basename(ckpt) : 'none'})`;
  }

  _toMimeBundle(): Record<string, string> {
    return { 'text/plain': this.toString() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** Exports the latest checkpoint (or opts.checkpointPath) for serving as a TensorFlow.js graph model in
   *  exportDirBase/<unix seconds>/, loadable with plain @tensorflow/tfjs; returns that directory. */
  exportSavedModel(exportDirBase: string, servingInputFn: ServingInputFn, opts: ExportSavedModelOptions = {}): Promise<string> {
    return exportSavedModel(this, exportDirBase, servingInputFn, opts);
  }

  /** Directory of evaluation summaries: modelDir/eval or modelDir/eval_<name>. */
  evalDir(name?: string): string {
    return path.join(this.modelDir, name ? `eval_${name}` : 'eval');
  }

  /** Path of the newest checkpoint in modelDir (model.ckpt-N), or undefined before the first train. */
  latestCheckpoint(): string | undefined {
    return latestCheckpoint(this.modelDir);
  }

  /** Names of the variables in the latest checkpoint, sorted (global_step included). */
  getVariableNames(): string[] {
    const ckpt = this.requireCheckpoint('getVariableNames');
    const loaded = loadCheckpoint(ckpt);
    const names = Object.keys(loaded.tensors).sort();
    tf.dispose(loaded.tensors);
    return names;
  }

  /** The saved value of a variable in the latest checkpoint (the caller disposes it). */
  getVariableValue(name: string): tf.Tensor {
    const ckpt = this.requireCheckpoint('getVariableValue');
    const loaded = loadCheckpoint(ckpt);
    const t = loaded.tensors[name];
    for (const [k, v] of Object.entries(loaded.tensors)) if (k !== name) v.dispose();
    if (!t) {
      throw new Error(`No variable named '${name}' in ${ckpt}; see estimator.getVariableNames() for the names it has.`);
    }
    return t;
  }

  // ---------------------------------------------------------------- train

  /**
   * Trains from the latest checkpoint: runs modelFn in TRAIN mode and its trainOp on each batch
   * of inputFn, with checkpoints, summaries and logging per the RunConfig, and saves a final
   * checkpoint. `steps` is relative to the restored global step, `maxSteps` absolute; without
   * either it trains until the input ends. Returns the Estimator.
   * @example await est.train(trainInputFn, { steps: 500, hooks: [new hooks.LoggingTensorHook({ tensors: ['loss'], everyNIter: 100 })] });
   */
  async train(inputFn: InputFn<F, L>, opts: TrainOptions = {}): Promise<this> {
    const { steps, maxSteps } = opts;
    if (steps != null && maxSteps != null) {
      throw new Error('train: give steps (relative) or maxSteps (absolute), not both.');
    }
    checkCount(steps, 'steps');
    checkCount(maxSteps, 'maxSteps');
    await this.prepare();
    const lock = acquireTrainLock(this.modelDir);
    let store: VariableStore | undefined;
    try {
      const restored = this.restoreForTraining(opts.fallbackToPreviousCheckpoint ?? false);
      if (maxSteps != null && restored.globalStep >= maxSteps) {
        tf.dispose(restored.tensors);
        info(`Skipping training since maxSteps (${maxSteps}) has already been reached: global step is ${restored.globalStep}.`);
        return this;
      }
      store = new VariableStore(this.config.randomSeed, restored.tensors, restored.path);
      await this.trainLoop(store, inputFn, restored, opts);
      return this;
    } finally {
      store?.dispose();
      lock.release();
    }
  }

  private async trainLoop(store: VariableStore, inputFn: InputFn<F, L>, restored: Restored, opts: TrainOptions): Promise<void> {
    let globalStep = restored.globalStep;
    const lastStep = opts.steps != null ? globalStep + opts.steps : (opts.maxSteps ?? Infinity);
    const saver = new CheckpointSaverHook({
      saveSteps: this.config.saveCheckpointsSteps,
      saveSecs: this.config.saveCheckpointsSecs,
      listeners: opts.savingListeners,
    });
    const progress = new ProgressHook('Training', Number.isFinite(lastStep) ? lastStep : undefined);
    const hooks: SessionRunHook[] = [
      ...(Number.isFinite(lastStep) ? [new StopAtStepHook({ lastStep })] : []),
      ...(this.config.checkNan ? [new NanTensorHook()] : []),
      ...(this.config.logStepCountSteps > 0
        ? [new LoggingTensorHook({ tensors: { loss: 'loss', step: 'global_step' }, everyNIter: this.config.logStepCountSteps })]
        : []),
      ...builtInTrainHooks(this.modelDir, this.config),
      ...(opts.hooks ?? []),
    ];
    // TensorBoard's graph, from the first step's forward pass (where summaries are written).
    let graphWritten = !(this.config.saveSummarySteps > 0);
    info(
      `Training from global step ${globalStep}${restored.path ? ` (restored ${path.basename(restored.path)})` : ''}` +
        `${Number.isFinite(lastStep) ? ` to ${lastStep}` : ' until the input ends'}; checkpoints in ${this.modelDir}`,
    );
    const replay = new LoopReplay(this.config.replaySteps);
    try {
      await drain(
        runLoop<void, F, L>({
          call: 'train',
          mode: 'train',
          modelDir: this.modelDir,
          globalStep,
          hooks,
          // Last, so a final save sees what the other hooks did at this step.
          lastHooks: [progress, saver],
          saveCheckpoint: () => this.saveStore(store, globalStep),
          inputFn,
          betweenSteps: () => replay.settle(),
          build: async (batch, step) => {
            const built = replay.canReplay(batch, !graphWritten)
              ? this.replayTrainStep(replay, store, batch, step)
              : await this.buildTrainStep(store, batch, step, !graphWritten, replay);
            graphWritten = true;
            return {
              specHooks: built.specHooks,
              dispose: built.dispose,
              run: (args) => {
                const r = built.run(args);
                globalStep = r.globalStep;
                return r;
              },
            };
          },
          interruptMessage: (step) =>
            `Training interrupted at global step ${step}; ` +
            `${saver.lastSavedPath ? `checkpoint saved to ${saver.lastSavedPath}` : step === restored.globalStep ? 'no step had run, the checkpoint is unchanged' : 'no checkpoint saved (NaN/Inf in variables)'}. ` +
            `The next train() call resumes from there.`,
        }),
      );
    } finally {
      replay.dispose();
    }
    info(`Loss for final step: ${progress.lastLoss === undefined ? 'n/a' : progress.lastLoss}. Global step ${globalStep}.`);
  }

  /** The first step's graph for TensorBoard; a failure here is a warning, never a failed train(). */
  private writeGraph(tape: StepTape, store: VariableStore, batch: InputBatch<F, L>, globalStep: number): void {
    try {
      writeStepGraph(this.modelDir, globalStep, tape.describe(), store, batch.features, batch.labels);
    } catch (e) {
      warn(`Could not write the model's graph for TensorBoard: ${(e as Error).message}`);
    }
  }

  /** modelFn in TRAIN mode under the tape; run() applies the train op and the update ops. */
  private async buildTrainStep(
    store: VariableStore,
    batch: InputBatch<F, L>,
    globalStep: number,
    writeGraph = false,
    replay?: LoopReplay,
  ): Promise<BuiltStep<void>> {
    const tape = new StepTape();
    const graph = new GraphContext(store, 'train', this.config, globalStep);
    const recorder = replay?.recorderFor(store, batch, writeGraph);
    const dispose = (): void => {
      recorder?.unpatch();
      for (const op of graph.getCollection<UpdateOp>(GraphKeys.UPDATE_OPS)) op.discard();
      tape.dispose();
    };
    let spec: EstimatorSpec;
    try {
      tape.start(writeGraph ? () => graph.scope.prefix : undefined);
      let raw: unknown;
      try {
        recorder?.start();
        raw = await withGraph(graph, () => this.modelFn(batch.features, batch.labels, ModeKeys.TRAIN, this.params, this.config));
      } catch (e) {
        throw wrapModelFnError(e, 'train', globalStep);
      } finally {
        tape.stop();
      }
      spec = validateSpec(raw, ModeKeys.TRAIN);
      if (writeGraph) this.writeGraph(tape, store, batch, globalStep);
    } catch (e) {
      dispose();
      throw e;
    }
    return {
      specHooks: spec.trainingHooks,
      dispose,
      run: (args) => {
        let newStep = globalStep;
        const stepCtx: TrainStepContext = {
          tape,
          store,
          incrementGlobalStep: (v: tf.Variable) => {
            if (store.get(GLOBAL_STEP_NAME)?.variable !== v) {
              throw new Error('minimize({globalStep}) must be given train.getOrCreateGlobalStep(), not another variable.');
            }
            newStep += 1;
            const increment = (): void => v.assign(tf.scalar(newStep, 'int32'));
            if (recorder) recorder.unrecorded(increment);
            else increment();
          },
        };
        (spec.trainOp as NonNullable<EstimatorSpec['trainOp']>).run(stepCtx);
        // Moving averages not already run through control dependencies run here, once.
        for (const op of graph.getCollection<UpdateOp>(GraphKeys.UPDATE_OPS)) op.run();
        if (recorder && replay) {
          replay.recorded(recorder.stop(stepOutputs(spec.loss, spec.predictions)), {
            usedStepValue: graph.usedStepValue,
            stepIncrement: newStep - globalStep,
            predictions: spec.predictions,
          });
        }
        store.checkRestoredAll();
        if (newStep === globalStep) {
          throw new Error(
            'The trainOp did not increment the global step, so training would never end; pass it to one optimizer: ' +
              'optimizer.minimize(loss, {globalStep: train.getOrCreateGlobalStep()}).',
          );
        }
        const values = fetchAll(args, { loss: spec.loss, predictions: spec.predictions, scalars: collectorScalars() }, newStep);
        return { globalStep: newStep, values, output: undefined };
      },
    };
  }

  /** The recorded train step on this batch, without modelFn (see loop-replay.ts). */
  private replayTrainStep(replay: LoopReplay, store: VariableStore, batch: InputBatch<F, L>, globalStep: number): BuiltStep<void> {
    return {
      specHooks: [],
      run: (args) => {
        const { loss, predictions } = asOneSubmit(() => replay.run(batch));
        const newStep = globalStep + 1;
        store.get(GLOBAL_STEP_NAME)!.variable.assign(tf.scalar(newStep, 'int32'));
        const values = fetchAll(args, { loss, predictions, scalars: collectorScalars() }, newStep);
        return { globalStep: newStep, values, output: undefined };
      },
    };
  }

  /** Saves the store as model.ckpt-<step>; skipped (undefined) if a variable holds NaN/Inf. */
  private async saveStore(store: VariableStore, globalStep: number): Promise<string | undefined> {
    const snapshot = store.snapshot();
    const bad = Object.entries(snapshot).find(([, t]) => t.dtype === 'float32' && tf.tidy(() => !tf.all(tf.isFinite(t)).dataSync()[0]));
    if (bad) {
      warn(`Not saving a checkpoint at step ${globalStep}: variable ${bad[0]} contains NaN or Inf. The previous checkpoint is kept.`);
      return undefined;
    }
    const trainable = store
      .records()
      .filter((r) => r.trainable)
      .map((r) => r.name);
    const p = await saveCheckpoint(this.modelDir, globalStep, snapshot, { keepCheckpointMax: this.config.keepCheckpointMax, trainable });
    log(`Saving checkpoints for ${globalStep} into ${p}.`);
    return p;
  }

  // ---------------------------------------------------------------- evaluate

  /**
   * Evaluates the latest checkpoint (or opts.checkpointPath): runs modelFn in EVAL mode over
   * inputFn (until it ends, or `steps` batches) and returns the evalMetricOps' values with the
   * mean loss and the global step; writes them as summaries to evalDir(name).
   * @example const { accuracy, loss } = await est.evaluate(testInputFn);
   */
  async evaluate(inputFn: InputFn<F, L>, opts: EvaluateOptions = {}): Promise<EvalResults> {
    checkCount(opts.steps, 'steps');
    await this.prepare();
    checkModelDirReadable(this.modelDir, 'evaluate');
    const restored = this.restoreForInference(opts.checkpointPath, 'evaluate', opts.fallbackToPreviousCheckpoint ?? false);
    const store = new VariableStore(this.config.randomSeed, restored.tensors, restored.path);
    const globalStep = restored.globalStep;
    const progress = new ProgressHook(`Evaluating${opts.name ? ` (${opts.name})` : ''}`, opts.steps);
    const summaries = evalSummaryHook();
    const metrics: Record<string, MetricOp> = {};
    let lossSum = 0;
    let batches = 0;
    const replay = new LoopReplay(this.config.replaySteps);
    try {
      await drain(
        runLoop<void, F, L>({
          call: 'evaluate',
          mode: 'eval',
          modelDir: this.modelDir,
          globalStep,
          hooks: [...(opts.steps != null ? [new StopAfterNEvalsHook(opts.steps)] : []), summaries, ...(opts.hooks ?? [])],
          lastHooks: [progress],
          inputFn,
          betweenSteps: () => replay.settle(),
          build: (batch) =>
            this.buildInferenceStep(
              store,
              batch,
              ModeKeys.EVAL,
              globalStep,
              (spec, args) => {
                const loss = (spec.loss as tf.Tensor).dataSync()[0];
                for (const [k, op] of Object.entries(spec.evalMetricOps ?? {})) {
                  if (k === 'loss')
                    throw new Error("evalMetricOps may not use the key 'loss'; the Estimator reports the mean loss under that name.");
                  if (!op || typeof (op as MetricOp).merge !== 'function') {
                    throw new Error(
                      `evalMetricOps['${k}'] must be a metric from metrics.* (e.g. metrics.accuracy(labels, predictions)), got ${describeValue(op)}.`,
                    );
                  }
                  metrics[k] = (op as MetricOp).merge(metrics[k]);
                }
                lossSum += loss;
                batches += 1;
                return {
                  values: fetchAll(args, { loss: spec.loss, predictions: spec.predictions, scalars: collectorScalars() }, globalStep),
                  output: undefined,
                };
              },
              replay,
            ),
          finish: (n) => {
            if (n === 0)
              throw new Error('evaluate: inputFn produced no batches; check the dataset (e.g. is it empty, or already consumed?).');
          },
          interruptMessage: (_step, n) => `Evaluation interrupted after ${n} batches.`,
        }),
      );
    } finally {
      replay.dispose();
      store.dispose();
    }
    const results: Record<string, number> = {};
    for (const [k, op] of Object.entries(metrics)) results[k] = op.result();
    results.loss = lossSum / batches;
    results.globalStep = globalStep;
    try {
      writeEvalResults(this.modelDir, opts.name, globalStep, results, summaries);
    } catch (e) {
      // (mkdir on a read-only mount may report ENOENT: ask the directory itself.)
      const code = isReadOnlyError(e) ? (e as NodeJS.ErrnoException).code : readOnlyCode(this.modelDir);
      if (!code) throw e;
      warn(
        `evaluate() could not write its summaries to ${this.evalDir(opts.name)} (${code}: the modelDir is read-only); the results are returned but not recorded for TensorBoard.`,
      );
    }
    info(
      `Saving dict for global step ${globalStep}: ${Object.entries(results)
        .map(([k, v]) => `${k} = ${fmt(v)}`)
        .join(', ')}`,
    );
    return results as EvalResults;
  }

  // ---------------------------------------------------------------- predict

  /**
   * Yields predictions of the latest checkpoint (or opts.checkpointPath): runs modelFn in PREDICT
   * mode on each batch of inputFn and yields one example at a time (or whole batches), as plain
   * numbers and typed arrays.
   * @example for await (const p of est.predict(inputFn, { predictKeys: 'classes' })) console.log(p);
   */
  async *predict(inputFn: InputFn<F, L>, opts: PredictOptions = {}): AsyncGenerator<Prediction, void, undefined> {
    await this.prepare();
    checkModelDirReadable(this.modelDir, 'predict');
    const restored = this.restoreForInference(opts.checkpointPath, 'predict', false);
    const store = new VariableStore(this.config.randomSeed, restored.tensors, restored.path);
    const keys = typeof opts.predictKeys === 'string' ? [opts.predictKeys] : opts.predictKeys;
    const single = opts.yieldSingleExamples ?? true;
    const globalStep = restored.globalStep;
    const replay = new LoopReplay(this.config.replaySteps);
    try {
      const loop = runLoop<PredictionBatch, F, L>({
        call: 'predict',
        mode: 'infer',
        modelDir: this.modelDir,
        globalStep,
        hooks: opts.hooks ?? [],
        inputFn,
        betweenSteps: () => replay.settle(),
        build: (batch) =>
          this.buildInferenceStep(
            store,
            batch,
            ModeKeys.PREDICT,
            globalStep,
            (spec, args) => ({
              values: fetchAll(args, { predictions: spec.predictions, scalars: collectorScalars() }, globalStep),
              output: readPredictions(spec.predictions as Predictions, keys),
            }),
            replay,
          ),
        interruptMessage: () => 'Prediction interrupted.',
      });
      for await (const out of loop) {
        if (single) for (const p of splitExamples(out)) yield p;
        else yield out.values as Prediction;
      }
    } finally {
      replay.dispose();
      store.dispose();
    }
  }

  /**
   * modelFn in EVAL or PREDICT mode on a batch, or the step recorded from it (see loop-replay.ts);
   * `use` reads what the step yields as plain values.
   */
  private async buildInferenceStep<T>(
    store: VariableStore,
    batch: InputBatch<F, L>,
    mode: ModeKey,
    globalStep: number,
    use: (spec: InferenceResults, args: RunArgs[]) => { values: Record<string, FetchedValue>; output: T },
    replay?: LoopReplay,
  ): Promise<BuiltStep<T>> {
    if (replay?.canReplay(batch, false)) {
      return { specHooks: [], run: (args) => ({ globalStep, ...use(replay.run(batch) as InferenceResults, args) }) };
    }
    const graph = new GraphContext(store, mode, this.config, globalStep);
    const labels = mode === ModeKeys.PREDICT ? undefined : batch.labels;
    const recorder = replay?.recorderFor(store, batch, false);
    let spec: EstimatorSpec;
    try {
      let raw: unknown;
      try {
        recorder?.start();
        raw = await withGraph(graph, () => this.modelFn(batch.features, labels, mode, this.params, this.config));
      } catch (e) {
        throw wrapModelFnError(e, mode, globalStep);
      }
      spec = validateSpec(raw, mode);
    } finally {
      recorder?.unpatch();
    }
    if (recorder && replay) {
      let trace = recorder.stop(stepOutputs(spec.loss, spec.predictions));
      // Each metric must be one of the step's recorded reads, to be remade from the next batch's values.
      const results = recorder.readResults();
      const metricReads: Array<[string, number]> = [];
      for (const [k, op] of Object.entries(spec.evalMetricOps ?? {})) {
        const i = results.indexOf(op);
        if (i < 0 && typeof trace !== 'string') trace = `evalMetricOps['${k}'] is not one of metrics.*, which the step can remake`;
        metricReads.push([k, i]);
      }
      replay.recorded(trace, { usedStepValue: graph.usedStepValue, predictions: spec.predictions, metricReads });
    }
    return {
      specHooks: mode === ModeKeys.EVAL ? spec.evaluationHooks : spec.predictionHooks,
      run: (args) => {
        store.checkRestoredAll();
        return { globalStep, ...use(spec, args) };
      },
    };
  }

  // ---------------------------------------------------------------- restore

  private async prepare(): Promise<void> {
    const report = await prepareBackend(this.config.backend);
    if (!backendLogged) {
      backendLogged = true;
      info(report);
    }
  }

  private requireCheckpoint(what: string): string {
    const ckpt = this.latestCheckpoint();
    if (!ckpt) throw new Error(`${what}: no checkpoint in ${this.modelDir} yet; train the estimator first.`);
    return ckpt;
  }

  private loadWithFallback(candidates: string[], fallback: boolean): LoadedCheckpoint | undefined {
    let firstError: Error | undefined;
    for (const c of candidates) {
      try {
        const loaded = loadCheckpoint(c);
        if (firstError) warn(`Restored the previous intact checkpoint ${c} instead.`);
        return loaded;
      } catch (e) {
        if (!(e instanceof CheckpointError) || !fallback) throw e;
        firstError ??= e;
        warn(`Skipping corrupt checkpoint: ${e.message}`);
      }
    }
    if (firstError) throw firstError;
    return undefined;
  }

  private restoreForTraining(fallback: boolean): Restored {
    const candidates = fallback ? checkpointCandidates(this.modelDir) : [this.latestCheckpoint()].filter((c): c is string => !!c);
    const loaded = this.loadWithFallback(candidates, fallback);
    if (loaded) return { tensors: loaded.tensors, globalStep: loaded.meta.globalStep, path: loaded.path };
    if (this.warmStartFrom) return { tensors: this.warmStartTensors(this.warmStartFrom), globalStep: 0 };
    return { tensors: {}, globalStep: 0 };
  }

  private restoreForInference(checkpointPath: string | undefined, what: string, fallback: boolean): Restored {
    if (checkpointPath) {
      const loaded = loadCheckpoint(path.resolve(checkpointPath));
      return { tensors: loaded.tensors, globalStep: loaded.meta.globalStep, path: loaded.path };
    }
    const candidates = fallback ? checkpointCandidates(this.modelDir) : [this.latestCheckpoint()].filter((c): c is string => !!c);
    const loaded = this.loadWithFallback(candidates, fallback);
    if (loaded) return { tensors: loaded.tensors, globalStep: loaded.meta.globalStep, path: loaded.path };
    warn(`${what}: could not find a trained model in ${this.modelDir}; running with freshly initialised variables.`);
    if (this.warmStartFrom) return { tensors: this.warmStartTensors(this.warmStartFrom), globalStep: 0 };
    return { tensors: {}, globalStep: 0 };
  }

  private warmStartTensors(ws: WarmStartSettings): tf.NamedTensorMap {
    const src = path.resolve(ws.ckptToInitializeFrom);
    const ckpt = fs.existsSync(path.join(src, 'meta.json')) ? src : latestCheckpoint(src);
    if (!ckpt) throw new Error(`warmStartFrom: no checkpoint found in ${src}; point it at a trained modelDir or a model.ckpt-N directory.`);
    const loaded = loadCheckpoint(ckpt);
    const trainable = new Set(loaded.meta.trainable ?? Object.keys(loaded.tensors));
    const pattern = ws.varsToWarmStart ?? '.*';
    const matches = (name: string): boolean => {
      if (Array.isArray(pattern)) return pattern.some((p) => new RegExp(p).test(name));
      return trainable.has(name) && new RegExp(pattern).test(name);
    };
    const out: tf.NamedTensorMap = {};
    for (const [name, t] of Object.entries(loaded.tensors)) {
      if (name !== GLOBAL_STEP_NAME && matches(name)) out[name] = t;
      else t.dispose();
    }
    info(`Warm-starting ${Object.keys(out).length} variables from ${ckpt}.`);
    return out;
  }
}

function toFetched(t: tf.Tensor): FetchedValue {
  if (t.rank === 0) return t.dataSync()[0] as number;
  return t.arraySync() as FetchedValue;
}

/** Resolves every hook's requests against the step's tensors; keys are `<hook index>:<name>`. */
function fetchAll(args: RunArgs[], step: StepTensors, globalStep: number): Record<string, FetchedValue> {
  const out: Record<string, FetchedValue> = {};
  args.forEach((a, i) => {
    for (const [name, req] of Object.entries(a.fetches ?? {})) out[`${i}:${name}`] = resolveRequest(req, step, globalStep);
  });
  return out;
}

function resolveRequest(req: TensorRequest, step: StepTensors, globalStep: number): FetchedValue {
  if (typeof req === 'function') {
    const t = req(step);
    if (!(t instanceof tf.Tensor)) throw new Error('A hook fetch function must return a tf.Tensor.');
    return toFetched(t);
  }
  if (req === 'global_step' || req === 'globalStep') return globalStep;
  if (req === 'loss') {
    if (!step.loss) throw new Error("A hook asked for 'loss' but this mode has no loss.");
    return toFetched(step.loss);
  }
  const p = step.predictions;
  if (p instanceof tf.Tensor && req === 'predictions') return toFetched(p);
  if (p && !(p instanceof tf.Tensor) && p[req]) return toFetched(p[req]);
  if (step.scalars[req]) return toFetched(step.scalars[req]);
  const known = ['loss', 'global_step', ...(p instanceof tf.Tensor ? ['predictions'] : Object.keys(p ?? {})), ...Object.keys(step.scalars)];
  throw new Error(`A hook asked for '${req}', which this step did not produce; available: ${known.join(', ')}.`);
}

interface PredictionBatch {
  values: Prediction;
  batchSize: number;
}

function readTensor(t: tf.Tensor): PredictionValue {
  if (t.rank <= 1) return t.dataSync().slice() as Float32Array | Int32Array | Uint8Array;
  return t.arraySync() as number[][];
}

function readPredictions(p: Predictions, keys: string[] | undefined): PredictionBatch {
  if (p instanceof tf.Tensor) {
    if (keys)
      throw new Error(
        'predictKeys was given, but modelFn returned a single predictions tensor; return an object of tensors to select keys.',
      );
    return { values: readTensor(p), batchSize: p.shape[0] ?? 1 };
  }
  const selected = keys ?? Object.keys(p);
  const values: Record<string, PredictionValue> = {};
  let batchSize: number | undefined;
  for (const k of selected) {
    const t = p[k];
    if (!t) throw new Error(`predictKeys asks for '${k}', but predictions only have: ${Object.keys(p).join(', ')}.`);
    if (t.rank === 0) throw new Error(`predictions['${k}'] is a scalar; every prediction needs a batch axis (shape [batch, ...]).`);
    if (batchSize !== undefined && t.shape[0] !== batchSize) {
      throw new Error(
        `predictions['${k}'] has batch size ${t.shape[0]} but another key has ${batchSize}; all predictions need the same batch axis.`,
      );
    }
    batchSize = t.shape[0];
    values[k] = readTensor(t);
  }
  return { values, batchSize: batchSize ?? 0 };
}

function exampleOf(v: PredictionValue, i: number): PredictionValue {
  if (ArrayBuffer.isView(v)) return (v as Float32Array)[i];
  return (v as number[][])[i] as PredictionValue;
}

function splitExamples(b: PredictionBatch): Prediction[] {
  const out: Prediction[] = [];
  const isDict = !(ArrayBuffer.isView(b.values) || Array.isArray(b.values));
  for (let i = 0; i < b.batchSize; i++) {
    if (!isDict) {
      out.push(exampleOf(b.values as PredictionValue, i));
      continue;
    }
    const ex: Record<string, PredictionValue> = {};
    for (const [k, v] of Object.entries(b.values as Record<string, PredictionValue>)) {
      const e = exampleOf(v, i);
      // Rank-1 rows come back as typed arrays: friendlier than number[] for probabilities.
      ex[k] = Array.isArray(e) && (e as unknown[]).every((x) => typeof x === 'number') ? Float32Array.from(e as number[]) : e;
    }
    out.push(ex);
  }
  return out;
}

function checkCount(v: number | undefined, name: string): void {
  if (v != null && (!Number.isInteger(v) || v <= 0)) {
    throw new Error(`${name} must be a positive integer, got ${String(v)}.`);
  }
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}

function wrapModelFnError(e: unknown, mode: ModeKey, step: number): Error {
  if (!(e instanceof Error)) return new Error(`modelFn threw ${String(e)} in ${mode} mode at global step ${step}.`);
  if (e instanceof KeyboardInterrupt) return e;
  e.message = `${e.message}\n  (raised in modelFn, ${mode} mode, global step ${step})`;
  return e;
}
