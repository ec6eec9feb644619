// Starts @tensorflow/tfjs-backend-wasm in Node, with threads where it can.
//
// The package's own start-up never uses threads in Node: its thread check is false there, it
// hands the pthread workers a blob: URL that Node's Worker rejects, and its C++ caps the pool
// at half the cores (one thread on a 2-core machine). So the threaded SIMD build is started
// here from the package's own files: the worker script and the main script the workers load
// are written out as real files (both generated from the installed package, so they always
// match it), the .wasm is read from the package, and the core count the C++ sees is doubled
// so that the pool gets the number of threads asked for. Nothing is downloaded. If any of
// this fails, the package's single-threaded SIMD build starts the ordinary way.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: {
    unusedWorkers: Array<{ unref?: () => void }>;
    runningWorkers: Array<{ unref?: () => void }>;
    terminateAllThreads?: () => void;
  };
  tfjs?: Record<string, (...a: number[]) => number>;
}
// Node has WebAssembly, but this project compiles without the DOM library that types it.
interface Instantiated {
  instance: object;
  module: object;
}
const webAssembly = (globalThis as unknown as { WebAssembly: { instantiate(binary: Uint8Array, imports: object): Promise<Instantiated> } })
  .WebAssembly;
type Factory = ((config: Record<string, unknown>) => Promise<EmscriptenModule>) & { toString(): string };

let threadsInUse = 1;
const THREADED_START_MS = 30_000;

/**
 * Threads for wasm: OMP_NUM_THREADS as for the native backend, else half the cores. Only the
 * convolutions run on the pool; the rest of a step is JavaScript on the main thread, which the
 * pool's threads then compete with: on 2 cores one thread trained the article's CNN at 456, 465
 * and 362 images/s against 416, 415 and 350 with two (same runs, interleaved).
 */
export function wantedWasmThreads(): number {
  const env = Number(process.env.OMP_NUM_THREADS);
  return Number.isInteger(env) && env > 0 ? env : Math.max(1, Math.floor(os.cpus().length / 2));
}

export function wasmThreadsInUse(): number {
  return threadsInUse;
}

/** The two scripts the pthread workers need, written once per package version into tmpdir. */
function writeWorkerScripts(outDir: string, factory: Factory): { worker: string; main: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a script of the installed package, by its path
  const workerModule = require(path.join(outDir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // The contents sit in a template literal, so its "\n" escapes arrived as real newlines.
  const workerSource = workerModule.wasmWorkerContents.replace(/\n/g, '\\n');
  const mainSource = `var WasmBackendModuleThreadedSimd = ${factory.toString()}`;
  const key = crypto.createHash('sha256').update(workerSource).update(mainSource).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `tfjs-estimator-wasm-${key}-${process.getuid?.() ?? 'u'}`);
  fs.mkdirSync(dir, { recursive: true });
  const files = { worker: path.join(dir, 'worker.js'), main: path.join(dir, 'main.js') };
  for (const [file, text] of [
    [files.worker, workerSource],
    [files.main, mainSource],
  ] as const) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue;
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }
  return files;
}

async function startThreaded(wasm: WasmPackage, threads: number): Promise<void> {
  const outDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a script of the installed package, by its path
  const factory = require(path.join(outDir, 'tfjs-backend-wasm-threaded-simd.js')) as Factory;
  const scripts = writeWorkerScripts(outDir, factory);
  const binary = fs.readFileSync(path.join(outDir, 'tfjs-backend-wasm-threaded-simd.wasm'));
  // Emscripten's ready promise never settles when instantiation fails or a worker cannot load
  // its scripts: such failures (and a start that takes too long) reject here instead, so the
  // caller falls back to the single-threaded build rather than waiting forever.
  let fail!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = (e) => reject(e instanceof Error ? e : new Error(String(e)))));
  const timer = setTimeout(
    () => fail(new Error(`the threaded wasm build did not start within ${THREADED_START_MS / 1000} s`)),
    THREADED_START_MS,
  );
  // Emscripten fills in this object as the module (its PThread pool included) as it starts.
  const config: Record<string, unknown> & Partial<EmscriptenModule> = {
    locateFile: (file: string, prefix: string) => (file.endsWith('.worker.js') ? scripts.worker : prefix + file),
    mainScriptUrlOrBlob: scripts.main,
    instantiateWasm: (info: { env: Record<string, unknown> }, receive: (instance: object, module: object) => void) => {
      info.env.emscripten_num_logical_cores = () => 2 * threads;
      webAssembly.instantiate(binary, info).then((r) => receive(r.instance, r.module), fail);
      return {};
    },
    onAbort: fail,
    print: () => undefined,
    printErr: () => undefined,
  };
  let module: EmscriptenModule;
  try {
    module = await Promise.race([factory(config), failed]);
  } catch (e) {
    // Its pool's workers were started before the failure: they must not keep the process alive.
    config.PThread?.terminateAllThreads?.();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  // The same entry points the package's own start-up wraps.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasm.setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => new wasm.BackendWasm(module as unknown as ConstructorParameters<WasmPackage['BackendWasm']>[0]), 2);
  if (!(await tf.setBackend('wasm'))) throw new Error('the threaded wasm backend did not initialise');
  // The pool's threads wait for work forever: they must not keep the process alive once the
  // user's work is done (Emscripten ref()s a worker when it starts a thread on it).
  for (const w of [...(module.PThread?.unusedWorkers ?? []), ...(module.PThread?.runningWorkers ?? [])]) w.unref?.();
}

type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

/** The package's own registration, to put back if the threaded start fails half-way. */
function packageRegistration(): { factory: BackendFactory; priority: number } | undefined {
  return (tf.engine() as unknown as { registryFactory: Record<string, { factory: BackendFactory; priority: number }> }).registryFactory
    .wasm;
}

export async function startWasm(): Promise<string | undefined> {
  let wasm: WasmPackage;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional backend, loaded only when chosen
    wasm = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  } catch (e) {
    return `@tensorflow/tfjs-backend-wasm is not installed (${(e as Error).message.split('\n')[0]})`;
  }
  const threads = wantedWasmThreads();
  const original = packageRegistration();
  if (threads > 1 && typeof SharedArrayBuffer === 'function') {
    try {
      await startThreaded(wasm, threads);
      threadsInUse = wasm.getThreadsCount();
      return undefined;
    } catch {
      // The single-threaded build needs none of the above.
      tf.removeBackend('wasm');
      if (original) tf.registerBackend('wasm', original.factory, original.priority);
    }
  }
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(`${dist}${path.sep}`);
  try {
    if (!(await tf.setBackend('wasm'))) return 'the wasm backend did not initialise';
  } catch (e) {
    return `the wasm backend failed to start: ${(e as Error).message.split('\n')[0]}`;
  }
  threadsInUse = 1;
  return undefined;
}
