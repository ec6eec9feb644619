// Starts tfjs's WebGPU backend in Node through Dawn (npm `webgpu`: Vulkan on Linux, Metal on
// macOS, D3D12 on Windows). tfjs-node-gpu, the design card's GPU path, is pinned to CUDA 11.2
// and does not load on current drivers; Dawn does. Both packages are optional at run time:
// every failure becomes a reason string for the backend report, never an exception.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { registerWebGPUKernels } from './kernels';
import { patchReadSync, watchDawnTicks } from './sync-read';

/** What Dawn says about the adapter the backend runs on (for the banner and the report). */
export interface WebGPUAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software adapter (SwiftShader): correct, but slower than the native CPU backend. */
  software: boolean;
}

// The few WebGPU shapes used here, declared locally so the library's types do not pull the
// browser's WebGPU globals (@webgpu/types) into every notebook cell.
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface Adapter {
  info: AdapterInfo;
}
interface Gpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<Adapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

let started: { adapter?: WebGPUAdapterSummary; error?: string } | undefined;

/** Where a Vulkan loader looks for installed drivers (ICD files) on Linux. */
const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** Debian's chromium ships SwiftShader, a Vulkan driver that runs on the CPU (for CI, or to try). */
export const CHROMIUM_SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The folders a Vulkan loader searches for driver (ICD) files on Linux. */
export function vulkanIcdDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.XDG_DATA_HOME ?? path.join(env.HOME ?? '/', '.local', 'share');
  return [...VULKAN_ICD_DIRS, path.join(home, 'vulkan', 'icd.d')];
}

/**
 * On Linux, why Vulkan cannot work here, checked before Dawn is loaded: Dawn prints its own
 * warnings to stderr when it finds no loader or no driver, which every CPU-only user would see.
 * `forced`: the user asked for webgpu, so say how to use SwiftShader where chromium has it.
 */
export function vulkanMissing(
  dirs: string[],
  env: NodeJS.ProcessEnv = process.env,
  forced = false,
  platform = process.platform,
): string | undefined {
  if (platform !== 'linux') return undefined;
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return undefined;
  const hasDriver = dirs.some((d) => {
    try {
      return fs.readdirSync(d).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
  if (hasDriver) return undefined;
  const why = `no Vulkan driver installed (no ICD file in ${dirs.slice(0, 2).join(' or ')})`;
  if (forced && fs.existsSync(CHROMIUM_SWIFTSHADER_ICD)) {
    return `${why}; to run on the CPU through chromium's SwiftShader (slow, for tests) set VK_DRIVER_FILES=${CHROMIUM_SWIFTSHADER_ICD}`;
  }
  return why;
}

function loadDawn(searchPaths: string[]): DawnModule | string {
  let file: string;
  try {
    file = require.resolve('webgpu', { paths: searchPaths });
  } catch {
    return 'npm package webgpu not installed (npm install webgpu)';
  }
  try {
    // The package is an ES module without top-level await: Node 20.19+ can require() it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
    const m = require(file) as Partial<DawnModule>;
    if (typeof m.create !== 'function' || !m.globals) return `${file} exports no create()/globals`;
    return m as DawnModule;
  } catch (e) {
    return `webgpu (Dawn) failed to load: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
  }
}

export function summarize(info: AdapterInfo): WebGPUAdapterSummary {
  const architecture = info.architecture ?? '';
  return {
    vendor: info.vendor ?? '',
    architecture,
    device: info.device ?? '',
    description: info.description ?? '',
    software: info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe/i.test(`${architecture} ${info.description ?? ''}`),
  };
}

/**
 * Registers the `webgpu` tfjs backend when Dawn finds an adapter; returns why not otherwise.
 * A software adapter is refused unless `allowSoftware` (the user asked for webgpu by name):
 * on a CPU it is far slower than the native backend.
 */
export async function registerWebGPUBackend(searchPaths: string[], allowSoftware: boolean): Promise<string | undefined> {
  if (started) return started.error ?? (started.adapter!.software && !allowSoftware ? softwareReason(started.adapter!) : undefined);
  const missing = vulkanMissing(vulkanIcdDirs(), process.env, allowSoftware);
  if (missing) return missing; // not cached: a later forced call may set VK_DRIVER_FILES first
  const dawn = loadDawn(searchPaths);
  if (typeof dawn === 'string') return dawn;
  let gpu: Gpu;
  let adapter: Adapter | null;
  try {
    // Seeing Dawn's event tick is what lets dataSync() work (see sync-read.ts).
    watchDawnTicks(dawn.globals);
    askForStorageBuffers(dawn.globals);
    cacheBindGroupLayouts(dawn.globals);
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return `Dawn could not query adapters: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
  }
  if (!adapter) return 'Dawn found no GPU adapter (no Vulkan, Metal or D3D12 device)';
  const summary = summarize(adapter.info);
  const refused = adapterRefusal(summary, allowSoftware);
  if (refused) return refused;
  // tfjs-backend-webgpu looks for navigator.gpu and the GPU* constants as browser globals.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const g = globalThis as { navigator?: { gpu?: Gpu } };
  if (!g.navigator) g.navigator = {};
  g.navigator.gpu = gpu;
  try {
    // Importing it registers the 'webgpu' backend factory (it asks navigator.gpu for the same
    // high-performance adapter when tf.setBackend('webgpu') first runs).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional backend, loaded only when chosen
    const webgpu = require('@tensorflow/tfjs-backend-webgpu') as { WebGPUBackend: { prototype: unknown } };
    patchReadSync(webgpu.WebGPUBackend.prototype as Parameters<typeof patchReadSync>[0], (data, dtype) =>
      tf.util.convertBackendValuesAndArrayBuffer(data, dtype as tf.DataType),
    );
    registerWebGPUKernels();
  } catch (e) {
    started = { error: `@tensorflow/tfjs-backend-webgpu failed to load: ${String((e as Error)?.message ?? e).split('\n')[0]}` };
    return started.error;
  }
  started = { adapter: summary };
  return undefined;
}

type DeviceDescriptor = { requiredLimits?: Record<string, number> } & Record<string, unknown>;

/**
 * Makes devices ask for as many storage buffers per shader as the adapter offers. tfjs asks for
 * the adapter's buffer-size and workgroup limits but leaves this at WebGPU's default of 8, and
 * Adam's update with its beta powers binds 9 or 10 (adam.ts).
 */
export function askForStorageBuffers(globals: Record<string, unknown>): void {
  const proto = (globals.GPUAdapter as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  const real = proto?.requestDevice;
  if (!proto || typeof real !== 'function' || (real as { __storageBuffers?: boolean }).__storageBuffers) return;
  const wrapped = function (this: { limits?: { maxStorageBuffersPerShaderStage?: number } }, descriptor?: DeviceDescriptor) {
    const most = this.limits?.maxStorageBuffersPerShaderStage;
    const asked = descriptor?.requiredLimits?.maxStorageBuffersPerShaderStage;
    if (most === undefined || (asked !== undefined && asked >= most)) return real.call(this, descriptor);
    const requiredLimits = { ...descriptor?.requiredLimits, maxStorageBuffersPerShaderStage: most };
    return real.call(this, { ...descriptor, requiredLimits });
  };
  (wrapped as { __storageBuffers?: boolean }).__storageBuffers = true;
  proto.requestDevice = wrapped;
}

/**
 * Makes a compute pipeline's getBindGroupLayout(i) return one object per pipeline and index.
 * tfjs-webgpu asks for it at every dispatch, and Dawn makes a new layout object each time
 * (1-44 µs of a ~60 µs dispatch on SwiftShader's host, more under load). Any of them binds the
 * same, so one is enough.
 */
export function cacheBindGroupLayouts(globals: Record<string, unknown>): void {
  const proto = (globals.GPUComputePipeline as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  const real = proto?.getBindGroupLayout;
  if (!proto || typeof real !== 'function' || (real as { __cached?: boolean }).__cached) return;
  const layouts = new WeakMap<object, Map<number, unknown>>();
  const cached = function (this: object, index: number) {
    let byIndex = layouts.get(this);
    if (!byIndex) layouts.set(this, (byIndex = new Map()));
    if (!byIndex.has(index)) byIndex.set(index, real.call(this, index));
    return byIndex.get(index);
  };
  (cached as { __cached?: boolean }).__cached = true;
  proto.getBindGroupLayout = cached;
}

/** Why an adapter is not used (a software one unless asked for by name), or undefined to use it. */
export function adapterRefusal(a: WebGPUAdapterSummary, allowSoftware: boolean): string | undefined {
  return a.software && !allowSoftware ? softwareReason(a) : undefined;
}

function softwareReason(a: WebGPUAdapterSummary): string {
  return `only a software adapter (${a.description || a.architecture}), slower than the CPU backends; TFJS_ESTIMATOR_BACKEND=webgpu forces it`;
}

/** The adapter the backend runs on, once registered. */
export function webgpuAdapter(): WebGPUAdapterSummary | undefined {
  return started?.adapter;
}
