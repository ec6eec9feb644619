// Routes console.* and process.stdout/stderr writes made by cells to Jupyter `stream`
// messages, batched per event-loop turn so a loop of console.log calls is a few messages.
// Each write belongs to the request whose code made it (`current`), and a batch never mixes
// two requests' text: a finished cell's timer writes to that cell, not to the one running.
import { Console } from 'console';
import { Writable } from 'stream';

type Emit<P> = (name: 'stdout' | 'stderr', text: string, parent: P | undefined) => void;

export class OutputCapture<P = unknown> {
  private buffers: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private parent?: P;
  private scheduled = false;
  private originals?: { out: typeof process.stdout.write; err: typeof process.stderr.write; console: Console };
  constructor(
    private readonly emit: Emit<P>,
    private readonly current: () => P | undefined = () => undefined,
  ) {}

  install(): void {
    const stream = (name: 'stdout' | 'stderr') =>
      new Writable({
        write: (chunk: Buffer | string, _enc, cb) => {
          this.push(name, chunk.toString());
          cb();
        },
      });
    this.originals = {
      out: process.stdout.write.bind(process.stdout),
      err: process.stderr.write.bind(process.stderr),
      console: globalThis.console,
    };
    const con = new Console({ stdout: stream('stdout'), stderr: stream('stderr'), colorMode: false });
    globalThis.console = con;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      this.push('stdout', chunk.toString());
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      this.push('stderr', chunk.toString());
      return true;
    }) as typeof process.stderr.write;
  }

  uninstall(): void {
    if (!this.originals) return;
    process.stdout.write = this.originals.out;
    process.stderr.write = this.originals.err;
    globalThis.console = this.originals.console;
  }

  /** Writes to the kernel's real stderr (its log), bypassing capture. */
  logToTerminal(line: string): void {
    (this.originals?.err ?? process.stderr.write.bind(process.stderr))(line);
  }

  private push(name: 'stdout' | 'stderr', text: string): void {
    if (!text) return;
    const parent = this.current();
    if (parent !== this.parent) {
      this.flush();
      this.parent = parent;
    }
    this.buffers[name] += text;
    if (this.buffers[name].length > 65536) this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    for (const name of ['stdout', 'stderr'] as const) {
      const text = this.buffers[name];
      if (text) {
        this.buffers[name] = '';
        this.emit(name, text, this.parent);
      }
    }
  }
}
