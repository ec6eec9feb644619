// Kernels tfjs-backend-wasm 4.22 lacks for training, and some it has but runs slowly:
//  - Tile as block copies (./tile) and MaxPoolGrad in one pass (./max-pool-grad);
//  - Conv2DBackpropFilter (missing) and Conv2DBackpropInput (a plain C++ loop, ~15x slower
//    than XNNPACK) rewritten as forward convolutions, which wasm runs through XNNPACK;
//  - the other missing kernels with a float result (depthwise backprops, UnsortedSegmentSum,
//    Einsum) run by the cpu backend on a copy of their inputs: correct, and rare in a step.
// Compositions call wasm's own kernel functions on TensorInfos, outside the engine: nothing
// is taped or tracked, so every intermediate is freed here by hand.
import * as tf from '@tensorflow/tfjs';
import { KernelArgs, WasmBackend, stockKernel } from './heap';
import { tileKernel } from './tile';
import { maxPoolGradKernel } from './max-pool-grad';

type TensorInfo = tf.TensorInfo;
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

/** Runs one of wasm's registered kernels directly on TensorInfos. */
function run(backend: WasmBackend, name: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
  return stockKernel(name)({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

function free(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function checkNhwc(kernel: string, a: ConvGradAttrs): void {
  if (a.dataFormat === 'NCHW') throw new Error(`${kernel} on the wasm backend supports NHWC only; use dataFormat 'NHWC'`);
}

/**
 * dW[kh,kw,c,k] = sum over n,oh,ow of x[n, oh*sh+kh-top, ow*sw+kw-left, c] * dy[n,oh,ow,k]:
 * a stride-1 convolution of x with channels and batch swapped ([C,H,W,N]) by dy as the filter
 * ([OH,OW,N,K]) dilated by the forward stride. Its bottom/right padding is whatever makes the
 * output KH x KW; where that is negative, the rows no output reads are cropped instead.
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as WasmBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvGradAttrs;
  checkNhwc('Conv2DBackpropFilter', a);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape!,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const [n, h, w, c] = x.shape;
  const { top, left } = info.padInfo;
  const bottom = info.filterHeight - h - top + (info.outHeight - 1) * info.strideHeight;
  const right = info.filterWidth - w - left + (info.outWidth - 1) * info.strideWidth;
  const xt = run(b, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
  let src = xt;
  if (bottom < 0 || right < 0) {
    src = run(b, 'Slice', { x: xt }, { begin: [0, 0, 0, 0], size: [c, h + Math.min(bottom, 0), w + Math.min(right, 0), n] });
    free(b, xt);
  }
  const dyt = run(b, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const pad = [
    [0, 0],
    [top, Math.max(bottom, 0)],
    [left, Math.max(right, 0)],
    [0, 0],
  ];
  const swapped = run(
    b,
    'Conv2D',
    { x: src, filter: dyt },
    { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] },
  );
  free(b, src, dyt);
  const dw = run(b, 'Transpose', { x: swapped }, { perm: [1, 2, 0, 3] });
  free(b, swapped);
  return dw;
}

/**
 * For stride 1, dx is the "full" convolution of dy by the filter turned 180 degrees with its
 * in/out channels swapped: dx[n,i,j,c] = sum dy[n, i+top-kh, j+left-kw, k] * W[kh,kw,c,k].
 * Other strides keep wasm's own kernel (its dy would need zeros inserted between rows).
 */
function conv2dBackpropInputViaForward(stock: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const b = backend as WasmBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as ConvGradAttrs;
    checkNhwc('Conv2DBackpropInput', a);
    const info = tf.backend_util.computeConv2DInfo(
      a.inputShape!,
      filter.shape as [number, number, number, number],
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    if (info.strideHeight !== 1 || info.strideWidth !== 1) return stock({ inputs, backend: b, attrs }) as TensorInfo;
    const [kh, kw] = filter.shape;
    const { top, left } = info.padInfo;
    const [, h, w] = a.inputShape!;
    // Output rows i = 0..H-1 read dy rows i+top-kh for kh = 0..KH-1: pad dy by KH-1-top above
    // and by whatever makes exactly H rows below (negative means those dy rows are unused,
    // which cannot happen for valid/same padding, but explicit padding may ask for it).
    const padTop = kh - 1 - top;
    const padLeft = kw - 1 - left;
    const padBottom = h - 1 + top - (info.outHeight - 1);
    const padRight = w - 1 + left - (info.outWidth - 1);
    if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) return stock({ inputs, backend: b, attrs }) as TensorInfo;
    const flipped = run(b, 'Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = run(b, 'Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
    free(b, flipped);
    const dx = run(
      b,
      'Conv2D',
      { x: dy, filter: swapped },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padTop, padBottom],
          [padLeft, padRight],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    );
    free(b, swapped);
    return dx;
  };
}

/** Runs a cpu kernel on copies of the inputs and copies its outputs into wasm memory. */
function viaCpu(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'cpu')!;
  return ({ inputs, backend, attrs }) => {
    const b = backend as WasmBackend;
    const cpu = tf.engine().findBackend('cpu');
    if (!cpu) throw new Error(`${name} on the wasm backend needs the cpu backend, which did not start`);
    const cpuInputs: Record<string, TensorInfo> = {};
    for (const [key, t] of Object.entries(inputs)) {
      if (!t) continue;
      cpuInputs[key] = { dataId: cpu.write(b.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
    }
    try {
      const out = kernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
      const outs = Array.isArray(out) ? out : [out];
      const copied = outs.map((o) => b.makeOutput(o.shape, o.dtype, undefined, cpu.readSync(o.dataId)));
      for (const o of outs) cpu.disposeData(o.dataId);
      return Array.isArray(out) ? copied : copied[0];
    } finally {
      for (const t of Object.values(cpuInputs)) cpu.disposeData(t.dataId);
    }
  };
}

/** Missing wasm kernels taken from the cpu backend (those of float and int tensors). */
export const CPU_BRIDGED_KERNELS = [
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
  'Einsum',
];

/** Puts `kernelFunc` in place of wasm's kernel `name`, which it may call for cases it skips. */
function replace(name: string, make: (stock: tf.KernelFunc) => tf.KernelFunc): void {
  const stock = tf.getKernel(name, 'wasm');
  if (!stock) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: make(stock.kernelFunc) });
}

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter as tf.KernelFunc });
  }
  replace('Conv2DBackpropInput', conv2dBackpropInputViaForward);
  replace('Tile', () => tileKernel as tf.KernelFunc);
  replace('MaxPoolGrad', () => maxPoolGradKernel as tf.KernelFunc);
  for (const name of CPU_BRIDGED_KERNELS) {
    if (!tf.getKernel(name, 'wasm') && tf.getKernel(name, 'cpu')) {
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: viaCpu(name) });
    }
  }
}
