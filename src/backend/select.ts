// Picks the compute backend once per process: tfjs-node-gpu, then tfjs-node, then webgpu (a
// hardware adapter through Dawn), then the native oneDNN backend, then wasm, then cpu. RunConfig.backend (the `preferred` argument) or
// TFJS_ESTIMATOR_BACKEND override the order. The report says which one runs and why each
// one above it was skipped, for the kernel banner and the Estimator's first log line.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { registerNativeBackend, NATIVE_BACKEND } from './native';
import { packageRoot } from '../package-root';
import { registerWebGPUBackend, webgpuAdapter, WEBGPU_BACKEND } from './webgpu';

export interface BackendReport {
  name: string;
  skipped: { name: string; reason: string }[];
  threads: number;
  summary: string;
}

interface Candidate {
  /** Name in reports and overrides. */
  name: string;
  /** The tfjs backend name it registers. */
  backend: string;
  /** Registers the backend if it can; returns why not otherwise. `forced`: asked for by name. */
  setup(forced: boolean): Promise<string | undefined>;
  /** Words after the name in the summary, e.g. "oneDNN 2.6.3, 2 threads". */
  detail(): { threads: number; text: string };
}

/**
 * Where optional packages are looked up: the folders in TFJS_ESTIMATOR_MODULE_PATHS (a user's
 * project, a notebook's folder, test stand-ins), the working directory, and this package.
 */
function searchPaths(): string[] {
  const extra = (process.env.TFJS_ESTIMATOR_MODULE_PATHS ?? '').split(path.delimiter).filter(Boolean);
  return [...extra, process.cwd(), packageRoot()];
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

/** The package.json version next to a resolved module file, if any. */
function versionOf(resolvedFile: string, pkg: string): string {
  let dir = path.dirname(resolvedFile);
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, 'package.json');
    if (fs.existsSync(p)) {
      const json = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return json.version ?? '?';
    }
    dir = path.dirname(dir);
  }
  return '?';
}

function tfjsNode(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): Candidate {
  return {
    name: pkg.replace('@tensorflow/', ''),
    backend: 'tensorflow',
    async setup() {
      let resolved: string;
      try {
        resolved = require.resolve(pkg, { paths: searchPaths() });
      } catch {
        return 'not installed';
      }
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- probing whether an optional package loads, synchronously
        require(resolved);
      } catch (e) {
        return `installed but failed to load: ${firstLine(e)}`;
      }
      if (tf.findBackendFactory('tensorflow')) return undefined;
      // It registered into the tfjs-core copy it resolves; say so when that is not ours.
      try {
        const theirs = require.resolve('@tensorflow/tfjs-core', { paths: [path.dirname(resolved)] });
        const ours = require.resolve('@tensorflow/tfjs-core');
        if (theirs !== ours) {
          return `loaded, but it uses its own @tensorflow/tfjs-core ${versionOf(theirs, '@tensorflow/tfjs-core')} (${theirs}), not ours ${tf.version_core} (${ours}), so its backend is invisible here: install ${pkg}@${tf.version_core} to match`;
        }
      } catch {
        /* fall through to the generic reason */
      }
      return 'loaded, but registered no "tensorflow" backend';
    },
    detail: () => ({ threads: os.cpus().length, text: 'TensorFlow C library' }),
  };
}

function nativeDetail(): { threads: number; text: string } {
  const addon = registerNativeBackend().addon;
  const info = addon?.info();
  return {
    threads: info?.threads ?? 1,
    text: `oneDNN ${info?.onednn ?? '?'}, ${info?.threads ?? 1} thread${info?.threads === 1 ? '' : 's'}`,
  };
}

interface WasmModule {
  registerWasmBackend(): Promise<string | undefined>;
  wasmThreads?(): number;
}

function loadWasmModule(): WasmModule | string {
  let file: string;
  try {
    file = require.resolve('./wasm');
  } catch {
    return 'not part of this build (no src/backend/wasm)';
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
    const m = require(file) as Partial<WasmModule>;
    return typeof m.registerWasmBackend === 'function' ? (m as WasmModule) : 'src/backend/wasm exports no registerWasmBackend()';
  } catch (e) {
    return `failed to load: ${firstLine(e)}`;
  }
}

const candidates: Candidate[] = [
  tfjsNode('@tensorflow/tfjs-node-gpu'),
  tfjsNode('@tensorflow/tfjs-node'),
  {
    name: WEBGPU_BACKEND,
    backend: WEBGPU_BACKEND,
    setup: (forced) => registerWebGPUBackend(searchPaths(), forced),
    detail() {
      const a = webgpuAdapter();
      const what = [a?.vendor, a?.device || a?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
      return { threads: 1, text: `Dawn, ${what}${a?.software ? ', software' : ''}` };
    },
  },
  {
    name: NATIVE_BACKEND,
    backend: NATIVE_BACKEND,
    setup: async () => registerNativeBackend().error,
    detail: nativeDetail,
  },
  {
    name: 'wasm',
    backend: 'wasm',
    async setup() {
      const m = loadWasmModule();
      if (typeof m === 'string') return m;
      try {
        return await m.registerWasmBackend();
      } catch (e) {
        return `failed to start: ${firstLine(e)}`;
      }
    },
    detail() {
      const m = loadWasmModule();
      const threads = typeof m === 'string' ? 1 : (m.wasmThreads?.() ?? 1);
      return { threads, text: `${threads} thread${threads === 1 ? '' : 's'}` };
    },
  },
  { name: 'cpu', backend: 'cpu', setup: async () => undefined, detail: () => ({ threads: 1, text: 'plain JavaScript, 1 thread' }) },
];

let report: BackendReport | undefined;

async function activate(c: Candidate, forced = false): Promise<string | undefined> {
  const why = await c.setup(forced);
  if (why) return why;
  try {
    if (!(await tf.setBackend(c.backend))) return 'failed to initialise';
  } catch (e) {
    return `failed to initialise: ${firstLine(e)}`;
  }
  // The cpu backend's "install tfjs-node" banner is noise once the choice has been reported.
  const b = tf.backend();
  if (b instanceof MathBackendCPU) (b as unknown as { firstUse: boolean }).firstUse = false;
  return undefined;
}

function find(wanted: string): Candidate {
  const c = candidates.find((x) => x.name === wanted || x.backend === wanted || `@tensorflow/${x.name}` === wanted);
  if (!c)
    throw new Error(
      `Unknown backend '${wanted}': choose one of ${candidates.map((x) => x.name).join(', ')} (RunConfig.backend or TFJS_ESTIMATOR_BACKEND).`,
    );
  return c;
}

/**
 * Chooses and activates the backend (see the file comment) and returns what was chosen and
 * why. A later call returns the same report unless it asks for a different backend.
 */
export async function initBackend(preferred?: string): Promise<BackendReport> {
  const source = preferred ? 'RunConfig.backend' : 'TFJS_ESTIMATOR_BACKEND';
  const wanted = preferred || process.env.TFJS_ESTIMATOR_BACKEND || undefined;
  const target = wanted ? find(wanted) : undefined;
  if (report && (!target || target.name === report.name)) {
    const backend = find(report.name).backend;
    if (tf.getBackend() !== backend) await tf.setBackend(backend);
    return report;
  }
  const skipped: BackendReport['skipped'] = [];
  let chosen: Candidate | undefined;
  if (target) {
    const why = await activate(target, true);
    if (why)
      throw new Error(
        `Backend '${target.name}' was requested (${source}=${wanted}) but cannot be used: ${why}. Fix that, or unset ${source} to let the library pick a backend.`,
      );
    chosen = target;
    for (const c of candidates.slice(0, candidates.indexOf(target)))
      skipped.push({ name: c.name, reason: `${source} asks for ${target.name}` });
  } else {
    for (const c of candidates) {
      const why = await activate(c);
      if (!why) {
        chosen = c;
        break;
      }
      skipped.push({ name: c.name, reason: why });
    }
  }
  const c = chosen ?? find('cpu');
  const d = c.detail();
  const skippedText = skipped.length ? `; skipped ${skipped.map((s) => `${s.name}: ${s.reason}`).join(', ')}` : '';
  report = { name: c.name, skipped, threads: d.threads, summary: `backend: ${c.name} (${d.text})${skippedText}` };
  return report;
}

/** The report of the last initBackend call, if any. */
export function backendReport(): BackendReport | undefined {
  return report;
}
