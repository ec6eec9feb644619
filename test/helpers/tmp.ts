// Small shared helpers for tests: temporary directories and tiny deterministic datasets.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

export function tmpDir(prefix = 'tfjs-est-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** y = x . [1, -2, 0.5] + 0.3 over a fixed grid of inputs, batched as {xs, ys}. */
export function linearDataset(n: number, batch = 8): tf.data.Dataset<tf.TensorContainer> {
  const rows: { xs: number[]; ys: number[] }[] = [];
  for (let i = 0; i < n; i++) {
    const x = [Math.sin(i), Math.cos(i * 0.7), ((i % 7) - 3) / 3];
    rows.push({ xs: x, ys: [x[0] - 2 * x[1] + 0.5 * x[2] + 0.3] });
  }
  return tf.data.array(rows).batch(batch) as unknown as tf.data.Dataset<tf.TensorContainer>;
}

export function quiet(): void {
  process.env.TFJS_ESTIMATOR_QUIET = '1';
}
