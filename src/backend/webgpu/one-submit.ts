// One command buffer per replayed training step. tfjs-webgpu submits its queued dispatches every
// WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches (15), so a step of the article's CNN (~57) went to
// the GPU as four command buffers. While a recorded step replays, that limit is lifted and the
// step is submitted once at its end, as a CUDA graph is launched with one call.
// TFJS_ESTIMATOR_WEBGPU_ONE_SUBMIT=0 keeps tfjs-webgpu's batching (to compare on a GPU).
import * as tf from '@tensorflow/tfjs';
import { WEBGPU_BACKEND } from './index';

const FLAG = 'WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE';

/** What this module needs of tfjs-webgpu's backend (internal methods, present in 4.x). */
interface SubmittingBackend {
  commandEncoder: object | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

function submitting(backend: unknown): backend is SubmittingBackend {
  const b = backend as Partial<SubmittingBackend>;
  return typeof b.submitQueue === 'function' && typeof b.endComputePassEncoder === 'function' && 'commandEncoder' in b;
}

/** Runs fn (a replayed step) with its dispatches in one command buffer, submitted at the end. */
export function asOneSubmit<T>(fn: () => T): T {
  if (tf.getBackend() !== WEBGPU_BACKEND || process.env.TFJS_ESTIMATOR_WEBGPU_ONE_SUBMIT === '0') return fn();
  const backend = tf.backend();
  if (!submitting(backend)) return fn();
  const env = tf.env();
  const before = env.getNumber(FLAG);
  env.set(FLAG, Number.MAX_SAFE_INTEGER);
  try {
    return fn();
  } finally {
    env.set(FLAG, before);
    if (backend.commandEncoder) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
  }
}
