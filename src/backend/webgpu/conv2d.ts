// Convolution + bias + relu for the webgpu backend (the project's CONV2D): the forward pass is
// tfjs-backend-webgpu's own fused convolution; what registering it buys is the project's
// gradient (custom-kernels.ts), which computes only what the tape asks for. tf.fused.conv2d's
// gradient also computes the input gradient of a first layer, which nobody uses: one
// Conv2DBackpropInput (a full transposed convolution over the images) per step.
import * as tf from '@tensorflow/tfjs';
import type { ConvAttrs } from '../custom-kernels';

/** Runs the stock FusedConv2D kernel (NHWC) with the project's attributes. */
export function conv2d(args: Parameters<tf.KernelFunc>[0], stock: tf.KernelFunc): tf.TensorInfo {
  const a = args.attrs as unknown as ConvAttrs;
  const attrs = {
    strides: a.strides,
    pad: a.pad,
    dataFormat: 'NHWC',
    dilations: a.dilations,
    dimRoundingMode: a.dimRoundingMode,
    activation: a.activation,
  };
  return stock({ ...args, attrs: attrs as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
}
