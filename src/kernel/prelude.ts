// What every cell sees: the library and the display helpers as typed globals. It runs as the
// kernel's first (hidden) cell, so its declarations take part in type-checking and completion.
import * as path from 'path';
import { backendReport } from '../backend/select';

const TYPE_NAMES = ['ModeKey', 'ModelFn', 'Params', 'InputFn', 'Prediction', 'EvalResults', 'TrainOptions', 'EvaluateOptions', 'PredictOptions', 'MetricOp', 'TensorOrDict'];

export function preludeSource(): string {
  // dist/src/index (compiled JS with .d.ts beside it), found from wherever the kernel runs.
  const lib = path.join(__dirname, '..', 'index').replace(/\\/g, '/');
  const stdin = path.join(__dirname, 'stdin').replace(/\\/g, '/');
  // Every value the library exports becomes a global of the same name (types included).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const names = Object.keys(require(lib) as object).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
  return [
    `import * as tfjsEstimator from ${JSON.stringify(lib)};`,
    `import { input } from ${JSON.stringify(stdin)};`,
    // Import aliases carry both meanings: tf.zeros(...) as a value and tf.Tensor as a type.
    ...names.map((n) => `import ${n} = tfjsEstimator.${n};`),
    // The main types too, so cells can annotate with them.
    ...TYPE_NAMES.map((n) => `type ${n} = tfjsEstimator.${n};`),
    'const prompt = input;',
  ].join('\n');
}

export function kernelBanner(): string {
  const r = backendReport();
  return [
    'TypeScript (tfjs-estimator): tf.estimator on TensorFlow.js, with inline display.',
    r ? r.summary : 'backend: chosen at the first train/evaluate/predict (or await tf.ready()).',
    'Globals: tf, Estimator, EstimatorSpec, ModeKeys, RunConfig, layers, losses, train, metrics, summary, hooks, data, datasets, display.',
  ].join('\n');
}
