// MaxPoolGrad for the wasm backend in one pass over the windows: each window's first maximum
// (the cpu backend's tie rule, which matters after a ReLU full of zeros) gets that window's
// gradient, all channels of a pixel at once. wasm's own kernel took 50 ms a step of the
// article's CNN.
import * as tf from '@tensorflow/tfjs';
import { KernelArgs, WasmBackend } from './heap';

export function maxPoolGradKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const b = backend as WasmBackend;
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: c,
    outHeight: oh,
    outWidth: ow,
    strideHeight: sh,
    strideWidth: sw,
    filterHeight: fh,
    filterWidth: fw,
  } = info;
  const { top, left } = info.padInfo;
  const out = b.makeOutput(input.shape, 'float32');
  const x = b.typedArrayFromHeap(input);
  const g = b.typedArrayFromHeap(dy);
  const dx = b.typedArrayFromHeap(out);
  dx.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let bi = 0; bi < n; bi++) {
    for (let r = 0; r < oh; r++) {
      const r0 = Math.max(0, r * sh - top);
      const r1 = Math.min(h, r * sh - top + fh);
      for (let q = 0; q < ow; q++) {
        const q0 = Math.max(0, q * sw - left);
        const q1 = Math.min(w, q * sw - left + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let y = r0; y < r1; y++) {
          for (let xx = q0; xx < q1; xx++) {
            const base = ((bi * h + y) * w + xx) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k];
              if (v > best[k]) {
                best[k] = v;
                where[k] = base + k;
              }
            }
          }
        }
        const gBase = ((bi * oh + r) * ow + q) * c;
        for (let k = 0; k < c; k++) if (where[k] >= 0) dx[where[k]] += g[gBase + k];
      }
    }
  }
  return out;
}
