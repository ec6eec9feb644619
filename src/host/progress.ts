// One live progress display for long work (training, evaluation). In the kernel it is one
// display_data output updated in place (update_display_data, throttled); outside the kernel
// it is a single plain-text line rewritten with \r on a TTY, or a line every few seconds.
import { getDisplaySink, MimeBundle } from './sink';

export interface ProgressState {
  step: number;
  total?: number;
  loss?: number;
  stepsPerSec?: number;
  /** Extra fields shown after the standard ones, e.g. {accuracy: 0.93}. */
  extra?: Record<string, number | string>;
  message?: string;
}

export type ProgressStatus = 'running' | 'done' | 'interrupted' | 'error';

export interface Progress {
  update(state: ProgressState): void;
  close(status?: ProgressStatus, state?: ProgressState): void;
}

export interface ProgressOptions {
  title: string;
  total?: number;
  /** Minimum milliseconds between two redraws (default 250). */
  minIntervalMs?: number;
}

let counter = 0;

function formatSeconds(s: number): string {
  if (!isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

function fmt(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(4);
}

export function describeProgress(title: string, s: ProgressState, status: ProgressStatus, elapsedSec: number): string {
  const parts: string[] = [];
  const total = s.total;
  if (total !== undefined && total > 0) {
    const frac = Math.min(1, Math.max(0, s.step / total));
    const width = 24;
    const filled = Math.round(frac * width);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${s.step}/${total}`);
  } else {
    parts.push(`step ${s.step}`);
  }
  if (s.loss !== undefined) parts.push(`loss ${fmt(s.loss)}`);
  if (s.stepsPerSec !== undefined) parts.push(`${s.stepsPerSec.toFixed(1)} steps/s`);
  for (const [k, v] of Object.entries(s.extra ?? {})) parts.push(`${k} ${fmt(v)}`);
  if (status === 'running' && total !== undefined && s.stepsPerSec && s.stepsPerSec > 0) {
    parts.push(`ETA ${formatSeconds((total - s.step) / s.stepsPerSec)}`);
  } else {
    parts.push(`elapsed ${formatSeconds(elapsedSec)}`);
  }
  if (s.message) parts.push(s.message);
  const tag = status === 'running' ? '' : ` (${status})`;
  return `${title}${tag}: ${parts.join(' | ')}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function bundleFor(text: string, s: ProgressState, status: ProgressStatus): MimeBundle {
  const frac = s.total ? Math.min(1, s.step / s.total) : status === 'done' ? 1 : 0;
  const colour = status === 'error' ? '#d9534f' : status === 'interrupted' ? '#f0ad4e' : '#5cb85c';
  const html =
    `<div class="tfjs-estimator-progress" style="font-family:monospace;font-size:12px">` +
    `<div style="width:320px;height:8px;background:#eee;border-radius:4px;overflow:hidden">` +
    `<div style="width:${(frac * 100).toFixed(1)}%;height:100%;background:${colour}"></div></div>` +
    `<div>${escapeHtml(text)}</div></div>`;
  return { 'text/plain': text, 'text/html': html };
}

export function progress(opts: ProgressOptions): Progress {
  const sink = getDisplaySink();
  const displayId = `tfjs-estimator-progress-${process.pid}-${++counter}`;
  const minInterval = opts.minIntervalMs ?? 250;
  const started = Date.now();
  const isTty = !sink && Boolean(process.stderr.isTTY);
  let last: ProgressState = { step: 0, total: opts.total };
  let lastDraw = 0;
  let shown = false;
  let closed = false;

  const draw = (status: ProgressStatus): void => {
    const text = describeProgress(opts.title, last, status, (Date.now() - started) / 1000);
    if (sink) {
      const bundle = bundleFor(text, last, status);
      if (!shown) sink.display(bundle, { displayId });
      else sink.update(bundle, displayId);
    } else if (isTty) {
      process.stderr.write(`\r${text}\x1b[K${status === 'running' ? '' : '\n'}`);
    } else {
      process.stderr.write(`${text}\n`);
    }
    shown = true;
    lastDraw = Date.now();
  };

  return {
    update(state: ProgressState): void {
      if (closed) return;
      last = { total: opts.total, ...state };
      // Plain (non-TTY) output gets a line every few seconds, not a flood.
      const interval = sink || isTty ? minInterval : Math.max(minInterval, 5000);
      if (!shown || Date.now() - lastDraw >= interval) draw('running');
    },
    close(status: ProgressStatus = 'done', state?: ProgressState): void {
      if (closed) return;
      closed = true;
      if (state) last = { total: opts.total, ...state };
      draw(status);
    },
  };
}
