// Per-kernel wall time of a backend, by wrapping each registered kernel with a timer. Used by
// the benchmarks to show where a training step goes.
import * as tf from '@tensorflow/tfjs';

export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

export interface KernelProfiler {
  reset(): void;
  rows(): KernelTime[];
  stop(): void;
}

export function profileKernels(backendName = tf.getBackend()): KernelProfiler {
  const stats = new Map<string, KernelTime>();
  const originals = tf.getKernelsForBackend(backendName);
  for (const kc of originals) {
    const fn = kc.kernelFunc;
    tf.unregisterKernel(kc.kernelName, backendName);
    tf.registerKernel({
      ...kc,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = process.hrtime.bigint();
        const r = fn(args);
        const row = stats.get(kc.kernelName) ?? { kernel: kc.kernelName, calls: 0, ms: 0 };
        row.calls += 1;
        row.ms += Number(process.hrtime.bigint() - t0) / 1e6;
        stats.set(kc.kernelName, row);
        return r;
      }) as tf.KernelFunc,
    });
  }
  return {
    reset: () => stats.clear(),
    rows: () => [...stats.values()].sort((a, b) => b.ms - a.ms),
    stop: () => {
      for (const kc of originals) {
        tf.unregisterKernel(kc.kernelName, backendName);
        tf.registerKernel(kc);
      }
    },
  };
}
