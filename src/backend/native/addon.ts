// Loads the oneDNN addon built at npm install (build/Release/tfjs_estimator_native.node).
import * as fs from 'fs';
import * as path from 'path';

export interface NativeAddon {
  conv2dForward(shape: Int32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null, relu: boolean, out: Float32Array): void;
  conv2dBackpropInput(shape: Int32Array, dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  conv2dBackpropFilter(shape: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** mode: 0 max, 1 average over valid inputs, 2 average over the whole window. */
  poolForward(shape: Int32Array, mode: number, x: Float32Array, y: Float32Array): void;
  poolBackward(shape: Int32Array, mode: number, x: Float32Array, dy: Float32Array, dx: Float32Array, scratchY: Float32Array): void;
  bnForwardTraining(rows: number, c: number, eps: number, x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array): void;
  bnBackward(rows: number, c: number, eps: number, x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, gamma: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;
  adamUpdate(v: Float32Array, m: Float32Array, s: Float32Array, g: Float32Array, lr: number, beta1: number, beta2: number, eps: number): void;
  reduceSum(outer: number, reduce: number, inner: number, x: Float32Array, out: Float32Array): void;
  relu(x: Float32Array, y: Float32Array): void;
  broadcastMiddle(outer: number, reduce: number, inner: number, scale: number, src: Float32Array, out: Float32Array): void;
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  convImpl(shape: Int32Array): string;
  info(): { onednn: string; cpuRuntime: string; cachedConvolutions: number };
}

/** The package root: the folder above whichever dist/ or src/ this file runs from. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'tfjs-estimator') return dir;
    dir = path.dirname(dir);
  }
  throw new Error('tfjs-estimator: cannot find the package root');
}

let cached: { addon?: NativeAddon; error?: string } | undefined;

/** The addon, or why it is unavailable (for the backend report). */
export function loadAddon(): { addon?: NativeAddon; error?: string } {
  if (cached) return cached;
  const file = process.env.TFJS_ESTIMATOR_NATIVE_ADDON ?? path.join(packageRoot(), 'build', 'Release', 'tfjs_estimator_native.node');
  if (!fs.existsSync(file)) {
    cached = { error: `addon not built (${file} missing: apt-get install libdnnl-dev, then npm rebuild)` };
    return cached;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    cached = { addon: require(file) as NativeAddon };
  } catch (e) {
    cached = { error: `addon failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
  return cached;
}
