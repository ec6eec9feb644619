// Plotly figures as Jupyter bundles that render offline, without the 4.5 MB library in every
// output.
//
// How the library travels (the trade-off):
// - Each chart's text/html holds only its own data plus a ~1.5 KB runtime: it draws at once if
//   window.Plotly exists, otherwise it queues itself until the library arrives.
// - The library itself (plotly.js-dist-min, gzip + base64: about 1.8 MB instead of 4.5 MB) is
//   carried by the first chart of each cell run (the kernel calls resetPlotlyLibrary() before
//   every execution); later charts of the same run do not carry it. Browsers unpack it with
//   DecompressionStream, once per page: charts queue, so order does not matter.
// - Why per cell run: a saved notebook's outputs are whatever each cell's last run left. With one
//   carrier per kernel session, re-running (or deleting) the carrying cell lost the library, and
//   after a reload, or in nbconvert's HTML, the other charts stayed blank. A cell's own carrier
//   goes and comes back with that cell's charts, so every chart of a saved notebook draws, live
//   after a reload and in an HTML export opened offline, whichever cells were re-run or deleted.
// - Cost: ~1.8 MB per cell that shows charts (not per chart: display.scalars' several charts
//   share one), plus N x (data + 1.5 KB) for N charts, instead of N x 4.5 MB.
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

let carriedThisSession = false;

/** Makes the next chart shown in the kernel carry the library again (the kernel calls it before each cell). */
export function resetPlotlyLibrary(): void {
  carriedThisSession = false;
}

function takeLibraryTurn(mode: LibraryMode): boolean {
  if (mode === 'include') return true;
  if (mode === 'exclude' || carriedThisSession || !getDisplaySink()) return false;
  carriedThisSession = true;
  return true;
}

// Shared by every chart and by the carrier; defines window.__tfjsEstimatorPlotly once per page.
const RUNTIME = `var g=w.__tfjsEstimatorPlotly;if(!g){g=w.__tfjsEstimatorPlotly={queue:[],loading:false};
g.whenReady=function(f){if(w.Plotly)f();else g.queue.push(f);};
g.ready=function(){var q=g.queue.splice(0);for(var i=0;i<q.length;i++){try{q[i]();}catch(e){console.error('tfjs-estimator chart:',e);}}};
g.draw=function(uid,spec,attempt){var els=document.querySelectorAll('[data-tfjs-plot="'+uid+'"]');
if(!els.length){attempt=(attempt||0)+1;if(attempt<100)setTimeout(function(){g.draw(uid,spec,attempt);},50);return;}
for(var i=0;i<els.length;i++){var el=els[i];if(el.getAttribute('data-drawn'))continue;el.setAttribute('data-drawn','1');el.innerHTML='';
w.Plotly.newPlot(el,spec.data,spec.layout,spec.config).catch(function(e){console.error('tfjs-estimator chart:',e);});}};
g.missing=function(uid){var els=document.querySelectorAll('[data-tfjs-plot="'+uid+'"]');for(var i=0;i<els.length;i++){var el=els[i];
if(el.getAttribute('data-drawn')||el.querySelector('.tfjs-plot-missing'))continue;var d=document.createElement('div');d.className='tfjs-plot-missing';
d.style.cssText='color:#a94442;font:12px sans-serif;margin:4px 0';d.textContent='This chart needs plotly.js, which travels with the first chart of each cell run; that output is not on this page. Run display.plotlyLibrary() in a cell, or re-run this cell.';
el.insertBefore(d,el.firstChild);}};}`;

let libraryHtml: string | undefined;

/** plotly.min.js, gzip'd and base64'd (~0.2 s, once per process). */
function compressedLibrary(): string {
  const src = fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'));
  return zlib.gzipSync(src, { level: 9 }).toString('base64');
}

/** The carrier: a <script> that unpacks plotly.js once per page and draws queued charts. */
export function plotlyLibraryHtml(): string {
  if (libraryHtml === undefined) libraryHtml = buildLibraryHtml();
  return libraryHtml;
}

function buildLibraryHtml(): string {
  // The packed library is a string literal, not a DOM element to look up: JupyterLab may run
  // an output's scripts before the output is attached to the document.
  const loader = `(function(w){${RUNTIME}
if(w.Plotly){g.ready();return;}if(g.loading)return;
if(typeof DecompressionStream==='undefined'){console.error('tfjs-estimator: this browser lacks DecompressionStream (Chrome 80+, Firefox 113+, Safari 16.4+), so the embedded plotly.js cannot be unpacked');return;}
g.loading=true;var b=atob(${JSON.stringify(compressedLibrary())});
var u=new Uint8Array(b.length);for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);
new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream('gzip'))).text().then(function(src){
w.PlotlyConfig=w.PlotlyConfig||{MathJaxConfig:'local'};var s=document.createElement('script');
s.textContent='(function(define,module,exports){'+src+'\\n}).call(window);';(document.head||document.documentElement).appendChild(s);
if(!w.Plotly)throw new Error('plotly.js did not define window.Plotly');g.loading=false;g.ready();
}).catch(function(e){g.loading=false;console.error('tfjs-estimator: could not load the embedded plotly.js:',e);});})(window);`;
  return `<script type="text/javascript" class="tfjs-estimator-plotly-library">${loader}</script>`;
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
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 450;
  const spec = jsonForScript({ data: fig.data, layout: fig.layout, config });
  const chart =
    `<div class="tfjs-estimator-plot" data-tfjs-plot="${uid}" style="width:100%;min-height:${height}px">` +
    `<pre style="color:#666;font-size:11px;white-space:pre-wrap">${escapeHtml(summary)}\n(interactive chart: drawn by JavaScript in a trusted notebook or an HTML export)</pre></div>` +
    `<script type="text/javascript">(function(w){${RUNTIME}var spec=${spec};g.whenReady(function(){g.draw(${JSON.stringify(uid)},spec);});` +
    `setTimeout(function(){if(!w.Plotly&&!g.loading)g.missing(${JSON.stringify(uid)});},4000);})(window);</script>`;
  const html = takeLibraryTurn(opts.library ?? 'auto') ? plotlyLibraryHtml() + chart : chart;
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

/** A bundle holding only the library: `display.plotlyLibrary()` restores a lost carrier. */
export function plotlyLibraryBundle(): MimeBundle {
  carriedThisSession = true;
  return markBundle({ 'text/html': plotlyLibraryHtml(), 'text/plain': '<plotly.js library loaded>' });
}
