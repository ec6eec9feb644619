// Kernels of our own, with their gradients: batch normalisation in training mode as one
// forward and one backward kernel (tfjs composes its gradient from a dozen element-wise ops),
// and Adam's update as one kernel. Backends that implement them get called; elsewhere the
// layer and optimizer fall back to plain tfjs ops.
import * as tf from '@tensorflow/tfjs';

export const BN_TRAIN = 'TfjsEstimatorBatchNormTrain';
export const BN_TRAIN_GRAD = 'TfjsEstimatorBatchNormTrainGrad';
export const ADAM_UPDATE = 'TfjsEstimatorAdamUpdate';
export const RELU_GRAD = 'TfjsEstimatorReluGrad';
export const MEAN_GRAD = 'TfjsEstimatorMeanGrad';

let gradientRegistered = false;

/** The gradient of BN_TRAIN: one BN_TRAIN_GRAD kernel from x, dy and the saved statistics. */
export function registerCustomGradients(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: BN_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [x, scale, mean, variance] = saved;
      const [dx, dscale, doffset] = tf.engine().runKernel(BN_TRAIN_GRAD, { x, dy, mean, variance, scale }, attrs) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
  // Mean's stock gradient multiplies by a tensor of ones and divides, both broadcasting:
  // generic per-element index arithmetic on the cpu backend.
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const d = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
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
  // Relu's stock gradient is dy * cast(step(x)): three passes and two temporaries.
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const d = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
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

export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * y = (x - mean) / sqrt(var + eps) * scale + offset over the last axis, with batch statistics;
 * returns [y, mean, variance] (biased variance, like tf.moments). Only where hasKernel(BN_TRAIN).
 */
export function batchNormTraining(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  registerCustomGradients();
  return tf.engine().runKernel(BN_TRAIN, { x, scale, offset }, { epsilon }) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}

/** One Adam step for one variable: returns [newVar, newM, newV]. Only where hasKernel(ADAM_UPDATE). */
export function adamUpdate(v: tf.Tensor, m: tf.Tensor, s: tf.Tensor, g: tf.Tensor, lr: number, beta1: number, beta2: number, epsilon: number): tf.Tensor[] {
  return tf.engine().runKernel(ADAM_UPDATE, { v, m, s, g }, { lr, beta1, beta2, epsilon }) as unknown as tf.Tensor[];
}
