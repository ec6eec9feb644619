// display.toHtmlFile: a standalone page from bundles, for scripts (and the browser test). It
// works offline: plotly.js is embedded once, at the top, when any bundle is a chart
// (the cartesian build unless a chart needs the full one).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeHtml } from './html';
import { isPlotlyBundle, plotlyLibraryHtml, plotlyTierOf } from './plotly';
import type { MimeBundle } from '../host/sink';

export interface HtmlFileOptions {
  /** The page's <title> and heading. */
  title?: string;
}

/** The best HTML for one bundle, in the order a notebook front end would choose. */
export function bundleToHtml(bundle: MimeBundle): string {
  const html = bundle['text/html'];
  if (typeof html === 'string') return html;
  const png = bundle['image/png'];
  if (typeof png === 'string') return `<img src="data:image/png;base64,${png}" alt="image" style="image-rendering:pixelated">`;
  const svg = bundle['image/svg+xml'];
  if (typeof svg === 'string') return svg;
  const text = bundle['text/plain'];
  return `<pre>${escapeHtml(typeof text === 'string' ? text : JSON.stringify(bundle, null, 2))}</pre>`;
}

export function toHtmlPage(bundles: MimeBundle | MimeBundle[], opts: HtmlFileOptions = {}): string {
  const list = Array.isArray(bundles) ? bundles : [bundles];
  const title = opts.title ?? 'tfjs-estimator output';
  const charts = list.filter(isPlotlyBundle);
  const library = charts.length > 0 ? plotlyLibraryHtml(Math.max(...charts.map(plotlyTierOf)) as 1 | 2) : '';
  const outputs = list.map((b) => `<div class="output" style="margin:12px 0">${bundleToHtml(b)}</div>`).join('\n');
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>\n` +
    `<style>body{font-family:sans-serif;margin:16px 24px}pre{font-size:12px}</style></head>\n` +
    `<body><h1 style="font-size:18px">${escapeHtml(title)}</h1>\n${library}\n${outputs}\n</body></html>\n`
  );
}

/** Writes the page (creating folders) and returns its absolute path. */
export function toHtmlFile(bundles: MimeBundle | MimeBundle[], file: string, opts: HtmlFileOptions = {}): string {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, toHtmlPage(bundles, opts));
  return abs;
}
