// `display`: the rich display helpers, preloaded in the kernel. Every helper builds a MIME
// bundle, shows it through the current DisplaySink when there is one (inside the kernel), and
// returns it (so scripts and tests get the bundle, and toHtmlFile can write it to a page).
import { inspect } from 'node:util';
import { looksLikeMimeBundle, markBundle, show } from './bundle';
import { confusionMatrixBundle, ConfusionMatrixOptions, histogramBundle, HistogramOptions, plotBundle } from './charts';
import { htmlToText } from './html';
import { toHtmlFile, HtmlFileOptions } from './html-file';
import type { ImageInput } from './image-data';
import { imageBundle, ImageOptions, imagesBundle, ImagesOptions } from './images';
import { PlotlyConfig, plotlyLibraryBundle, PlotlyLayout, PlotlyTrace } from './plotly';
import { predictionsBundle, PredictionRecord, PredictionsOptions } from './predictions';
import { progress, Progress, ProgressOptions } from '../host/progress';
import { toMimeBundle } from './rich';
import { DisplayOptions, getDisplaySink, MimeBundle } from '../host/sink';
import { histogramsBundle, HistogramsOptions, scalarsBundle, ScalarsOptions } from './tensorboard';
import type { NumericInput } from './values';

/** Options of display.clearOutput. */
export interface ClearOutputOptions {
  /** Clear only when the next output arrives (no flicker when redrawing). */
  wait?: boolean;
}

/** The type of `display`: a function that shows any value, with the helpers as its methods. */
export interface Display {
  /** Shows a MIME bundle, or any value in its richest form (tensors as tables); returns the bundle. */
  (value: unknown, opts?: DisplayOptions): MimeBundle;
  /** One image: tensor or typed array, HW / HWC (1, 3 or 4 channels), float [0,1] or 0..255 integers. */
  image(image: ImageInput, opts?: ImageOptions): MimeBundle;
  /** A grid of images: NHWC / NHW batch or a list; optional titles, cols, scale. */
  images(batch: ImageInput | ImageInput[], opts?: ImagesOptions): MimeBundle;
  /** Histogram of any numbers (tensor, typed array, nested arrays). */
  histogram(values: NumericInput, opts?: HistogramOptions): MimeBundle;
  /** Raw plotly traces and layout. */
  plot(data: PlotlyTrace[] | PlotlyTrace, layout?: PlotlyLayout, config?: PlotlyConfig): MimeBundle;
  /** TensorBoard scalars of a model directory: one chart per tag, train and eval overlaid. */
  scalars(modelDir: string, opts?: ScalarsOptions): Promise<MimeBundle>;
  /** A histogram summary tag over the training steps. */
  histograms(modelDir: string, tag: string, opts?: HistogramsOptions): Promise<MimeBundle>;
  /** Heatmap of counts: true class by row, predicted class by column. */
  confusionMatrix(labels: NumericInput, predictions: NumericInput, opts?: ConfusionMatrixOptions): MimeBundle;
  /** Gallery of predictions (array or est.predict's async generator) with images, bars, truth. */
  predictions(predictions: Iterable<PredictionRecord> | AsyncIterable<PredictionRecord>, opts?: PredictionsOptions): Promise<MimeBundle>;
  /** A live progress line (one display updated in place in the kernel, plain text elsewhere). */
  progress(opts: ProgressOptions): Progress;
  /** Replaces the output shown with `{displayId}`. */
  update(value: unknown, displayId: string): MimeBundle;
  /** Clears the cell's output (with wait: when the next output arrives). */
  clearOutput(opts?: ClearOutputOptions): void;
  /** Shows HTML (with a plain-text fallback for non-HTML frontends). */
  html(html: string, opts?: DisplayOptions): MimeBundle;
  /** Shows Markdown, rendered by the frontend. */
  markdown(markdown: string, opts?: DisplayOptions): MimeBundle;
  /** Writes bundles into a standalone HTML page that works offline; returns its path. */
  toHtmlFile(bundles: MimeBundle | MimeBundle[], file: string, opts?: HtmlFileOptions): string;
  /** Puts plotly.js in this output: restores charts whose library-carrying output was lost. */
  plotlyLibrary(): MimeBundle;
}

/** The bundle for any value: bundles pass through, rich values are converted, others inspected. */
export function bundleOf(value: unknown): MimeBundle {
  if (looksLikeMimeBundle(value)) return value;
  if (typeof value === 'string') return { 'text/plain': value };
  return toMimeBundle(value) ?? { 'text/plain': inspect(value, { depth: 4, maxArrayLength: 50 }) };
}

function displayValue(value: unknown, opts?: DisplayOptions): MimeBundle {
  return show(bundleOf(value), opts);
}

const idOf = (opts?: { displayId?: string }): DisplayOptions | undefined => (opts?.displayId ? { displayId: opts.displayId } : undefined);

/**
 * IPython's display in the kernel: shows a value in its richest form (tensors as tables, MIME
 * bundles as they are), and its methods show images, charts, TensorBoard data and progress.
 * Every call returns the MIME bundle it showed (outside the kernel it only returns it).
 * @example display.images(batch.image, { cols: 8 }); await display.scalars(est.modelDir);
 */
export const display: Display = Object.assign(displayValue, {
  image(image: ImageInput, opts?: ImageOptions): MimeBundle {
    return show(imageBundle(image, opts), idOf(opts));
  },
  images(batch: ImageInput | ImageInput[], opts?: ImagesOptions): MimeBundle {
    return show(imagesBundle(batch, opts), idOf(opts));
  },
  histogram(values: NumericInput, opts?: HistogramOptions): MimeBundle {
    return show(histogramBundle(values, opts), idOf(opts));
  },
  plot(data: PlotlyTrace[] | PlotlyTrace, layout?: PlotlyLayout, config?: PlotlyConfig): MimeBundle {
    return show(plotBundle(data, layout, config));
  },
  async scalars(modelDir: string, opts?: ScalarsOptions): Promise<MimeBundle> {
    return show(await scalarsBundle(modelDir, opts), idOf(opts));
  },
  async histograms(modelDir: string, tag: string, opts?: HistogramsOptions): Promise<MimeBundle> {
    return show(await histogramsBundle(modelDir, tag, opts), idOf(opts));
  },
  confusionMatrix(labels: NumericInput, predictions: NumericInput, opts?: ConfusionMatrixOptions): MimeBundle {
    return show(confusionMatrixBundle(labels, predictions, opts), idOf(opts));
  },
  async predictions(
    predictions: Iterable<PredictionRecord> | AsyncIterable<PredictionRecord>,
    opts?: PredictionsOptions,
  ): Promise<MimeBundle> {
    return show(await predictionsBundle(predictions, opts), idOf(opts));
  },
  progress(opts: ProgressOptions): Progress {
    return progress(opts);
  },
  update(value: unknown, displayId: string): MimeBundle {
    const bundle = markBundle(bundleOf(value));
    getDisplaySink()?.update(bundle, displayId);
    return bundle;
  },
  clearOutput(opts?: ClearOutputOptions): void {
    getDisplaySink()?.clearOutput(opts?.wait ?? false);
  },
  html(html: string, opts?: DisplayOptions): MimeBundle {
    return show({ 'text/html': html, 'text/plain': htmlToText(html) }, opts);
  },
  markdown(markdown: string, opts?: DisplayOptions): MimeBundle {
    return show({ 'text/markdown': markdown, 'text/plain': markdown }, opts);
  },
  toHtmlFile(bundles: MimeBundle | MimeBundle[], file: string, opts?: HtmlFileOptions): string {
    return toHtmlFile(bundles, file, opts);
  },
  plotlyLibrary(): MimeBundle {
    return show(plotlyLibraryBundle());
  },
});

export { toMimeBundle } from './rich';
export { isAlreadyDisplayed, displaySymbol } from './bundle';
export { progress } from '../host/progress';
export type { Progress, ProgressOptions, ProgressState, ProgressStatus } from '../host/progress';
export type { MimeBundle, DisplaySink, DisplayOptions } from '../host/sink';
export type { ImageInput, ValueRange } from './image-data';
export type { ImageOptions, ImagesOptions } from './images';
export type { HistogramOptions, ConfusionMatrixOptions } from './charts';
export type { PlotlyTrace, PlotlyLayout, PlotlyConfig, PlotlyFigure } from './plotly';
export type { PredictionRecord, PredictionsOptions } from './predictions';
export type { ScalarsOptions, HistogramsOptions } from './tensorboard';
export type { HtmlFileOptions } from './html-file';
export type { NumericInput } from './values';
