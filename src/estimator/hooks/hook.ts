// The hook interface of the training / evaluation / prediction loops (tf.estimator's
// SessionRunHook, in eager form). Every built-in behaviour around the loop (logging,
// checkpoints, summaries, NaN checks, progress, early stopping) is a hook.
import type * as tf from '@tensorflow/tfjs';
import type { ModeKey } from '../../framework/mode';

/** What a hook may ask to see after a step: a name of a tensor the step produced
 *  ('loss', 'global_step', a key of spec.predictions, a summary scalar's name) or a function
 *  picking a tensor from the step's EstimatorSpec-like record. */
export type TensorRequest = string | ((step: StepTensors) => tf.Tensor | undefined);

/** Tensors of the step just run, as hooks see them (valid only inside afterRun's fetch). */
export interface StepTensors {
  loss?: tf.Tensor;
  predictions?: tf.Tensor | Record<string, tf.Tensor>;
  /** Scalar summaries recorded during the step, by name. */
  scalars: Record<string, tf.Tensor>;
}

/** A fetched value: scalars become numbers, others nested number arrays. */
export type FetchedValue = number | number[] | number[][] | number[][][] | number[][][][];

/** tf.train.SessionRunContext: what beforeRun and afterRun see of the running loop. */
export interface RunContext {
  /** The mode the loop runs modelFn in. */
  readonly mode: ModeKey;
  /** The Estimator's model directory. */
  readonly modelDir: string;
  /** Global step before this step runs (beforeRun) or after it ran (afterRun). */
  readonly globalStep: number;
  /** Ask the loop to stop after this step (StopAtStepHook, early stopping, NaN). */
  requestStop(reason?: string): void;
  /** Whether some hook asked to stop. */
  readonly stopRequested: boolean;
}

/** tf.train.SessionRunArgs: what beforeRun returns. */
export interface RunArgs {
  /** name -> what to fetch; afterRun receives name -> value. */
  fetches?: Record<string, TensorRequest>;
}

/** tf.train.SessionRunValues: what afterRun receives. */
export interface RunValues {
  /** The values of beforeRun's fetches, by name. */
  results: Record<string, FetchedValue>;
}

/** How a run ended: the input ended or a hook stopped it; an interrupt (KeyboardInterrupt);
 *  or an error. */
export type Outcome = 'done' | 'interrupted' | 'failed';

/** What begin, afterCreateSession and end receive: the loop's mode, directory and global step. */
export interface SessionInfo {
  /** The mode the loop runs modelFn in. */
  readonly mode: ModeKey;
  /** The Estimator's model directory. */
  readonly modelDir: string;
  /** The global step (restored at begin, final at end). */
  readonly globalStep: number;
  /** Training only: saves a checkpoint at the current global step (skipped, returning
   *  undefined, when a variable holds NaN/Inf), and returns its path. */
  readonly saveCheckpoint?: () => Promise<string | undefined>;
  /** In end() only: how the run ended, and the error when it failed or was interrupted. */
  readonly outcome?: Outcome;
  /** In end() only: the error when the run failed or was interrupted. */
  readonly error?: unknown;
}

/** All methods are optional; each may be async. The loop calls begin and afterCreateSession
 *  once, beforeRun and afterRun around every step (the first included), and end once whenever
 *  begin was called, with the outcome: hooks that must not act on a failed run check it. */
export interface SessionRunHook {
  /** Before the loop starts; variables may not exist yet. */
  begin?(info: SessionInfo): void | Promise<void>;
  /** After the latest checkpoint was restored (variables exist, globalStep is known). */
  afterCreateSession?(info: SessionInfo): void | Promise<void>;
  /** Before each step; return {fetches} to receive those values in afterRun. */
  beforeRun?(ctx: RunContext): RunArgs | void | Promise<RunArgs | void>;
  /** After each step, with the values of beforeRun's fetches; may call ctx.requestStop(). */
  afterRun?(ctx: RunContext, values: RunValues): void | Promise<void>;
  /** After the last step, also when the run was interrupted or failed (info.outcome says which;
   *  errors thrown by end() after a failure are ignored: the run's own error is reported). */
  end?(info: SessionInfo): void | Promise<void>;
}
