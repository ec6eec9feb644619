// Worker thread entry: owns the TypeScript compiler (compiler.ts). At start it hands the kernel
// the converted prelude (from the cache when it can), then builds the compiler, warms it up on
// a first cell, and answers requests. Requests that arrive meanwhile wait in the port's queue.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { parentPort } from 'worker_threads';
import type * as TS from 'typescript';
import { kernelCacheDir, writeAtomic } from './cache-dir';
import { loadTypeScript, tslabVersion } from './tslab-adapter';
import { serveLeanNodeTypes } from './node-types';
import { libDirectory, serveLibsWithoutDocComments } from './doc-comments';
import { ensureTypeBundle, TypeBundle } from './type-bundle';
import { preludeSource } from '../cells/prelude';
import type { Compiler, ConvertResult } from './compiler';
import type { CompilerRequest, CompilerEvent } from './compiler-client';

const port = parentPort!;
const post = (e: CompilerEvent): void => port.postMessage(e);
const log = (line: string): void => post({ type: 'log', line });

// Every conversion builds a new TypeScript program and checker (a few MB that outlive the
// cell, so they reach the old generation); V8 lets such a heap grow to several times its live
// size before a full collection. Collecting when the kernel has been idle for a moment, or at
// once when a run of cells has grown the heap by GROWTH_MB, keeps the process small and flat.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const GROWTH_MB = 48;
let liveAfterCollect = 0;
let idleTimer: NodeJS.Timeout | undefined;
function collect(): void {
  clearTimeout(idleTimer);
  gc();
  liveAfterCollect = v8.getHeapStatistics().used_heap_size;
}
/** After a request has been answered. */
function collectWhenIdle(): void {
  clearTimeout(idleTimer);
  if (v8.getHeapStatistics().used_heap_size - liveAfterCollect > GROWTH_MB * 1e6) return collect();
  idleTimer = setTimeout(collect, 500);
  idleTimer.unref();
}

/** Bumped whenever the cell converter's output changes, so cached preludes are made again. */
const CONVERTER_VERSION = 3;

/** The prelude's conversion depends only on its source and the compiler: convert it once. */
function cachedPrelude(cacheDir: string, ts: typeof TS, src: string): { file: string; result?: ConvertResult } {
  const tslab = tslabVersion();
  const key = crypto
    .createHash('sha256')
    .update(`ts${ts.version} tslab${tslab} converter${CONVERTER_VERSION}\n${src}`)
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir, `prelude-${key}.json`);
  try {
    return { file, result: JSON.parse(fs.readFileSync(file, 'utf8')) as ConvertResult };
  } catch {
    return { file };
  }
}

function start(): Compiler | undefined {
  try {
    const t0 = performance.now();
    const cacheDir = kernelCacheDir();
    // tslab's TypeScript build, before anything loads it the ordinary way: 8 MB of JavaScript,
    // compiled once and cached.
    const tsModule = loadTypeScript(cacheDir);
    const ts = tsModule.exports as typeof TS;
    const bundle: TypeBundle = ensureTypeBundle(ts, cacheDir, log);
    const lean = serveLeanNodeTypes(ts, cacheDir);
    if (lean) log(lean);
    const libs = serveLibsWithoutDocComments(ts, cacheDir);
    if (libs) log(libs);
    const src = preludeSource(bundle);
    const cached = cachedPrelude(cacheDir, ts, src);
    if (cached.result) post({ type: 'prelude', result: cached.result });
    const t1 = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the code cache is in place
    const { Compiler } = require('./compiler') as typeof import('./compiler');
    // Hover text reads doc comments from the originals: the bundle's twin, the real lib files.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- as the compiler, after the code cache
    const { DeclarationDocs } = require('./declaration-docs') as typeof import('./declaration-docs');
    const libDir = libDirectory(ts);
    const compiler = new Compiler(
      ts,
      new DeclarationDocs(ts, (f) => (f === bundle.dtsPath ? bundle.docsPath : path.dirname(f) === libDir ? f : undefined)),
    );
    const t2 = performance.now();
    let prelude = cached.result;
    if (!prelude) {
      prelude = compiler.convert('', src);
      post({ type: 'prelude', result: prelude });
      if (prelude.diagnostics.length === 0) {
        try {
          writeAtomic(cached.file, JSON.stringify(prelude));
        } catch {
          // Only start-up time is lost.
        }
      }
    }
    // A first ordinary cell reads the library's types and compiles TypeScript's per-cell paths
    // before a real cell needs them.
    compiler.convert(prelude.declOutput ?? '', '0');
    const t3 = performance.now();
    tsModule.save();
    // Until the first collection, the heap's size now is the baseline growth is measured from.
    liveAfterCollect = v8.getHeapStatistics().used_heap_size;
    collectWhenIdle();
    const ms = (a: number, b: number): number => Math.round(b - a);
    post({ type: 'ready' });
    log(
      `compiler ready: set-up ${ms(t0, t1)} ms, compiler ${ms(t1, t2)} ms, ${cached.result ? 'cached prelude, ' : 'prelude and '}warm-up ${ms(t2, t3)} ms`,
    );
    return compiler;
  } catch (e) {
    post({ type: 'failed', error: (e as Error).stack ?? String(e) });
    return undefined;
  }
}

const compiler = start();

port.on('message', (req: CompilerRequest) => {
  if (!compiler) {
    post({ type: 'response', id: req.id, ok: false, error: 'the TypeScript compiler failed to start (see the kernel log)' });
    return;
  }
  try {
    let value: unknown;
    switch (req.op) {
      case 'convert':
        value = compiler.convert(req.prevDecl, req.src);
        break;
      case 'complete':
        value = compiler.complete(req.prevDecl, req.src, req.pos);
        break;
      case 'inspect':
        value = compiler.inspect(req.prevDecl, req.src, req.pos);
        break;
      case 'isComplete':
        value = compiler.isComplete(req.src);
        break;
    }
    post({ type: 'response', id: req.id, ok: true, value });
  } catch (e) {
    post({ type: 'response', id: req.id, ok: false, error: (e as Error).stack ?? String(e) });
  }
  collectWhenIdle();
});
