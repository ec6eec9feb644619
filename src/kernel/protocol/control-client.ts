// The kernel's handle on the control thread (control-thread.ts): starts it, passes it replies
// to send on the control socket, and closes its sockets synchronously when the process exits
// (however it exits: shutdown_request, process.exit() in a cell).
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { Header } from './wire';

export interface ControlData {
  key: string;
  session: string;
  controlEndpoint: string;
  hbEndpoint: string;
  maxMessageBytes: number;
}

export type ToControl =
  { type: 'send'; frames: Uint8Array[] } | { type: 'seen'; signature: string } | { type: 'close'; closed: Int32Array };

export type FromControl =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'log'; line: string }
  | { type: 'dropped'; why: string }
  | { type: 'message'; frames: Uint8Array[] }
  | { type: 'interrupted'; header: Header; signature: string };

export interface ControlEvents {
  /** A verified control message other than interrupt_request, for the main thread to handle. */
  message(frames: Buffer[]): void;
  /** The control thread answered an interrupt_request and raised SIGINT. */
  interrupted(header: Header, signature: string): void;
  dropped(why: string): void;
  log(line: string): void;
}

export class ControlThread {
  private readonly worker: Worker;
  readonly ready: Promise<void>;
  private closed = false;

  constructor(data: ControlData, events: ControlEvents) {
    this.worker = new Worker(path.join(__dirname, 'control-thread.js'), { workerData: data, stdout: true, stderr: true });
    this.worker.stdout.on('data', (d: Buffer) => events.log(`control: ${d.toString().trimEnd()}`));
    this.worker.stderr.on('data', (d: Buffer) => events.log(`control: ${d.toString().trimEnd()}`));
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('error', (e) => {
        // After start-up this is logged: heartbeats stop, and Jupyter offers a restart.
        events.log(`the control thread failed: ${e.stack ?? e.message}`);
        reject(new Error(`The control thread failed: ${e.message}`));
      });
      this.worker.on('message', (m: FromControl) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new Error(`The control thread could not listen: ${m.error}`));
        else if (m.type === 'log') events.log(m.line);
        else if (m.type === 'dropped') events.dropped(m.why);
        else if (m.type === 'interrupted') events.interrupted(m.header, m.signature);
        else events.message(m.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
      });
    });
    process.on('exit', () => this.closeSync());
  }

  /** Sends frames on the control socket (a reply to a control request). */
  send(frames: Buffer[]): Promise<void> {
    this.worker.postMessage({ type: 'send', frames } satisfies ToControl);
    return Promise.resolve();
  }

  /** A signature the main thread accepted, so the control thread refuses it as a replay too. */
  noteSeen(signature: string): void {
    this.worker.postMessage({ type: 'seen', signature } satisfies ToControl);
  }

  /** Closes the thread's sockets and waits (at most a second) until they are closed. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    const closed = new Int32Array(new SharedArrayBuffer(4));
    this.worker.postMessage({ type: 'close', closed } satisfies ToControl);
    Atomics.wait(closed, 0, 0, 1000);
  }
}
