// The Estimator's INFO lines. In the kernel the live progress display carries the same
// information, so per-step lines are dropped there; important lines always print.
import { getDisplaySink } from '../display/sink';

export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stderr.write(`INFO:tfjs-estimator:${line}\n`);
let quiet = process.env.TFJS_ESTIMATOR_QUIET === '1';

/** Replace where log lines go (tests, or a user's own logger). */
export function setLogSink(s: LogSink): void {
  sink = s;
}

export function setQuiet(q: boolean): void {
  quiet = q;
}

/** Routine per-step information: suppressed under a display sink (the progress bar shows it). */
export function log(line: string): void {
  if (quiet || getDisplaySink()) return;
  sink(line);
}

/** Always shown: backend choice, warnings, where checkpoints went. */
export function info(line: string): void {
  if (quiet) return;
  sink(line);
}
