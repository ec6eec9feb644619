// tfjs-estimator's public API: what `import {...} from 'tfjs-estimator'` gives, and what the
// kernel preloads as globals in every cell.
import * as tf from '@tensorflow/tfjs';
import * as layers from './layers';
import * as train from './estimator/train-api';
import * as losses from './estimator/losses';
import * as metrics from './estimator/metrics';
import * as data from './data';
import * as hooks from './estimator/hooks';
import * as summary from './estimator/summary';

export { tf, layers, train, losses, metrics, data, hooks, summary };
export { display } from './display';
export { logging } from './host/log';
export type { LogLevel, LogSink } from './host/log';
export { datasets } from './data';
export { trainAndEvaluate } from './estimator/train-and-evaluate';
export type { TrainSpec, EvalSpec, Exporter, TrainAndEvaluateResult } from './estimator/train-and-evaluate';
export type { MetricOp } from './estimator/metrics';
export { Estimator } from './estimator/estimator';
export type {
  ModelFn,
  Params,
  EstimatorOptions,
  TrainOptions,
  EvaluateOptions,
  PredictOptions,
  Prediction,
  PredictionValue,
  EvalResults,
  WarmStartSettings,
} from './estimator/estimator';
export { EstimatorSpec, ModeKeys } from './estimator/spec';
export type { ModeKey, EstimatorSpecOptions, Predictions } from './estimator/spec';
export { RunConfig } from './estimator/run-config';
export type { RunConfigOptions } from './estimator/run-config';
export type { InputFn, InputBatch, TensorOrDict } from './estimator/input';
export { GraphKeys, getCollection } from './framework/graph';
export { getVariable, variableScope, initializers } from './framework/variables';
export { KeyboardInterrupt } from './host/interrupt';
export { CheckpointError, latestCheckpoint } from './estimator/checkpoint';
export { restoreAndRun } from './estimator/restore';
export {
  exportSavedModel,
  buildRawServingInputReceiverFn,
  LatestExporter,
  BestExporter,
  FinalExporter,
  UnsupportedKernelError,
} from './estimator/export';
export type {
  ServingInputFn,
  ServingInputReceiver,
  ExportSavedModelOptions,
  LatestExporterOptions,
  BestExporterOptions,
  CompareFn,
} from './estimator/export';
