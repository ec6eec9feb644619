// The kernel's handle on the compiler thread: requests go out as messages, answers come back
// as promises. The thread starts converting the prelude the moment it is created.
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { ConvertResult, CompletionResult, CompletenessStatus } from './compiler';

export type { ConvertResult, CompletionResult, CompletenessStatus };

export type CompilerRequest = { id: number } & (
  | { op: 'convert'; prevDecl: string; src: string }
  | { op: 'complete' | 'inspect'; prevDecl: string; src: string; pos: number }
  | { op: 'isComplete'; src: string }
);

export type CompilerEvent =
  | { type: 'log'; line: string }
  | { type: 'prelude'; result: ConvertResult }
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'response'; id: number; ok: true; value: unknown }
  | { type: 'response'; id: number; ok: false; error: string };

type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;

export class CompilerClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Resolves with the converted prelude. */
  readonly prelude: Promise<ConvertResult>;
  /** Resolves once the compiler has warmed up (and written its caches). */
  readonly ready: Promise<void>;

  constructor(log: (line: string) => void) {
    // stdout/stderr go to the kernel log: TypeScript's own messages must not reach a cell.
    this.worker = new Worker(path.join(__dirname, 'compiler-thread.js'), { stdout: true, stderr: true });
    this.worker.stdout.on('data', (d: Buffer) => log(`compiler: ${d.toString().trimEnd()}`));
    this.worker.stderr.on('data', (d: Buffer) => log(`compiler: ${d.toString().trimEnd()}`));
    this.worker.unref();
    let preludeReady!: (p: ConvertResult) => void;
    let failed!: (e: Error) => void;
    this.prelude = new Promise((resolve, reject) => ((preludeReady = resolve), (failed = reject)));
    this.prelude.catch(() => undefined);
    let warm!: () => void;
    let warmFailed!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => ((warm = resolve), (warmFailed = reject)));
    this.ready.catch(() => undefined);
    const failAll = (e: Error): void => {
      failed(e);
      warmFailed(e);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('message', (e: CompilerEvent) => {
      if (e.type === 'log') log(e.line);
      else if (e.type === 'prelude') preludeReady(e.result);
      else if (e.type === 'ready') warm();
      else if (e.type === 'failed') failAll(new Error(`The TypeScript compiler failed to start: ${e.error}`));
      else {
        const p = this.pending.get(e.id);
        this.pending.delete(e.id);
        if (e.ok) p?.resolve(e.value);
        else p?.reject(new Error(e.error));
      }
    });
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => failAll(new Error(`The TypeScript compiler thread stopped (exit code ${code}).`)));
  }

  private request<T>(req: DistributiveOmit<CompilerRequest, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  convert(prevDecl: string, src: string): Promise<ConvertResult> {
    return this.request({ op: 'convert', prevDecl, src });
  }

  complete(prevDecl: string, src: string, pos: number): Promise<CompletionResult> {
    return this.request({ op: 'complete', prevDecl, src, pos });
  }

  inspect(prevDecl: string, src: string, pos: number): Promise<string | undefined> {
    return this.request({ op: 'inspect', prevDecl, src, pos });
  }

  isComplete(src: string): Promise<CompletenessStatus> {
    return this.request({ op: 'isComplete', src });
  }

  close(): void {
    void this.worker.terminate();
  }
}
