// Plotly figures as Jupyter bundles that render offline, without the 4.5 MB library in every
// output.
//
// How the library travels (the trade-off):
// - Each chart's text/html holds only its own data plus a ~1.5 KB runtime: it draws at once if
//   a plotly.js that knows its trace types is on the page, otherwise it queues until one arrives.
// - The library itself is carried by the first chart of each cell run (the kernel calls
//   resetPlotlyLibrary() before every execution); later charts of the same run do not carry it.
//   It comes in two sizes, gzip + base64 and unpacked by the browser with DecompressionStream
//   once per page: plotly's cartesian bundle (scatter, bar, heatmap, histogram, box, pie, ...:
//   every chart this library draws) at ~0.6 MB, and the full bundle (~1.8 MB, 3-D, maps, ...)
//   only for a raw display.plot whose traces need it. A page holding both uses the full one.
// - Why per cell run: a saved notebook's outputs are whatever each cell's last run left. With one
//   carrier per kernel session, re-running (or deleting) the carrying cell lost the library, and
//   after a reload, or in nbconvert's HTML, the other charts stayed blank. A cell's own carrier
//   goes and comes back with that cell's charts, so every chart of a saved notebook draws, live
//   after a reload and in an HTML export opened offline, whichever cells were re-run or deleted.
// - Cost: ~0.6 MB per cell that shows charts (not per chart: display.scalars' several charts
//   share one), plus N x (data + 1.5 KB) for N charts.
// - Untrusted notebooks run no scripts: charts show their text summary instead.
// - The library runs with `define`/`module`/`exports` hidden, so require.js (classic notebook,
//   nbconvert templates) cannot capture it and window.Plotly is always set.
// Outside the kernel (scripts, tests) charts never carry the library; toHtmlFile adds it once.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { markBundle } from './bundle';
import { escapeHtml, jsonForScript } from './html';
import { getDisplaySink, MimeBundle } from '../host/sink';

export type PlotlyTrace = { type?: string; name?: string } & Record<string, unknown>;
export type PlotlyLayout = Record<string, unknown>;
export type PlotlyConfig = Record<string, unknown>;

export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: PlotlyLayout;
  config?: PlotlyConfig;
}

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** Where the library goes: 'auto' = the first chart of each cell run carries it. */
export type LibraryMode = 'auto' | 'include' | 'exclude';

export interface PlotlyBundleOptions {
  /** First line of the text/plain entry (default: the layout's title). */
  summary?: string;
  library?: LibraryMode;
}

/** Which plotly.js build a chart needs: 1 = the cartesian bundle, 2 = the full one. */
type Tier = 1 | 2;

// The trace modules of plotly.js-cartesian-dist-min (its README lists them).
const CARTESIAN_TRACES = new Set([
  'bar',
  'box',
  'contour',
  'heatmap',
  'histogram',
  'histogram2d',
  'histogram2dcontour',
  'image',
  'pie',
  'scatter',
  'scatterternary',
  'violin',
]);

function tierFor(data: PlotlyTrace[]): Tier {
  return data.every((t) => CARTESIAN_TRACES.has(t.type ?? 'scatter')) ? 1 : 2;
}

/** The largest library tier carried in this cell run so far (0: none yet). */
let carriedThisRun: 0 | Tier = 0;

/** Makes the next chart shown in the kernel carry the library again (the kernel calls it before each cell). */
export function resetPlotlyLibrary(): void {
  carriedThisRun = 0;
}

/** The tier this chart's output must carry, or 0 when the cell run already carries enough. */
function takeLibraryTurn(mode: LibraryMode, need: Tier): 0 | Tier {
  if (mode === 'include') return need;
  if (mode === 'exclude' || carriedThisRun >= need || !getDisplaySink()) return 0;
  carriedThisRun = need;
  return need;
}

// Shared by every chart and by the carriers; defines window.__tfjsEstimatorPlotly once per page.
// g.tier is the tier of the plotly.js on the page; a chart waits for the tier it needs.
const RUNTIME = `var g=w.__tfjsEstimatorPlotly;if(!g){g=w.__tfjsEstimatorPlotly={queue:[],loading:{},tier:0};
g.whenReady=function(t,f){if(w.Plotly&&g.tier>=t)f();else g.queue.push({t:t,f:f});};
g.ready=function(){var q=g.queue;g.queue=[];for(var i=0;i<q.length;i++){if(g.tier<q[i].t){g.queue.push(q[i]);continue;}try{q[i].f();}catch(e){console.error('tfjs-estimator chart:',e);}}};
g.draw=function(uid,spec,attempt){var els=document.querySelectorAll('[data-tfjs-plot="'+uid+'"]');
if(!els.length){attempt=(attempt||0)+1;if(attempt<100)setTimeout(function(){g.draw(uid,spec,attempt);},50);return;}
for(var i=0;i<els.length;i++){var el=els[i];if(el.getAttribute('data-drawn'))continue;el.setAttribute('data-drawn','1');el.innerHTML='';
w.Plotly.newPlot(el,spec.data,spec.layout,spec.config).catch(function(e){console.error('tfjs-estimator chart:',e);});}};
g.missing=function(uid){var els=document.querySelectorAll('[data-tfjs-plot="'+uid+'"]');for(var i=0;i<els.length;i++){var el=els[i];
if(el.getAttribute('data-drawn')||el.querySelector('.tfjs-plot-missing'))continue;var d=document.createElement('div');d.className='tfjs-plot-missing';
d.style.cssText='color:#a94442;font:12px sans-serif;margin:4px 0';d.textContent='This chart needs plotly.js, which travels with the first chart of each cell run; that output is not on this page. Run display.plotlyLibrary() in a cell, or re-run this cell.';
el.insertBefore(d,el.firstChild);}};}`;

const LIBRARY_FILES: Record<Tier, string> = {
  1: 'plotly.js-cartesian-dist-min/plotly-cartesian.min.js',
  2: 'plotly.js-dist-min/plotly.min.js',
};
const libraryHtml = new Map<Tier, string>();

/** plotly.js of that tier, gzip'd and base64'd (~0.1-0.2 s, once per process). */
function compressedLibrary(tier: Tier): string {
  const src = fs.readFileSync(require.resolve(LIBRARY_FILES[tier]));
  return zlib.gzipSync(src, { level: 9 }).toString('base64');
}

/** The carrier: a <script> that unpacks plotly.js once per page and draws queued charts (full build by default). */
export function plotlyLibraryHtml(tier: Tier = 2): string {
  let html = libraryHtml.get(tier);
  if (html === undefined) libraryHtml.set(tier, (html = buildLibraryHtml(tier)));
  return html;
}

function buildLibraryHtml(tier: Tier): string {
  // The packed library is a string literal, not a DOM element to look up: JupyterLab may run
  // an output's scripts before the output is attached to the document. A build is evaluated
  // only if nothing at least as complete is on the page by the time it is unpacked.
  const loader = `(function(w){${RUNTIME}var T=${tier};
if(g.tier>=T||g.loading[T]){g.ready();return;}
if(typeof DecompressionStream==='undefined'){console.error('tfjs-estimator: this browser lacks DecompressionStream (Chrome 80+, Firefox 113+, Safari 16.4+), so the embedded plotly.js cannot be unpacked');return;}
g.loading[T]=true;var b=atob(${JSON.stringify(compressedLibrary(tier))});
var u=new Uint8Array(b.length);for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);
new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream('gzip'))).text().then(function(src){
g.loading[T]=false;if(g.tier>=T){g.ready();return;}
w.PlotlyConfig=w.PlotlyConfig||{MathJaxConfig:'local'};var s=document.createElement('script');
s.textContent='(function(define,module,exports){'+src+'\\n}).call(window);';(document.head||document.documentElement).appendChild(s);
if(!w.Plotly)throw new Error('plotly.js did not define window.Plotly');g.tier=T;g.ready();
}).catch(function(e){g.loading[T]=false;console.error('tfjs-estimator: could not load the embedded plotly.js:',e);});})(window);`;
  return `<script type="text/javascript" class="tfjs-estimator-plotly-library" data-tier="${tier === 1 ? 'cartesian' : 'full'}">${loader}</script>`;
}

/** Deep copy with typed arrays turned into plain arrays (JSON would make them objects). */
export function plainData<T>(value: T): T {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>) as unknown as T;
  if (Array.isArray(value)) return value.map(plainData) as unknown as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainData(v);
    return out as T;
  }
  return value;
}

function traceLength(t: PlotlyTrace): number {
  for (const key of ['y', 'x', 'z', 'values']) {
    const v = t[key];
    if (Array.isArray(v)) return v.length;
  }
  return 0;
}

export function titleOf(layout: PlotlyLayout): string | undefined {
  const t = layout.title;
  if (typeof t === 'string') return t;
  if (typeof t === 'object' && t !== null && typeof (t as { text?: unknown }).text === 'string') return (t as { text: string }).text;
  return undefined;
}

/** One line per trace: what the chart shows, for text/plain and for untrusted notebooks. */
export function summarizeFigure(fig: PlotlyFigure, first?: string): string {
  const title = titleOf(fig.layout);
  const head = first ?? `Plotly chart${title ? `: ${title}` : ''}`;
  const lines = fig.data.map((t, i) => `  ${t.name ?? `trace ${i}`} (${t.type ?? 'scatter'}, ${traceLength(t)} points)`);
  return `${head}\n${fig.data.length} trace${fig.data.length === 1 ? '' : 's'}:\n${lines.join('\n')}`;
}

/** The figure as a bundle: plotly JSON, self-contained HTML, and a text summary. */
export function plotlyBundle(figure: PlotlyFigure, opts: PlotlyBundleOptions = {}): MimeBundle {
  const fig: PlotlyFigure = {
    data: plainData(figure.data),
    layout: { margin: { t: 40, r: 20, b: 40, l: 50 }, ...plainData(figure.layout) },
  };
  if (figure.config) fig.config = plainData(figure.config);
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  const summary = summarizeFigure(fig, opts.summary);
  const uid = randomBytes(8).toString('hex');
  const need = tierFor(fig.data);
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 450;
  const spec = jsonForScript({ data: fig.data, layout: fig.layout, config });
  const chart =
    `<div class="tfjs-estimator-plot" data-tfjs-plot="${uid}" style="width:100%;min-height:${height}px">` +
    `<pre style="color:#666;font-size:11px;white-space:pre-wrap">${escapeHtml(summary)}\n(interactive chart: drawn by JavaScript in a trusted notebook or an HTML export)</pre></div>` +
    `<script type="text/javascript">(function(w){${RUNTIME}var spec=${spec};g.whenReady(${need},function(){g.draw(${JSON.stringify(uid)},spec);});` +
    `setTimeout(function(){if(g.tier<${need}&&!g.loading[1]&&!g.loading[2])g.missing(${JSON.stringify(uid)});},4000);})(window);</script>`;
  const carried = takeLibraryTurn(opts.library ?? 'auto', need);
  const html = carried ? plotlyLibraryHtml(carried) + chart : chart;
  const json: Record<string, unknown> = { data: fig.data, layout: fig.layout };
  if (fig.config) json.config = fig.config;
  return markBundle({ [PLOTLY_MIME]: json, 'text/html': html, 'text/plain': summary });
}

/** True when a bundle's HTML carries the plotly library. */
export function carriesPlotlyLibrary(bundle: MimeBundle): boolean {
  const html = bundle['text/html'];
  return typeof html === 'string' && html.includes('class="tfjs-estimator-plotly-library"');
}

export function isPlotlyBundle(bundle: MimeBundle): boolean {
  const html = bundle['text/html'];
  return PLOTLY_MIME in bundle || (typeof html === 'string' && html.includes('data-tfjs-plot='));
}

/** The plotly.js build a chart bundle needs: 1 cartesian, 2 full (also for charts it can't read). */
export function plotlyTierOf(bundle: MimeBundle): 1 | 2 {
  const fig = bundle[PLOTLY_MIME] as { data?: unknown } | undefined;
  return fig && Array.isArray(fig.data) ? tierFor(fig.data as PlotlyTrace[]) : 2;
}

/** A bundle holding only the library: `display.plotlyLibrary()` restores a lost carrier. */
export function plotlyLibraryBundle(): MimeBundle {
  carriedThisRun = 2;
  return markBundle({ 'text/html': plotlyLibraryHtml(), 'text/plain': '<plotly.js library loaded>' });
}
