// Kernels of our own, with their gradients, for the parts of a training step that tfjs
// composes from many small ops or computes eagerly:
//  - batch normalisation in training mode: one forward and one backward kernel (tfjs's
//    gradient of tf.moments + tf.batchNorm is a dozen element-wise ops and broadcasts), and
//    the update of its moving averages as one kernel (seven element-wise ops otherwise);
//  - convolution + bias + relu whose gradient computes only what the tape asks for (tfjs's
//    fused conv2d computes the input gradient even for the first layer, where nobody uses it);
//  - sparse softmax cross-entropy as one kernel each way;
//  - Adam's update as one kernel per variable;
//  - max pooling whose forward pass records each window's maximum, so that its gradient is a
//    scatter instead of a second search (tfjs's MaxPoolGrad gets only the input);
//  - lighter gradients for Relu and Mean.
// Backends register these kernels; the ops that call them, with fallbacks to plain tfjs ops
// where the active backend lacks them, are in framework/fused-ops.ts.
import * as tf from '@tensorflow/tfjs';

export const BN_TRAIN = 'TfjsEstimatorBatchNormTrain';
export const BN_TRAIN_GRAD = 'TfjsEstimatorBatchNormTrainGrad';
export const BN_MOVING_AVERAGES = 'TfjsEstimatorBatchNormMovingAverages';
export const ADAM_UPDATE = 'TfjsEstimatorAdamUpdate';
export const RELU_GRAD = 'TfjsEstimatorReluGrad';
export const MEAN_GRAD = 'TfjsEstimatorMeanGrad';
export const CONV2D = 'TfjsEstimatorConv2D';
export const SPARSE_XENT = 'TfjsEstimatorSparseSoftmaxXent';
export const SPARSE_XENT_GRAD = 'TfjsEstimatorSparseSoftmaxXentGrad';
export const MAX_POOL = 'TfjsEstimatorMaxPool';
export const MAX_POOL_GRAD = 'TfjsEstimatorMaxPoolGrad';

/**
 * Kernels of several outputs whose gradient reads only the first output's dy (the others are
 * statistics or workspaces): a tape may hand them anything for the rest.
 */
export const GRADIENT_USES_FIRST_OUTPUT_ONLY: ReadonlySet<string> = new Set([BN_TRAIN, MAX_POOL, SPARSE_XENT]);

type Grad = tf.Tensor | tf.Tensor[];
const first = (dy: Grad): tf.Tensor => (Array.isArray(dy) ? dy[0] : dy);

let gradientRegistered = false;

export function registerCustomGradients(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: BN_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys: Grad, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, scale, mean, variance] = saved;
      const [dx, dscale, doffset] = tf
        .engine()
        .runKernel(BN_TRAIN_GRAD, { x, dy: first(dys), mean, variance, scale }, attrs) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
  tf.registerGradient({
    kernelName: CONV2D,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dys: Grad, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, filter, y] = saved;
      const a = attrs as unknown as ConvAttrs;
      // y > 0 exactly where the pre-activation is, so relu's gradient can use the output.
      const dy = a.activation === 'relu' ? (tf.engine().runKernel(RELU_GRAD, { dy: first(dys), x: y }) as tf.Tensor) : first(dys);
      const common = { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode };
      // Lazy: the tape asks only for the inputs on a path from the variables (not for the
      // images of a first layer). oneDNN's bias gradient inside the filter's pass was measured
      // slower than a separate sum for one input channel, so the bias gets its own kernel.
      return {
        x: () =>
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
            ...common,
            inputShape: x.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
            ...common,
            filterShape: filter.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        bias: () => tf.sum(dy, [0, 1, 2]),
      };
    },
  });
  tf.registerGradient({
    kernelName: SPARSE_XENT,
    inputsToSave: ['labels'],
    outputsToSave: [false, true],
    gradFunc: (dys: Grad, saved: tf.Tensor[]) => {
      const [labels, softmax] = saved;
      return {
        logits: () => tf.engine().runKernel(SPARSE_XENT_GRAD, { softmax, labels, dloss: first(dys) }) as tf.Tensor,
        labels: () => tf.zerosLike(labels),
      };
    },
  });
  tf.registerGradient({
    kernelName: MAX_POOL,
    outputsToSave: [false, true],
    gradFunc: (dys: Grad, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [workspace] = saved;
      return { x: () => tf.engine().runKernel(MAX_POOL_GRAD, { dy: first(dys), workspace }, attrs) as tf.Tensor };
    },
  });
  // Mean's stock gradient multiplies by a tensor of ones and divides, both broadcasting:
  // generic per-element index arithmetic on the cpu backend.
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy: Grad, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const d = first(dy);
      const [x] = saved;
      const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
      const reduceSize = axes.reduce((p, a) => p * x.shape[a], 1);
      return {
        x: () => {
          if (hasKernel(MEAN_GRAD) && d.dtype === 'float32') {
            return tf.engine().runKernel(MEAN_GRAD, { dy: d }, { shape: x.shape, axis: axes, scale: 1 / reduceSize }) as tf.Tensor;
          }
          const kept = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
          return tf.div(tf.mul(tf.reshape(d, kept), tf.ones(x.shape, 'float32')), reduceSize);
        },
      };
    },
  });
  // Relu's stock gradient is dy * cast(step(x)): three passes and two temporaries. It reads
  // the output instead of the input (y > 0 exactly where x > 0): the input, often a batch
  // norm's output, need not be kept, nor even computed (see the native backend's Relu).
  tf.registerGradient({
    kernelName: 'Relu',
    outputsToSave: [true],
    gradFunc: (dy: Grad, saved: tf.Tensor[]) => {
      const d = first(dy);
      const [x] = saved;
      return {
        x: () =>
          hasKernel(RELU_GRAD) && x.dtype === 'float32'
            ? (tf.engine().runKernel(RELU_GRAD, { dy: d, x }) as tf.Tensor)
            : tf.mul(d, tf.cast(tf.step(x), 'float32')),
      };
    },
  });
}

/** Whether the active backend implements this kernel. */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

export interface ConvAttrs {
  strides: [number, number];
  pad: 'valid' | 'same' | number;
  dilations: [number, number];
  activation: 'linear' | 'relu';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export interface MaxPoolAttrs {
  filterSize: [number, number];
  strides: [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** The input's shape (the gradient needs it; the workspace replaces the input itself). */
  inShape: number[];
}
