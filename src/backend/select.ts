// Picks the compute backend once per process: tfjs-node-gpu, then tfjs-node, then the native
// oneDNN backend, then wasm, then cpu. TFJS_ESTIMATOR_BACKEND or RunConfig.backend override it.
// The report says which one runs and why each one above it was skipped.
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { registerNativeBackend, NATIVE_BACKEND } from './native';
import { packageRoot } from './native/addon';

export interface BackendReport {
  name: string;
  skipped: { name: string; reason: string }[];
  threads: number;
  summary: string;
}

interface Candidate {
  name: string;
  /** tfjs backend name it registers. */
  backend: string;
  setup(): Promise<string | undefined>; // undefined = usable, else why not
}

/** Resolves optional packages from the user's project as well as ours (and test paths). */
function requireOptional(name: string): string | undefined {
  const extra = (process.env.TFJS_ESTIMATOR_MODULE_PATHS ?? '').split(path.delimiter).filter(Boolean);
  const paths = [...extra, process.cwd(), packageRoot()];
  try {
    const resolved = require.resolve(name, { paths });
    require(resolved);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(name) ? 'not installed' : `failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
}

function tfjsNode(pkg: string): Candidate {
  return {
    name: pkg.replace('@tensorflow/', ''),
    backend: 'tensorflow',
    async setup() {
      const why = requireOptional(pkg);
      if (why) return why;
      // It must register into the same tfjs-core instance as ours, or it does nothing for us.
      if (!tf.findBackendFactory('tensorflow')) return 'loaded, but registered no backend with this copy of @tensorflow/tfjs (version mismatch?)';
      return undefined;
    },
  };
}

const candidates: Candidate[] = [
  tfjsNode('@tensorflow/tfjs-node-gpu'),
  tfjsNode('@tensorflow/tfjs-node'),
  {
    name: NATIVE_BACKEND,
    backend: NATIVE_BACKEND,
    async setup() {
      return registerNativeBackend().error;
    },
  },
  {
    name: 'wasm',
    backend: 'wasm',
    async setup() {
      try {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const wasm = require('./wasm') as { registerWasmBackend(): Promise<string | undefined> };
        return await wasm.registerWasmBackend();
      } catch (e) {
        return `not available: ${(e as Error).message.split('\n')[0]}`;
      }
    },
  },
  { name: 'cpu', backend: 'cpu', setup: async () => undefined },
];

let report: BackendReport | undefined;

function threadCount(): number {
  const env = Number(process.env.OMP_NUM_THREADS);
  return Number.isInteger(env) && env > 0 ? env : os.cpus().length;
}

async function activate(c: Candidate): Promise<string | undefined> {
  const why = await c.setup();
  if (why) return why;
  try {
    const ok = await tf.setBackend(c.backend);
    if (!ok) return 'failed to initialise';
  } catch (e) {
    return `failed to initialise: ${(e as Error).message}`;
  }
  const b = tf.backend();
  if (b instanceof MathBackendCPU) (b as unknown as { firstUse: boolean }).firstUse = false;
  return undefined;
}

export async function initBackend(preferred?: string): Promise<BackendReport> {
  const wanted = preferred ?? process.env.TFJS_ESTIMATOR_BACKEND ?? undefined;
  if (report && (!wanted || wanted === report.name)) {
    if (tf.getBackend() !== backendOf(report.name)) await tf.setBackend(backendOf(report.name));
    return report;
  }
  const skipped: { name: string; reason: string }[] = [];
  let chosen: string | undefined;
  if (wanted) {
    const c = candidates.find((x) => x.name === wanted || x.backend === wanted);
    if (!c) throw new Error(`Unknown backend '${wanted}'; choose one of ${candidates.map((x) => x.name).join(', ')}.`);
    const why = await activate(c);
    if (why) throw new Error(`Backend '${wanted}' was requested (TFJS_ESTIMATOR_BACKEND or RunConfig.backend) but ${why}.`);
    chosen = c.name;
    skipped.push({ name: 'others', reason: `${wanted} requested explicitly` });
  } else {
    for (const c of candidates) {
      const why = await activate(c);
      if (!why) {
        chosen = c.name;
        break;
      }
      skipped.push({ name: c.name, reason: why });
    }
  }
  const name = chosen ?? 'cpu';
  const threads = name === 'cpu' ? 1 : threadCount();
  const detail = name === NATIVE_BACKEND ? ` (oneDNN, ${threads} threads)` : '';
  const skippedText = skipped.length ? `; skipped ${skipped.map((s) => `${s.name}: ${s.reason}`).join(', ')}` : '';
  report = { name, skipped, threads, summary: `backend: ${name}${detail}${skippedText}` };
  return report;
}

function backendOf(name: string): string {
  return candidates.find((c) => c.name === name)?.backend ?? name;
}

export function backendReport(): BackendReport | undefined {
  return report;
}
