// An events.out.tfevents.<secs>.<host> file in TensorBoard's format. Records are appended as
// they come and fsynced every 2 seconds and on close, so a crash loses at most ~2 s.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeEvent, SummaryValue, TfEvent } from './proto';
import { frame } from './tfrecord';

export class EventFileWriter {
  readonly file: string;
  private fd: number | undefined;
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly logdir: string, flushSecs = 2) {
    fs.mkdirSync(logdir, { recursive: true });
    const base = `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}`;
    let file = path.join(logdir, base);
    for (let i = 1; fs.existsSync(file); i++) file = path.join(logdir, `${base}.${i}`);
    this.file = file;
    this.fd = fs.openSync(file, 'a');
    this.write({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' });
    this.flush();
    this.timer = setInterval(() => this.flush(), flushSecs * 1000);
    this.timer.unref();
  }

  write(event: TfEvent): void {
    if (this.fd === undefined) throw new Error(`EventFileWriter for ${this.file} is closed.`);
    fs.writeSync(this.fd, frame(encodeEvent(event)));
    this.dirty = true;
  }

  addSummary(step: number, values: SummaryValue[]): void {
    if (values.length) this.write({ wallTime: Date.now() / 1000, step, summary: { value: values } });
  }

  addScalars(step: number, scalars: Record<string, number>): void {
    this.addSummary(step, Object.entries(scalars).map(([tag, simpleValue]) => ({ tag, simpleValue })));
  }

  flush(): void {
    if (this.fd === undefined || !this.dirty) return;
    fs.fsyncSync(this.fd);
    this.dirty = false;
  }

  close(): void {
    if (this.fd === undefined) return;
    clearInterval(this.timer);
    this.flush();
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
