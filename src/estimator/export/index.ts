// Export for serving: Estimator.exportSavedModel's implementation, serving input helpers and
// the exporters for EvalSpec.exporters.
export { exportSavedModel, MODEL_FILE, WEIGHTS_FILE } from './export-saved-model';
export type { ExportableEstimator, ExportSavedModelOptions } from './export-saved-model';
export { buildRawServingInputReceiverFn, SINGLE_INPUT_KEY, SINGLE_OUTPUT_KEY } from './serving';
export type { ServingInputFn, ServingInputReceiver, RawFeatureSpec } from './serving';
export { LatestExporter, BestExporter, FinalExporter, lossSmaller } from './exporters';
export type { LatestExporterOptions, BestExporterOptions, CompareFn } from './exporters';
export { UnsupportedKernelError, supportedKernels } from './kernel-map';
export { listExports } from './export-dir';
