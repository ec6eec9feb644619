// Kernels of our own for the webgpu backend (WGSL), registered over tfjs-backend-webgpu's stock
// ones where a training step's profile says so. See the files beside this one.
// TFJS_ESTIMATOR_WEBGPU_STOCK=1 runs tfjs's own instead (to compare speed or results): the stock
// filter gradient, MaxPoolGrad, Sum and Mean (read at each call); tfjs's ops in place of the project's
// fused kernels (batch norm and its moving averages, conv, cross-entropy, Adam, max pooling, relu and
// mean gradients: read when registering).
import * as tf from '@tensorflow/tfjs';
import {
  ADAM_UPDATE,
  BN_MOVING_AVERAGES,
  BN_TRAIN,
  BN_TRAIN_GRAD,
  CONV2D,
  MAX_POOL,
  MAX_POOL_GRAD,
  MaxPoolAttrs,
  MEAN_GRAD,
  RELU_GRAD,
  SPARSE_XENT,
  SPARSE_XENT_GRAD,
} from '../custom-kernels';
import { adamUpdate, AdamAttrs, AdamInputs } from './adam';
import { batchNormTrain, batchNormTrainGrad } from './batch-norm';
import { conv2d } from './conv2d';
import { conv2dFilterGrad, FilterGradAttrs, supportsFilterGrad } from './conv-backprop-filter';
import { maxPoolGrad, MaxPoolGradAttrs, supportsMaxPoolGrad } from './max-pool-grad';
import { maxPoolGradFromArgmax, maxPoolWithArgmax } from './max-pool';
import { movingAverages } from './moving-averages';
import { meanGrad, MeanGradAttrs, supportsMeanGrad } from './mean-grad';
import { ReduceAttrs, stridedReduce, supportsStridedReduce } from './reduce';
import { reluGrad } from './relu-grad';
import { sparseSoftmaxXent, sparseSoftmaxXentGrad } from './softmax-xent';
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

type Args = Parameters<tf.KernelFunc>[0];

/** Registers one of the project's own kernels (custom-kernels.ts) for webgpu. */
function register(
  name: string,
  run: (b: WebGPUBackendLike, inputs: Record<string, tf.TensorInfo>, args: Args) => tf.TensorInfo | tf.TensorInfo[],
): void {
  tf.registerKernel({
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: (args) => run(args.backend as unknown as WebGPUBackendLike, args.inputs as Record<string, tf.TensorInfo>, args),
  });
}

/** Mean's gradient composed from tfjs ops, for axes that are not one block. */
function composedMeanGrad(dy: tf.TensorInfo, a: MeanGradAttrs): tf.TensorInfo {
  const kept = a.shape.map((s, i) => (a.axis.includes(i) ? 1 : s));
  const r = tf.tidy(() => tf.mul(tf.reshape(tf.engine().makeTensorFromTensorInfo(dy), kept), tf.fill(a.shape, a.scale)));
  tf.keep(r);
  return { dataId: r.dataId, shape: r.shape, dtype: r.dtype };
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
  for (const name of ['Sum', 'Mean']) {
    override(name, (args, stock) => {
      const x = args.inputs.x as tf.TensorInfo;
      const attrs = args.attrs as unknown as ReduceAttrs;
      if (process.env.TFJS_ESTIMATOR_WEBGPU_STOCK === '1' || !supportsStridedReduce(x, attrs)) return stock(args);
      return stridedReduce(args.backend as unknown as WebGPUBackendLike, x, attrs, name === 'Mean');
    });
  }
  if (process.env.TFJS_ESTIMATOR_WEBGPU_STOCK === '1') return; // fused-ops and layers compose tfjs ops instead
  // The project's fused kernels (custom-kernels.ts): fused-ops, layers and the optimizer use each where registered.
  const epsilon = (args: Args) => (args.attrs as { epsilon: number }).epsilon;
  register(BN_TRAIN, (b, { x, scale, offset }, args) => batchNormTrain(b, x, scale, offset, epsilon(args)));
  register(BN_TRAIN_GRAD, (b, { x, dy, mean, variance, scale }, args) =>
    batchNormTrainGrad(b, x, dy, mean, variance, scale, epsilon(args)),
  );
  register(BN_MOVING_AVERAGES, (b, { movingMean, movingVar, mean, variance }, args) =>
    movingAverages(b, { movingMean, movingVar, mean, variance }, args.attrs as { momentum: number; correction: number }),
  );
  const fusedConv = tf.getKernel('FusedConv2D', BACKEND);
  if (fusedConv) register(CONV2D, (_b, _inputs, args) => conv2d(args, fusedConv.kernelFunc));
  register(SPARSE_XENT, (b, { logits, labels }) => sparseSoftmaxXent(b, logits, labels));
  register(SPARSE_XENT_GRAD, (b, { softmax, labels, dloss }) => sparseSoftmaxXentGrad(b, softmax, labels, dloss));
  register(ADAM_UPDATE, (b, inputs, args) => adamUpdate(b, inputs as unknown as AdamInputs, args.attrs as unknown as AdamAttrs));
  const poolAttrs = (args: Args) => args.attrs as unknown as MaxPoolAttrs;
  register(MAX_POOL, (b, { x }, args) => maxPoolWithArgmax(b, x, poolAttrs(args)));
  register(MAX_POOL_GRAD, (b, { dy, workspace }, args) => maxPoolGradFromArgmax(b, dy, workspace, poolAttrs(args)));
  register(RELU_GRAD, (b, { dy, x }) => reluGrad(b, dy, x));
  register(MEAN_GRAD, (b, { dy }, args) => {
    const a = args.attrs as unknown as MeanGradAttrs;
    return supportsMeanGrad(dy, a) ? meanGrad(b, dy, a) : composedMeanGrad(dy, a);
  });
}
