// The `summary` namespace of the public API: recording inside modelFn / inputFn, the event
// file writer and readers, and the summary hooks. Loop plumbing (step collectors, the writer
// cache) is imported from its own modules by the Estimator.
export { scalar, image, histogram, SummaryCollector, withCollector, activeCollector, setActiveCollector } from './collect';
export type { ImageOptions } from './image';
export { histogramOf, defaultBucketLimits } from './histogram';
export { readEventFile, readEventsDir, readScalars, readHistograms, readImages, eventFiles } from '../../events/reader';
export type { ScalarPoint, HistogramPoint, ImagePoint, ReadEventsOptions } from '../../events/reader';
export type { TfEvent, SummaryValue, HistogramValue, ImageValue, SessionLogValue } from '../../events/proto';
export { EventFileWriter } from '../../events/writer';
export { closeAllWriters } from './writer-cache';
export { writeEvalSummary, evalDir, EvalSummaryHook } from './eval-summary';
export { SummarySaverHook } from '../hooks/summary-saver-hook';
export type { SummarySaverHookOptions } from '../hooks/summary-saver-hook';
export { StepCounterHook } from '../hooks/step-counter-hook';
export type { StepCounterHookOptions } from '../hooks/step-counter-hook';
