// Argument checks shared by the ops of losses and metrics (and anything else taking tensors
// from a user's modelFn): each error names the call, the argument and what was passed, so a
// wrong argument is found from the message alone.
import * as tf from '@tensorflow/tfjs';

/** A short description of a value for an error message: `undefined`, `a Array`, `number 3`. */
export function describe(x: unknown): string {
  if (x === undefined || x === null) return String(x);
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `${typeof x} ${String(x)}`;
}

/**
 * `x` if it is a tensor, else a TypeError: `<call>: <name> must be a tf.Tensor, got ...`.
 * `ifUndefined` is appended when x is undefined (e.g. why labels are missing).
 */
export function tensorArg(call: string, name: string, x: unknown, ifUndefined = ''): tf.Tensor {
  if (x instanceof tf.Tensor) return x;
  const hint = x === undefined ? ifUndefined : '';
  throw new TypeError(`${call}: ${name} must be a tf.Tensor, got ${describe(x)}${hint}.`);
}

/**
 * Weights lined up to broadcast against `target` (float32; a scalar stays a scalar): same rank
 * with dimensions 1 or equal, or just the leading dimensions (one weight per example), or a
 * trailing dimension of 1 too many. Otherwise an error naming the call and `targetName`.
 * Call inside tf.tidy.
 */
export function alignWeights(call: string, weights: tf.Tensor | number, target: tf.Tensor, targetName: string): tf.Tensor {
  if (typeof weights === 'number') return tf.scalar(weights);
  let w = tf.cast(tensorArg(call, 'weights', weights), 'float32');
  if (w.rank === target.rank + 1 && w.shape[w.rank - 1] === 1) w = tf.squeeze(w, [w.rank - 1]);
  if (w.rank > 0 && w.rank < target.rank && tf.util.arraysEqual(w.shape, target.shape.slice(0, w.rank))) {
    // Per-example weights [N] against [N, ...]: line them up on the leading axes.
    w = tf.reshape(w, [...w.shape, ...Array(target.rank - w.rank).fill(1)]);
  }
  const fits = w.rank === 0 || (w.rank === target.rank && w.shape.every((d, i) => d === 1 || d === target.shape[i]));
  if (!fits) {
    throw new Error(
      `${call}: weights [${weights.shape}] cannot be broadcast to ${targetName} [${target.shape}]; ` +
        `pass a scalar, one weight per example [${target.shape[0]}], or a tensor of shape [${target.shape}].`,
    );
  }
  return w;
}
