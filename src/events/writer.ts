// An events.out.tfevents.<secs>.<host> file in TensorBoard's format. Each event is appended
// with one write() as soon as it is added (so a killed process loses nothing already added),
// and fsynced every flushSecs and on flush/close (so a machine crash loses at most that).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeEvent, SessionStatus, SummaryValue, TfEvent } from './proto';
import { frame } from './tfrecord';

/**
 * tf.summary.FileWriter: writes an events.out.tfevents.* file in `logdir` that TensorBoard reads;
 * each event is written at once and fsynced every flushSecs (default 2).
 */
export class EventFileWriter {
  /** The event file's path. */
  readonly file: string;
  private fd: number | undefined;
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  /**
   * @param logdir the directory (created if missing) the file goes in.
   * @param opts flushSecs: how often written events are fsynced (default 2).
   */
  constructor(
    readonly logdir: string,
    opts: { flushSecs?: number } = {},
  ) {
    fs.mkdirSync(logdir, { recursive: true });
    const base = `events.out.tfevents.${String(Math.floor(Date.now() / 1000)).padStart(10, '0')}.${os.hostname()}`;
    const opened = openUnique(path.join(logdir, base));
    this.file = opened.file;
    this.fd = opened.fd;
    this.write({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' });
    this.flush();
    this.timer = setInterval(() => this.flush(), (opts.flushSecs ?? 2) * 1000);
    this.timer.unref();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.fd === undefined;
  }

  /** Appends one event (wallTime in seconds). */
  write(event: TfEvent): void {
    if (this.fd === undefined)
      throw new Error(`EventFileWriter for ${this.file} is closed; create a new one (or use acquireWriter(logdir)).`);
    fs.writeSync(this.fd, frame(encodeEvent(event)));
    this.dirty = true;
  }

  /** One event holding all `values` at `step` (nothing is written for an empty list). */
  addSummary(step: number, values: SummaryValue[], wallTime = Date.now() / 1000): void {
    if (values.length) this.write({ wallTime, step, summary: { value: values } });
  }

  /** One event holding a scalar summary per entry of `scalars` (tag -> value) at `step`. */
  addScalars(step: number, scalars: Record<string, number>, wallTime = Date.now() / 1000): void {
    this.addSummary(
      step,
      Object.entries(scalars).map(([tag, simpleValue]) => ({ tag, simpleValue })),
      wallTime,
    );
  }

  /** The model's graph (a serialised GraphDef), as TensorFlow writes it when a session starts. */
  addGraph(step: number, graphDef: Uint8Array): void {
    this.write({ wallTime: Date.now() / 1000, step, graphDef });
  }

  /** SessionLog START at the first step of a run: TensorBoard then drops events an earlier,
   *  crashed run wrote at this step or later (they belong to steps that were redone). */
  addSessionStart(step: number): void {
    this.write({ wallTime: Date.now() / 1000, step, sessionLog: { status: SessionStatus.START } });
  }

  /** Forces what was written to disk (fsync). */
  flush(): void {
    if (this.fd === undefined || !this.dirty) return;
    fs.fsyncSync(this.fd);
    this.dirty = false;
  }

  /** Flushes and closes the file; later writes are errors. */
  close(): void {
    if (this.fd === undefined) return;
    clearInterval(this.timer);
    this.flush();
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Opens `base`, or base.1, base.2, ... if taken (two writers started in the same second). */
function openUnique(base: string): { file: string; fd: number } {
  for (let i = 0; ; i++) {
    const file = i === 0 ? base : `${base}.${i}`;
    try {
      return { file, fd: fs.openSync(file, 'wx') };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
