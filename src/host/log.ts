// The library's log lines, with tf.logging's levels. INFO goes to stdout and warnings and
// errors to stderr, so Jupyter paints only the lines that need attention. In the kernel the
// live progress display carries the per-step information, so those lines are dropped there.
import { getDisplaySink } from './sink';

/** tf.logging's levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };
const LABEL: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'FATAL' };

/** Where log lines go (logging.setLogSink): receives each line that passes the verbosity. */
export type LogSink = (line: string, level: LogLevel) => void;

const defaultSink: LogSink = (line, level) => {
  const text = `${LABEL[level]}:tfjs-estimator:${line}\n`;
  // Read process.stdout/stderr at each call: the kernel swaps their write() per cell.
  if (RANK[level] >= RANK.warn) process.stderr.write(text);
  else process.stdout.write(text);
};

let sink: LogSink = defaultSink;
// TFJS_ESTIMATOR_QUIET=1 (tests) keeps only errors.
let threshold: number = process.env.TFJS_ESTIMATOR_QUIET === '1' ? RANK.error : RANK.info;

/** Replace where log lines go (tests, or a user's own logger); undefined restores the default. */
export function setLogSink(s: LogSink | undefined): void {
  sink = s ?? defaultSink;
}

/** Older switch kept for callers: true keeps only errors, false shows INFO and above. */
export function setQuiet(q: boolean): void {
  threshold = q ? RANK.error : RANK.info;
}

function levelOf(level: LogLevel | number): number {
  if (typeof level === 'number') {
    if (!Number.isFinite(level))
      throw new Error(`logging.setVerbosity: ${level} is not a level; use logging.INFO, logging.WARN, 'info', 'warn', ...`);
    return level;
  }
  const r =
    RANK[
      String(level)
        .toLowerCase()
        .replace(/^warning$/, 'warn') as LogLevel
    ];
  if (r === undefined) {
    throw new Error(
      `logging.setVerbosity: unknown level '${level}'; use one of ${Object.keys(RANK)
        .map((k) => `'${k}'`)
        .join(', ')} (or logging.INFO, logging.WARN, ...).`,
    );
  }
  return r;
}

/** tf.logging.set_verbosity: lines below this level are not printed (default 'info'). */
export function setVerbosity(level: LogLevel | number): void {
  threshold = levelOf(level);
}

/** The current threshold as a level name (the nearest named level at or below it). */
export function getVerbosity(): LogLevel {
  const names = (Object.keys(RANK) as LogLevel[]).filter((k) => RANK[k] <= threshold);
  return names.length ? names[names.length - 1] : 'debug';
}

function emit(level: LogLevel, line: string): void {
  if (RANK[level] < threshold) return;
  sink(line, level);
}

/** Routine per-step information: dropped under a display sink (the progress bar shows it). */
export function log(line: string): void {
  if (getDisplaySink()) return;
  emit('info', line);
}

/** INFO lines that always show (at verbosity 'info'): backend choice, where checkpoints went. */
export function info(line: string): void {
  emit('info', line);
}

/** A DEBUG line: shown only at verbosity 'debug'. */
export function debug(line: string): void {
  emit('debug', line);
}

/** Something the user should look at: goes to stderr. */
export function warn(line: string): void {
  emit('warn', line);
}

/** Something that went wrong: goes to stderr. */
export function error(line: string): void {
  emit('error', line);
}

/** The public `logging` namespace, after tf.logging: logging.setVerbosity(logging.WARN). */
export const logging = Object.freeze({
  /** tf.logging.DEBUG. */
  DEBUG: 'debug' as const,
  /** tf.logging.INFO: the default verbosity. */
  INFO: 'info' as const,
  /** tf.logging.WARN: hides the library's INFO lines. */
  WARN: 'warn' as const,
  /** tf.logging.ERROR. */
  ERROR: 'error' as const,
  /** tf.logging.FATAL. */
  FATAL: 'fatal' as const,
  /** tf.logging.set_verbosity: lines below this level are not printed (default INFO). */
  setVerbosity,
  /** The current verbosity as a level name. */
  getVerbosity,
  /** Sends log lines to your own function (undefined restores stdout/stderr). */
  setLogSink,
  /** Logs a DEBUG line (shown only at verbosity DEBUG). */
  debug,
  /** Logs an INFO line to stdout. */
  info,
  /** Logs a WARNING line to stderr. */
  warn,
  /** Logs an ERROR line to stderr. */
  error,
});
