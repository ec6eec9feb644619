// The `native` backend: tfjs's cpu backend with the hot kernels replaced by oneDNN primitives.
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon, NativeAddon } from './addon';
import { nativeKernels } from './kernels';
import { registerCustomGradients } from '../custom-kernels';

export const NATIVE_BACKEND = 'native';

class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // The cpu backend's "install tfjs-node" banner is wrong advice here: this is the fast path.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }
}

let registered: { addon?: NativeAddon; error?: string } | undefined;

/** Registers the backend once; returns why it can't be used, if it can't. */
export function registerNativeBackend(): { addon?: NativeAddon; error?: string } {
  if (registered) return registered;
  const loaded = loadAddon();
  if (!loaded.addon) {
    registered = loaded;
    return registered;
  }
  // Every cpu kernel first, then ours on top.
  for (const kc of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kc, backendName: NATIVE_BACKEND });
  const cpuKernel = (name: string): tf.KernelFunc => {
    const kc = tf.getKernel(name, 'cpu');
    if (!kc) throw new Error(`native backend: no cpu kernel ${name} to fall back to`);
    return kc.kernelFunc;
  };
  for (const kc of nativeKernels(loaded.addon, cpuKernel)) {
    if (tf.getKernel(kc.kernelName, NATIVE_BACKEND)) tf.unregisterKernel(kc.kernelName, NATIVE_BACKEND);
    tf.registerKernel(kc);
  }
  registerCustomGradients();
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 3);
  registered = loaded;
  return registered;
}
