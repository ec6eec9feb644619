// Whether reading a tensor's value on the host stalls the device: on webgpu each read waits for
// every queued GPU command, so the training loop's hooks read only when they need the value.
import * as tf from '@tensorflow/tfjs';

const DEVICE_BACKENDS = new Set(['webgpu', 'webgl']);

export function deviceReadsAreCostly(): boolean {
  return DEVICE_BACKENDS.has(tf.getBackend());
}
