// Loads the oneDNN addon built at npm install (build/Release/tfjs_estimator_native.node).
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../../package-root';

export interface NativeAddon {
  /** shape: op-codes.json (shapes.conv). activation: op-codes.json (activation). */
  conv2dForward(
    shape: Int32Array,
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    out: Float32Array,
  ): void;
  conv2dBackpropInput(shape: Int32Array, dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  conv2dBackpropFilter(shape: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** What runs the forward pass: 'direct' (conv-direct.cc, at most 4 input channels) or oneDNN's implementation name. */
  convImpl(shape: Int32Array): string;
  /** Direct convolutions (conv-direct.cc): 0 never, 1 where faster than oneDNN (default), 2 for every ic <= 4; returns the previous mode (-1: only read it). */
  setConvDirect(mode: number): number;
  /** shape: op-codes.json (shapes.pool). mode: op-codes.json (poolMode): max, average over valid inputs, average over the whole window. */
  poolForward(shape: Int32Array, mode: number, x: Float32Array, y: Float32Array): void;
  avgPoolBackward(shape: Int32Array, mode: number, dy: Float32Array, dx: Float32Array): void;
  maxPoolBackward(shape: Int32Array, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /**
   * Max pooling that also writes its workspace: per image, each output element's input pixel
   * (h * width + w, int32) and then the input value there, so twice the output's length (a
   * Float32Array; null: none, for inference). With scale and shift, it pools
   * relu(x * scale + shift) per channel: a batch norm + relu before it computed on the fly.
   */
  maxPoolArgmax(
    shape: Int32Array,
    x: Float32Array,
    scale: Float32Array | null,
    shift: Float32Array | null,
    y: Float32Array,
    workspace: Float32Array | null,
  ): void;
  /** dst's row i = src's row rows[i] / 255 (rows of rowLen bytes): a batch of images picked from their file's bytes. */
  gatherUnitBytes(src: Uint8Array, rowLen: number, rows: Int32Array, dst: Float32Array): void;
  /**
   * Inference's first-layer chain, one image at a time (conv-pool-chain.cc): y =
   * maxPool(relu(conv(x) * scale + shift)) per channel, the convolution's output never written.
   * False (y untouched) where the direct convolution does not take the shape.
   */
  convBnReluMaxPool(
    convShape: Int32Array,
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    scale: Float32Array,
    shift: Float32Array,
    poolShape: Int32Array,
    y: Float32Array,
  ): boolean;
  /** The gradient from maxPoolArgmax's workspace; with scale and shift, masked where x * scale + shift <= 0 (the relu's gradient). */
  maxPoolScatter(
    shape: Int32Array,
    dy: Float32Array,
    workspace: Float32Array,
    dx: Float32Array,
    scale?: Float32Array,
    shift?: Float32Array,
  ): void;
  /** With y null, only the statistics and (when given) the per-channel scale and shift of y = x * scale + shift. */
  bnTrainForward(
    rows: number,
    c: number,
    eps: number,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array | null,
    mean: Float32Array,
    variance: Float32Array,
    scale?: Float32Array,
    shift?: Float32Array,
  ): void;
  /** y = x * scale + shift over the last axis (c channels), then relu when asked. */
  affine(rows: number, c: number, x: Float32Array, scale: Float32Array, shift: Float32Array, relu: boolean, y: Float32Array): void;
  /** With reluOut, dy is the gradient of relu(batch norm): masked by reluOut > 0 on the fly. */
  bnTrainBackward(
    rows: number,
    c: number,
    eps: number,
    x: Float32Array,
    dy: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    reluOut?: Float32Array | null,
  ): void;
  /**
   * The gradient of batch norm -> relu -> max pooling when the relu and the pooling read
   * x * scale + shift on the fly (maxPoolArgmax with scale, shift), in parts (norm.cc): the
   * sums over the windows' maxima give dgamma, dbeta and k (k1 | k0 | k3, 3 c: the constants of
   * dx = k1 dy + k0 - (x - mean) k3). poolShape is the pooling's shape array, dy its output
   * gradient, workspace maxPoolArgmax's.
   */
  bnPooledGradStats(
    poolShape: Int32Array,
    eps: number,
    dy: Float32Array,
    workspace: Float32Array,
    scale: Float32Array,
    shift: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    gamma: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    k: Float32Array,
  ): void;
  /** The chain's dx written out; dxSums, when given, gets it summed per channel. */
  bnPooledDx(
    poolShape: Int32Array,
    x: Float32Array,
    dy: Float32Array,
    workspace: Float32Array,
    scale: Float32Array,
    shift: Float32Array,
    mean: Float32Array,
    k: Float32Array,
    dx: Float32Array,
    dxSums: Float32Array | null,
  ): void;
  /**
   * The filter gradient of the convolution images -> x before the chain, from the chain's dx
   * computed per image and never written out; dxSums gets dx summed per channel (the
   * convolution's bias gradient). For few input channels (a first layer).
   */
  bnPooledDxFilterGrad(
    poolShape: Int32Array,
    convShape: Int32Array,
    images: Float32Array,
    x: Float32Array,
    dy: Float32Array,
    workspace: Float32Array,
    scale: Float32Array,
    shift: Float32Array,
    mean: Float32Array,
    k: Float32Array,
    dw: Float32Array,
    dxSums: Float32Array,
  ): void;
  bnInference(
    rows: number,
    c: number,
    eps: number,
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    y: Float32Array,
  ): void;
  relu(x: Float32Array, y: Float32Array): void;
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  reduceSum(outer: number, reduce: number, inner: number, scale: number, x: Float32Array, out: Float32Array): void;
  broadcastMiddle(outer: number, reduce: number, inner: number, scale: number, src: Float32Array, out: Float32Array): void;
  sparseSoftmaxXent(
    rows: number,
    classes: number,
    logits: Float32Array,
    labels: Int32Array,
    loss: Float32Array,
    softmax: Float32Array,
  ): void;
  sparseSoftmaxXentGrad(
    rows: number,
    classes: number,
    softmax: Float32Array,
    labels: Int32Array,
    dloss: Float32Array,
    dlogits: Float32Array,
  ): void;
  adamUpdate(
    v: Float32Array,
    m: Float32Array,
    s: Float32Array,
    g: Float32Array,
    newV: Float32Array,
    newM: Float32Array,
    newS: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): void;
  /** shape: op-codes.json (shapes.matmul). */
  matmul(
    shape: Int32Array,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    out: Float32Array,
  ): void;
  /** op: op-codes.json (binary); strides in elements, 0 along broadcast dimensions. */
  binary(
    op: number,
    shape: Int32Array,
    aStrides: Int32Array,
    bStrides: Int32Array,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
  ): void;
  /** op: op-codes.json (unary). */
  unary(op: number, x: Float32Array, out: Float32Array): void;
  tile(inShape: Int32Array, reps: Int32Array, x: Float32Array, out: Float32Array): void;
  setThreads(n: number): number;
  info(): { onednn: string; cpuRuntime: string; threads: number; cachedConvolutions: number };
}

/** Functions this version of the TypeScript side calls (an addon built from older sources lacks some). */
const REQUIRED: Array<keyof NativeAddon> = [
  'conv2dForward',
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'poolForward',
  'avgPoolBackward',
  'maxPoolBackward',
  'maxPoolArgmax',
  'convBnReluMaxPool',
  'gatherUnitBytes',
  'maxPoolScatter',
  'bnTrainForward',
  'bnTrainBackward',
  'bnPooledGradStats',
  'bnPooledDx',
  'bnPooledDxFilterGrad',
  'bnInference',
  'affine',
  'relu',
  'reluGrad',
  'reduceSum',
  'broadcastMiddle',
  'sparseSoftmaxXent',
  'sparseSoftmaxXentGrad',
  'adamUpdate',
  'matmul',
  'binary',
  'unary',
  'tile',
  'setThreads',
  'info',
];

/** See loadAddon. */
const DEFAULT_SPIN_COUNT = 10000;

let cached: { addon?: NativeAddon; error?: string } | undefined;

/** The addon, or why it is unavailable (for the backend report). */
export function loadAddon(): { addon?: NativeAddon; error?: string } {
  if (cached) return cached;
  const file = process.env.TFJS_ESTIMATOR_NATIVE_ADDON ?? path.join(packageRoot(), 'build', 'Release', 'tfjs_estimator_native.node');
  if (!fs.existsSync(file)) {
    cached = { error: `addon not built (${file} missing: apt-get install libdnnl-dev, then npm rebuild)` };
    return cached;
  }
  // OpenMP threads that wait for work spin 300,000 times by default before sleeping. When
  // another process wants the cores, the spinning steals its time slices and every parallel
  // region waits for a descheduled thread: a training step ran 7-15x slower than with one
  // thread. A short spin keeps the idle-machine speed and loses far less under load. libgomp
  // reads this when the addon loads it; a user's own setting wins.
  if (process.env.GOMP_SPINCOUNT === undefined && process.env.OMP_WAIT_POLICY === undefined) {
    process.env.GOMP_SPINCOUNT = String(DEFAULT_SPIN_COUNT);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the addon is a .node file found at run time
    const addon = require(file) as NativeAddon;
    const missing = REQUIRED.filter((f) => typeof (addon as unknown as Record<string, unknown>)[f] !== 'function');
    cached = missing.length ? { error: `addon ${file} is out of date (no ${missing.join(', ')}): run npm rebuild` } : { addon };
  } catch (e) {
    cached = { error: `addon failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
  return cached;
}
