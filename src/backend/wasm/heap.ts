// The part of tfjs-backend-wasm's backend that kernels written in JS use: outputs allocated
// on the wasm heap and typed-array views of tensors there.
import * as tf from '@tensorflow/tfjs';

export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  /** A view of the tensor's memory; take it after the last makeOutput (growing the heap detaches views). */
  typedArrayFromHeap(t: tf.TensorInfo): tf.backend_util.TypedArray;
}

export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: object;
  attrs?: tf.NamedAttrMap;
}

/** Wraps one of wasm's registered kernels so a replacement can hand it the cases it skips. */
export function stockKernel(name: string): tf.KernelFunc {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`tfjs-backend-wasm has no ${name} kernel`);
  return k.kernelFunc;
}
