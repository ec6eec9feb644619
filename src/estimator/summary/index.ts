// The `summary` namespace of the public API.
export { scalar, image, histogram, histogramOf, SummaryCollector } from './collect';
export { readEventFile, readEventsDir, readScalars, readHistograms, readImages, eventFiles } from './reader';
export type { ScalarPoint, HistogramPoint, ImagePoint, TfEvent } from './reader';
export { EventFileWriter } from './writer';
export { SummarySaverHook, StepCounterHook } from './hooks';
