// The `summary` namespace of the public API: recording inside modelFn / inputFn, the event
// file writer and readers, and the summary hooks. Loop plumbing (the active collector, step
// collectors, the writer cache, evaluate's summaries) is imported from its own modules by the Estimator and tests.
export { scalar, image, histogram } from './collect';
export type { ImageOptions } from './image';
export { histogramOf, defaultBucketLimits } from './histogram';
export { readEventFile, readEventsDir, readScalars, readHistograms, readImages, eventFiles } from '../../events/reader';
export type { ScalarPoint, HistogramPoint, ImagePoint, ReadEventsOptions } from '../../events/reader';
export type { TfEvent, SummaryValue, HistogramValue, ImageValue, SessionLogValue } from '../../events/proto';
export { EventFileWriter } from '../../events/writer';
export { SummarySaverHook } from '../hooks/summary-saver-hook';
export type { SummarySaverHookOptions } from '../hooks/summary-saver-hook';
export { StepCounterHook } from '../hooks/step-counter-hook';
export type { StepCounterHookOptions } from '../hooks/step-counter-hook';
