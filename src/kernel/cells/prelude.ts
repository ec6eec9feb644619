// What every cell sees: the library and the display helpers as typed globals. The prelude is
// the kernel's first (hidden) cell, so its declarations take part in type-checking and
// completion of every later cell. It imports the library through its type bundle (see
// ../compiler/type-bundle.ts), whose .js twin is the library itself.
//
// preludeSource is called in the compiler thread: this module must not import the library.
import * as path from 'path';
import type { TypeBundle } from '../compiler/type-bundle';

const stdinModule = path.join(__dirname, '..', '..', 'host', 'stdin').replace(/\\/g, '/');

export function preludeSource(bundle: TypeBundle): string {
  const lib = bundle.modulePath.replace(/\\/g, '/');
  return [
    `import * as tfjsEstimator from ${JSON.stringify(lib)};`,
    `import { input } from ${JSON.stringify(stdinModule)};`,
    // Import aliases carry both meanings: tf.zeros(...) as a value and tf.Tensor as a type;
    // type-only exports (ModelFn, InputFn, ...) become type names the same way.
    ...bundle.exportNames.filter((n) => /^[A-Za-z_$][\w$]*$/.test(n)).map((n) => `import ${n} = tfjsEstimator.${n};`),
    'const prompt = input;',
  ].join('\n');
}

export function kernelBanner(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily: the compiler thread must not load the library
  const { backendReport } = require('../../backend/select') as typeof import('../../backend/select');
  const r = backendReport();
  return [
    'TypeScript (tfjs-estimator): tf.estimator on TensorFlow.js, with inline display.',
    r ? r.summary : 'backend: chosen at the first train/evaluate/predict (or await tf.ready()).',
    'Globals: tf, Estimator, EstimatorSpec, ModeKeys, RunConfig, layers, losses, train, metrics, summary, hooks, data, datasets, display, logging.',
  ].join('\n');
}
