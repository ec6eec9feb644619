// Rich forms of cell results: what the kernel sends as execute_result for the last expression.
import { displaySymbol, isOurBundle, looksLikeMimeBundle } from './bundle';
import { escapeHtml, formatNumber } from './html';
import type { MimeBundle } from '../host/sink';
import { isTensorLike } from './values';

export { displaySymbol, isAlreadyDisplayed } from './bundle';

interface TensorView {
  shape: number[];
  dtype: string;
  isDisposed?: boolean;
  dataSync(): ArrayLike<number> | string[] | Uint8Array[];
  toString(verbose?: boolean): string;
}

/** Rows/columns shown at each end of a large 1-D/2-D tensor (numpy's edgeitems idea). */
const EDGE = 8;
/** 2-D tensors up to this many values (and 20 columns) are shown whole. */
const FULL_LIMIT = 400;

/**
 * The rich form of `value`, or undefined when it has none (the kernel then shows text/plain).
 * Tensors become a summary (dtype, shape, stats) plus an HTML table for 0-2-D; objects with a
 * `_toMimeBundle()` method or a `[displaySymbol]` member give their own bundle; bundles made
 * by the display helpers pass through.
 */
export function toMimeBundle(value: unknown): MimeBundle | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (isOurBundle(value)) return value;
  const custom = (value as { [displaySymbol]?: unknown })[displaySymbol];
  if (typeof custom === 'function') return validBundle(custom.call(value), 'the [display] method');
  if (custom !== undefined) return validBundle(custom, 'the [display] member');
  const method = (value as { _toMimeBundle?: unknown })._toMimeBundle;
  if (typeof method === 'function') return validBundle(method.call(value), '_toMimeBundle()');
  if (isTensorLike(value)) return tensorBundle(value as unknown as TensorView);
  return undefined;
}

function validBundle(b: unknown, where: string): MimeBundle {
  if (!looksLikeMimeBundle(b)) {
    throw new TypeError(`${where} must return a MIME bundle such as {'text/plain': '...', 'text/html': '...'}; got ${typeof b}`);
  }
  return b;
}

function tensorBundle(t: TensorView): MimeBundle {
  const head = `Tensor ${t.dtype} [${t.shape.join(', ')}]`;
  if (t.isDisposed) {
    return {
      'text/plain': `${head} (disposed)`,
      'text/html': `<div class="tfjs-estimator-tensor"><b>${escapeHtml(head)}</b> <i>(disposed)</i></div>`,
    };
  }
  const values = t.dataSync() as ArrayLike<number | string | Uint8Array>;
  const numeric = t.dtype !== 'string' && t.dtype !== 'complex64';
  const stats = numeric ? statsLine(values as ArrayLike<number>, t.dtype) : '';
  // tf's own formatting (as tf.print shows it): familiar, and already truncated for big tensors.
  const text = t.toString(true);
  const plain = stats ? `${text}\n  ${stats}` : text;
  const cell = (i: number): string => {
    const v = values[i];
    if (typeof v === 'number') return t.dtype === 'bool' ? String(v === 1) : formatNumber(v);
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    return String(v);
  };
  let body: string;
  if (t.shape.length === 0) body = `<div style="font-family:monospace">${escapeHtml(cell(0))}</div>`;
  else if (t.shape.length <= 2)
    body = tableHtml(t.shape.length === 1 ? [1, t.shape[0]] : [t.shape[0], t.shape[1]], cell, t.shape.length === 1);
  else body = `<pre style="margin:0">${escapeHtml(valuesPart(text))}</pre>`;
  const html =
    `<div class="tfjs-estimator-tensor"><div style="font:12px sans-serif;margin-bottom:4px"><b>${escapeHtml(head)}</b>` +
    `${stats ? ` <span style="color:#666">${escapeHtml(stats)}</span>` : ''}</div>${body}</div>`;
  return { 'text/plain': plain, 'text/html': html };
}

/** The values lines of tf's verbose toString (after "values:"). */
function valuesPart(text: string): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === 'values:');
  return (at >= 0 ? lines.slice(at + 1) : lines.slice(1)).join('\n');
}

function statsLine(values: ArrayLike<number>, dtype: string): string {
  const n = values.length;
  if (n === 0) return 'empty';
  if (dtype === 'bool') {
    let ones = 0;
    for (let i = 0; i < n; i++) ones += values[i] ? 1 : 0;
    return `${n} values, ${ones} true`;
  }
  let lo = Infinity;
  let hi = -Infinity;
  let sum = 0;
  let finite = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    finite++;
    sum += v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const nonFinite = n - finite;
  const base = finite ? `min ${formatNumber(lo)}, max ${formatNumber(hi)}, mean ${formatNumber(sum / finite)}` : 'no finite values';
  return `${n} value${n === 1 ? '' : 's'}, ${base}${nonFinite ? `, ${nonFinite} NaN/Inf` : ''}`;
}

/** Indices shown along an axis of length n: all, or EDGE at each end with a gap (-1). */
function shownIndices(n: number, whole: boolean): number[] {
  if (whole || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGE }, (_, i) => i), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
}

function tableHtml([rows, cols]: [number, number], cell: (flat: number) => string, oneD: boolean): string {
  const whole = rows * cols <= FULL_LIMIT && cols <= 2 * EDGE + 4;
  const rs = shownIndices(rows, whole);
  const cs = shownIndices(cols, cols <= 2 * EDGE + 4 && (oneD || whole));
  const td = 'style="padding:1px 6px;text-align:right;font-family:monospace;border:1px solid #ddd"';
  const th = 'style="padding:1px 6px;text-align:right;color:#888;font-weight:normal;border:1px solid #ddd;background:#f7f7f7"';
  const header = `<tr>${oneD ? '' : `<th ${th}></th>`}${cs.map((c) => `<th ${th}>${c < 0 ? '…' : c}</th>`).join('')}</tr>`;
  const lines = rs.map((r) => {
    const label = oneD ? '' : `<th ${th}>${r < 0 ? '⋮' : r}</th>`;
    const cells = cs.map((c) => `<td ${td}>${r < 0 ? '⋮' : c < 0 ? '…' : escapeHtml(cell(r * cols + c))}</td>`).join('');
    return `<tr>${label}${cells}</tr>`;
  });
  return `<table style="border-collapse:collapse;font-size:12px">${header}${lines.join('')}</table>`;
}
