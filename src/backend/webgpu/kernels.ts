// Kernels of our own for the webgpu backend (WGSL), registered over tfjs-backend-webgpu's stock
// ones where a training step's profile says so. See the files beside this one.
// TFJS_ESTIMATOR_WEBGPU_STOCK=1 runs tfjs's own instead (to compare speed or results): the stock
// filter gradient and MaxPoolGrad (read at each call), the layers' composite batch norm (read when registering).
import * as tf from '@tensorflow/tfjs';
import { BN_TRAIN, BN_TRAIN_GRAD } from '../custom-kernels';
import { batchNormTrain, batchNormTrainGrad } from './batch-norm';
import { conv2dFilterGrad, FilterGradAttrs, supportsFilterGrad } from './conv-backprop-filter';
import { maxPoolGrad, MaxPoolGradAttrs, supportsMaxPoolGrad } from './max-pool-grad';
import type { WebGPUBackendLike } from './program';

const BACKEND = 'webgpu';
let registered = false;

/**
 * Replaces the stock kernel `name` with `ours`; `ours` gets the stock kernelFunc to fall back
 * on for the cases it does not handle.
 */
function override(name: string, ours: (args: Parameters<tf.KernelFunc>[0], stock: tf.KernelFunc) => ReturnType<tf.KernelFunc>): void {
  const stock = tf.getKernel(name, BACKEND);
  if (!stock) return; // tfjs-backend-webgpu changed: keep whatever it has
  tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ ...stock, kernelFunc: (args) => ours(args, stock.kernelFunc) });
}

/** Registers every custom webgpu kernel once; called after tfjs-backend-webgpu has loaded. */
export function registerWebGPUKernels(): void {
  if (registered) return;
  registered = true;
  override('Conv2DBackpropFilter', (args, stock) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const attrs = args.attrs as unknown as FilterGradAttrs;
    if (process.env.TFJS_ESTIMATOR_WEBGPU_STOCK === '1' || !supportsFilterGrad(x, dy, attrs)) return stock(args);
    return conv2dFilterGrad(args.backend as unknown as WebGPUBackendLike, x, dy, attrs);
  });
  override('MaxPoolGrad', (args, stock) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    if (process.env.TFJS_ESTIMATOR_WEBGPU_STOCK === '1' || !supportsMaxPoolGrad(dy, input)) return stock(args);
    return maxPoolGrad(args.backend as unknown as WebGPUBackendLike, dy, input, args.attrs as unknown as MaxPoolGradAttrs);
  });
  if (process.env.TFJS_ESTIMATOR_WEBGPU_STOCK === '1') return; // the layers' composite batch norm
  // The project's fused batch norm (see custom-kernels.ts): layers use it where registered.
  tf.registerKernel({
    kernelName: BN_TRAIN,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
      return batchNormTrain(backend as unknown as WebGPUBackendLike, x, scale, offset, (attrs as { epsilon: number }).epsilon);
    },
  });
  tf.registerKernel({
    kernelName: BN_TRAIN_GRAD,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy, mean, variance, scale } = inputs as Record<string, tf.TensorInfo>;
      return batchNormTrainGrad(
        backend as unknown as WebGPUBackendLike,
        x,
        dy,
        mean,
        variance,
        scale,
        (attrs as { epsilon: number }).epsilon,
      );
    },
  });
}
