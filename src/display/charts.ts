// Charts computed from values in memory: histogram, confusion matrix, raw plotly figures.
import { formatNumber } from './html';
import { plotlyBundle, PlotlyConfig, PlotlyLayout, PlotlyTrace } from './plotly';
import type { MimeBundle } from '../host/sink';
import { NumericInput, readNumbers, readValues } from './values';

export interface HistogramOptions {
  /** Number of equal-width bins (default 30). */
  bins?: number;
  title?: string;
  /** Lower and upper edge; default: the values' min and max. NaN and Inf are skipped. */
  range?: [number, number];
  displayId?: string;
}

export interface Histogram {
  edges: number[];
  counts: number[];
  /** Values that were NaN or infinite, left out. */
  skipped: number;
}

/** Equal-width binning, the last bin closed on the right (like numpy.histogram). */
export function computeHistogram(values: ArrayLike<number>, bins: number, range?: [number, number]): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`display.histogram: bins must be a positive integer, got ${bins}`);
  let lo = Infinity;
  let hi = -Infinity;
  let skipped = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      skipped++;
      continue;
    }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (range) [lo, hi] = range;
  if (lo === Infinity) [lo, hi] = [0, 1];
  if (hi <= lo) [lo, hi] = [lo - 0.5, lo + 0.5];
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { edges, counts, skipped };
}

export function histogramBundle(values: NumericInput, opts: HistogramOptions = {}): MimeBundle {
  const flat = readValues(values, 'histogram values').values;
  const h = computeHistogram(flat, opts.bins ?? 30, opts.range);
  const width = h.edges[1] - h.edges[0];
  const centres = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
  const title = opts.title ?? 'Histogram';
  const trace: PlotlyTrace = {
    type: 'bar',
    name: 'count',
    x: centres,
    y: h.counts,
    width: new Array<number>(h.counts.length).fill(width),
    marker: { color: '#1f77b4', line: { width: 0 } },
    hovertemplate: '[%{customdata[0]}, %{customdata[1]}): %{y}<extra></extra>',
    customdata: h.counts.map((_, i) => [formatNumber(h.edges[i]), formatNumber(h.edges[i + 1])]),
  };
  const stats = describeValues(flat);
  const summary = `Histogram: ${title} (${flat.length} values, ${h.counts.length} bins, ${stats}${h.skipped ? `, ${h.skipped} NaN/Inf skipped` : ''})`;
  return plotlyBundle(
    {
      data: [trace],
      layout: {
        title: { text: title },
        bargap: 0.02,
        xaxis: { title: { text: 'value' } },
        yaxis: { title: { text: 'count' } },
        height: 350,
      },
    },
    { summary },
  );
}

function describeValues(values: ArrayLike<number>): string {
  let n = 0;
  let sum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return n === 0 ? 'no finite values' : `min ${formatNumber(lo)}, max ${formatNumber(hi)}, mean ${formatNumber(sum / n)}`;
}

export function plotBundle(data: PlotlyTrace[] | PlotlyTrace, layout: PlotlyLayout = {}, config?: PlotlyConfig): MimeBundle {
  const traces = Array.isArray(data) ? data : [data];
  return plotlyBundle({ data: traces, layout, config });
}

export interface ConfusionMatrixOptions {
  /** Names of the classes, index = class id; also fixes the number of classes. */
  classNames?: string[];
  /** Number of classes when there are no names (default: largest id + 1). */
  numClasses?: number;
  title?: string;
  displayId?: string;
}

/** counts[true][predicted]. */
export function computeConfusionMatrix(labels: number[], preds: number[], numClasses: number): number[][] {
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  labels.forEach((t, i) => {
    const p = preds[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses)) {
      throw new RangeError(
        `display.confusionMatrix: example ${i} has label ${t} / prediction ${p} outside 0..${numClasses - 1}; pass classNames or numClasses`,
      );
    }
    m[t][p]++;
  });
  return m;
}

export function confusionMatrixBundle(labels: NumericInput, preds: NumericInput, opts: ConfusionMatrixOptions = {}): MimeBundle {
  const y = readNumbers(labels, 'labels').map(Math.round);
  const p = readNumbers(preds, 'predictions').map(Math.round);
  if (y.length !== p.length)
    throw new RangeError(`display.confusionMatrix: ${y.length} labels but ${p.length} predictions; pass one prediction per label`);
  const n = opts.classNames?.length ?? opts.numClasses ?? Math.max(0, ...y, ...p) + 1;
  const names = opts.classNames ?? Array.from({ length: n }, (_, i) => String(i));
  const m = computeConfusionMatrix(y, p, n);
  const correct = m.reduce((s, row, i) => s + row[i], 0);
  const accuracy = y.length ? correct / y.length : 0;
  const title = opts.title ?? `Confusion matrix (accuracy ${(accuracy * 100).toFixed(2)}%, ${y.length} examples)`;
  const trace: PlotlyTrace = {
    type: 'heatmap',
    name: 'counts',
    z: m,
    x: names,
    y: names,
    colorscale: [
      [0, '#f7fbff'],
      [0.5, '#6baed6'],
      [1, '#08306b'],
    ],
    texttemplate: '%{z}',
    hovertemplate: 'true %{y}, predicted %{x}: %{z}<extra></extra>',
  };
  const side = Math.min(900, Math.max(350, 45 * n + 150));
  const layout: PlotlyLayout = {
    title: { text: title },
    xaxis: { title: { text: 'predicted' }, type: 'category', side: 'bottom' },
    yaxis: { title: { text: 'true' }, type: 'category', autorange: 'reversed' },
    height: side,
    width: side + 80,
  };
  const width = Math.max(...names.map((s) => s.length), ...m.flat().map((v) => String(v).length), 4);
  const table = [['true\\pred', ...names], ...m.map((row, i) => [names[i], ...row.map(String)])]
    .map((r) => r.map((c) => c.padStart(width)).join(' '))
    .join('\n');
  return plotlyBundle({ data: [trace], layout }, { summary: `${title}\n${table}` });
}
