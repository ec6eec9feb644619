// The `hooks` namespace of the public API (tf.train.*Hook and tf.estimator's early stopping).
export {
  StopAtStepHook,
  CheckpointSaverHook,
  LoggingTensorHook,
  NanTensorHook,
  NanLossDuringTrainingError,
  StopAfterNEvalsHook,
  StepTimer,
} from './basic-hooks';
export type { CheckpointSaverListener, CheckpointSaverOptions, LoggingTensorHookOptions } from './basic-hooks';

export type { SessionRunHook, RunContext, RunArgs, RunValues, SessionInfo, Outcome, TensorRequest, FetchedValue } from './hook';
export { SummarySaverHook } from './summary-saver-hook';
export type { SummarySaverHookOptions } from './summary-saver-hook';
export { StepCounterHook } from './step-counter-hook';
export type { StepCounterHookOptions } from './step-counter-hook';
export { EarlyStoppingHook, stopIfNoDecrease, stopIfNoIncrease } from './early-stopping';
export type { EarlyStoppingOptions } from './early-stopping';
