// An inline TensorBoard: scalars and histograms read from a model directory's event files
// (train run = files directly in modelDir, eval runs = modelDir/eval and eval_<name>).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { markBundle } from './bundle';
import { escapeHtml, formatNumber } from './html';
import { plotlyBundle, PlotlyLayout, PlotlyTrace } from './plotly';
import type { MimeBundle } from '../host/sink';
import type { HistogramPoint, ScalarPoint } from '../events/reader';

// The reader pulls in protobufjs: required on first use, not when the kernel starts.
type SummaryReader = typeof import('../events/reader');

function summaryReader(): SummaryReader {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use (see above)
  return require('../events/reader') as SummaryReader;
}

export interface ScalarsOptions {
  /** Tags to draw (exact names or patterns); default all. */
  tags?: (string | RegExp)[];
  /** TensorBoard-style exponential smoothing in [0, 1) (default 0: raw values). */
  smoothing?: number;
  /** Charts per row (default 2). */
  cols?: number;
  title?: string;
  displayId?: string;
}

export interface HistogramsOptions {
  /** 'train' (default), or an eval run's folder name ('eval', 'eval_<name>'). */
  run?: string;
  /** 'heatmap' (value by step, default) or 'lines' (one distribution per step, newest darkest). */
  mode?: 'heatmap' | 'lines';
  /** Value bins of the common axis (default 50). */
  bins?: number;
  title?: string;
  displayId?: string;
}

interface Run {
  name: string;
  dir: string;
}

const RUN_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/** The train run and the eval runs of a model directory. */
export function findRuns(modelDir: string): Run[] {
  if (!fs.existsSync(modelDir) || !fs.statSync(modelDir).isDirectory()) {
    throw new Error(`display: model directory ${modelDir} does not exist; pass the modelDir given to new Estimator(modelFn, modelDir)`);
  }
  const evals = fs
    .readdirSync(modelDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^eval($|_)/.test(e.name))
    .map((e) => ({ name: e.name, dir: path.join(modelDir, e.name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return [{ name: 'train', dir: modelDir }, ...evals];
}

function tagWanted(tag: string, filters: (string | RegExp)[] | undefined): boolean {
  if (!filters) return true;
  return filters.some((f) => (typeof f === 'string' ? f === tag : f.test(tag)));
}

/** Loss first, then the rest by name: the order a user scans them in. */
function tagOrder(a: string, b: string): number {
  const rank = (t: string): number => (t === 'loss' ? 0 : t.endsWith('loss') ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** TensorBoard's smoothing: a debiased exponential moving average. */
export function smooth(values: number[], weight: number): number[] {
  if (!(weight > 0)) return values.slice();
  let last = 0;
  let debias = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    return last / debias;
  });
}

function noDataBundle(what: string, modelDir: string, runs: Run[]): MimeBundle {
  const text = `No ${what} in ${modelDir} yet (looked in ${runs.map((r) => r.name).join(', ')}); train or evaluate first.`;
  return markBundle({ 'text/plain': text, 'text/html': `<div style="font:12px sans-serif;color:#8a6d3b">${escapeHtml(text)}</div>` });
}

function byStep<T extends { step: number }>(points: T[]): T[] {
  return points.slice().sort((a, b) => a.step - b.step);
}

export async function scalarsBundle(modelDir: string, opts: ScalarsOptions = {}): Promise<MimeBundle> {
  const runs = findRuns(modelDir);
  const reader = summaryReader();
  const data = new Map<string, Map<string, ScalarPoint[]>>();
  for (const run of runs) data.set(run.name, await reader.readScalars(run.dir));
  const tags = [...new Set([...data.values()].flatMap((m) => [...m.keys()]))].filter((t) => tagWanted(t, opts.tags)).sort(tagOrder);
  if (tags.length === 0)
    return noDataBundle(opts.tags ? `scalar summaries matching ${opts.tags.join(', ')}` : 'scalar summaries', modelDir, runs);

  const cols = Math.max(1, Math.min(opts.cols ?? 2, tags.length));
  const rows = Math.ceil(tags.length / cols);
  const traces: PlotlyTrace[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: PlotlyLayout = {
    title: { text: opts.title ?? `Scalars: ${modelDir}` },
    grid: { rows, columns: cols, pattern: 'independent', ygap: 0.35, xgap: 0.12 },
    height: 90 + 260 * rows,
    legend: { orientation: 'h', y: -0.08 / rows },
    hovermode: 'closest',
  };
  const lines: string[] = [];
  const legendShown = new Set<string>();
  const smoothing = opts.smoothing ?? 0;
  tags.forEach((tag, i) => {
    const axis = i === 0 ? '' : String(i + 1);
    layout[`xaxis${axis}`] = { title: { text: 'step', standoff: 2 }, automargin: true };
    layout[`yaxis${axis}`] = { automargin: true };
    annotations.push({
      text: `<b>${escapeHtml(tag)}</b>`,
      xref: `x${axis} domain`,
      yref: `y${axis} domain`,
      x: 0.5,
      y: 1.02,
      xanchor: 'center',
      yanchor: 'bottom',
      showarrow: false,
    });
    runs.forEach((run, r) => {
      const points = byStep(data.get(run.name)?.get(tag) ?? []);
      if (points.length === 0) return;
      const colour = RUN_COLOURS[r % RUN_COLOURS.length];
      const x = points.map((p) => p.step);
      const y = points.map((p) => p.value);
      const common = {
        x,
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
        legendgroup: run.name,
        name: run.name,
        hovertemplate: `${run.name} ${tag}<br>step %{x}: %{y}<extra></extra>`,
      };
      const mode = points.length === 1 ? 'markers' : 'lines+markers';
      const marker = { size: points.length > 50 ? 3 : 6, color: colour };
      if (smoothing > 0) {
        traces.push({
          ...common,
          type: 'scatter',
          mode: 'lines',
          y,
          line: { color: colour, width: 1 },
          opacity: 0.3,
          showlegend: false,
          hoverinfo: 'skip',
        });
        traces.push({
          ...common,
          type: 'scatter',
          mode,
          y: smooth(y, smoothing),
          marker,
          line: { color: colour, width: 2 },
          showlegend: !legendShown.has(run.name),
        });
      } else {
        traces.push({
          ...common,
          type: 'scatter',
          mode,
          y,
          marker,
          line: { color: colour, width: 2 },
          showlegend: !legendShown.has(run.name),
        });
      }
      legendShown.add(run.name);
      const last = points[points.length - 1];
      lines.push(`  ${tag} [${run.name}]: ${points.length} points, last ${formatNumber(last.value)} at step ${last.step}`);
    });
  });
  layout.annotations = annotations;
  const summary = `Scalars of ${modelDir} (${tags.length} tag${tags.length === 1 ? '' : 's'}, runs: ${runs
    .filter((r) => (data.get(r.name)?.size ?? 0) > 0)
    .map((r) => r.name)
    .join(', ')})\n${lines.join('\n')}`;
  const bundle = plotlyBundle({ data: traces, layout }, { summary });
  bundle['text/plain'] = summary;
  return bundle;
}

/** Counts of one histogram re-binned onto common edges, spreading each bucket evenly. */
export function rebin(h: HistogramPoint, edges: number[]): number[] {
  const out = new Array<number>(edges.length - 1).fill(0);
  const lo0 = edges[0];
  const width = edges[1] - edges[0];
  const binOf = (v: number): number => Math.max(0, Math.min(out.length - 1, Math.floor((v - lo0) / width)));
  let left = h.min;
  h.bucket.forEach((count, i) => {
    // TensorBoard buckets extend to +-DBL_MAX: clip them to the data's [min, max].
    const a = Math.max(h.min, i === 0 ? h.min : Math.min(left, h.max));
    const b = Math.min(h.max, h.bucketLimit[i]);
    left = h.bucketLimit[i];
    if (count === 0) return;
    if (!(b > a)) {
      out[binOf(Math.min(Math.max(a, h.min), h.max))] += count;
      return;
    }
    for (let k = binOf(a); k <= binOf(b) && k < out.length; k++) {
      const overlap = Math.min(b, edges[k + 1]) - Math.max(a, edges[k]);
      if (overlap > 0) out[k] += (count * overlap) / (b - a);
    }
  });
  return out;
}

export async function histogramsBundle(modelDir: string, tag: string, opts: HistogramsOptions = {}): Promise<MimeBundle> {
  const runs = findRuns(modelDir);
  const runName = opts.run ?? 'train';
  const run = runs.find((r) => r.name === runName);
  if (!run) throw new Error(`display.histograms: no run '${runName}' in ${modelDir}; runs: ${runs.map((r) => r.name).join(', ')}`);
  const all = await summaryReader().readHistograms(run.dir);
  const points = byStep(all.get(tag) ?? []);
  if (points.length === 0) {
    const known = [...all.keys()];
    if (known.length === 0) return noDataBundle(`histogram summaries`, modelDir, [run]);
    throw new Error(`display.histograms: no histogram tag '${tag}' in ${run.dir}; tags: ${known.join(', ')}`);
  }
  const lo = Math.min(...points.map((p) => p.min));
  const hi = Math.max(...points.map((p) => p.max));
  const bins = opts.bins ?? 50;
  const span = hi > lo ? hi - lo : 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + (span * i) / bins);
  const centres = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
  const counts = points.map((p) => rebin(p, edges));
  const steps = points.map((p) => p.step);
  const title = opts.title ?? `${tag} (${run.name})`;
  let traces: PlotlyTrace[];
  const layout: PlotlyLayout = { title: { text: title }, xaxis: { title: { text: 'value' } }, height: 420 };
  if ((opts.mode ?? 'heatmap') === 'heatmap') {
    traces = [
      {
        type: 'heatmap',
        name: tag,
        x: centres,
        y: steps,
        z: counts,
        colorscale: 'Viridis',
        hovertemplate: 'step %{y}<br>value %{x}<br>count %{z:.1f}<extra></extra>',
      },
    ];
    layout.yaxis = { title: { text: 'step' } };
  } else {
    // At most 12 steps, evenly spaced, older ones lighter (TensorBoard's overlay view).
    const pickEvery = Math.max(1, Math.ceil(points.length / 12));
    const chosen = points.map((_, i) => i).filter((i) => i % pickEvery === 0 || i === points.length - 1);
    traces = chosen.map((i, k) => {
      const shade = Math.round(200 - (170 * (k + 1)) / chosen.length);
      return {
        type: 'scatter',
        mode: 'lines',
        name: `step ${steps[i]}`,
        x: centres,
        y: counts[i],
        line: { color: `rgb(${shade},${shade + 20},230)`, width: 1.5 },
      };
    });
    layout.yaxis = { title: { text: 'count' } };
  }
  const mean = (p: HistogramPoint): number => (p.num ? p.sum / p.num : 0);
  const summary =
    `Histograms of ${tag} in ${run.name}: ${points.length} steps (${steps[0]}..${steps[steps.length - 1]}), values ${formatNumber(lo)}..${formatNumber(hi)}\n` +
    points
      .map((p) => `  step ${p.step}: n ${p.num}, min ${formatNumber(p.min)}, max ${formatNumber(p.max)}, mean ${formatNumber(mean(p))}`)
      .slice(-10)
      .join('\n');
  const bundle = plotlyBundle({ data: traces, layout }, { summary });
  bundle['text/plain'] = summary;
  return bundle;
}
