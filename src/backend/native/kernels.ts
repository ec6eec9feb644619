// The `native` backend's kernels over the addon, one file per op family (ops/, as the addon's
// .cc files). Each reads the backend's Float32Arrays in place and writes into a recycled output
// buffer; cases the addon does not cover (NCHW, non-float inputs, prelu, unusual broadcasts)
// go to the cpu kernel of the same name, and are counted.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './addon';
import type { KernelArgs, KernelContext } from './ops/common';
import { convKernels } from './ops/conv';
import { matmulKernels } from './ops/matmul';
import { poolKernels } from './ops/pool';
import { normKernels } from './ops/norm';
import { elementwiseKernels } from './ops/elementwise';
import { binaryKernels } from './ops/binary';

export { broadcastPlan } from './ops/binary';

const fallbackCounts = new Map<string, number>();

/** How often each native kernel handed its arguments to the cpu kernel (tests check it is 0). */
export function nativeFallbacks(reset = false): Record<string, number> {
  const r = Object.fromEntries(fallbackCounts);
  if (reset) fallbackCounts.clear();
  return r;
}

export function nativeKernels(addon: NativeAddon, cpuKernel: (name: string) => tf.KernelFunc): tf.KernelConfig[] {
  const cpu = (name: string, args: KernelArgs): tf.TensorInfo =>
    cpuKernel(name)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const ctx: KernelContext = {
    addon,
    cpu,
    fallback: (name, args) => {
      fallbackCounts.set(name, (fallbackCounts.get(name) ?? 0) + 1);
      return cpu(name, args);
    },
  };
  return [
    ...convKernels(ctx),
    ...matmulKernels(ctx),
    ...poolKernels(ctx),
    ...normKernels(ctx),
    ...elementwiseKernels(ctx),
    ...binaryKernels(ctx),
  ];
}
