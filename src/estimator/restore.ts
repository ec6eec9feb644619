// The article's "restore the latest checkpoint into a fresh graph and run a placeholder batch",
// eagerly: run layer code (e.g. getLogits(images, false)) against a checkpoint's variables.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { GraphContext, withGraph } from '../framework/graph';
import { VariableStore } from '../framework/variables';
import { latestCheckpoint, loadCheckpoint } from './checkpoint';
import { RunConfig } from './run-config';
import { runAsOwner, startOwnedScope } from '../framework/owned-scope';

/**
 * Restores `checkpoint` (a model directory or a model.ckpt-N folder), runs fn with its variables
 * (PREDICT mode: batch norm uses its moving averages), and returns fn's result. Tensors fn
 * returns survive; everything else is freed, the restored variables included.
 */
export async function restoreAndRun<T extends tf.TensorContainer>(checkpoint: string, fn: () => T | Promise<T>): Promise<T> {
  const src = path.resolve(checkpoint);
  const ckpt = fs.existsSync(path.join(src, 'meta.json')) ? src : latestCheckpoint(src);
  if (!ckpt) throw new Error(`restoreAndRun: no checkpoint in ${src}; train first, or pass a model.ckpt-N folder.`);
  const loaded = loadCheckpoint(ckpt);
  const store = new VariableStore(undefined, loaded.tensors);
  const graph = new GraphContext(store, 'infer', new RunConfig(), loaded.meta.globalStep);
  // fn may await: the scope collects fn's tensors only (framework/owned-scope.ts).
  return runAsOwner(async () => {
    startOwnedScope('restore_and_run');
    let result: T | undefined;
    try {
      result = await withGraph(graph, fn);
      const missing = store
        .records()
        .filter((r) => !loaded.tensors[r.name])
        .map((r) => r.name);
      if (missing.length) {
        throw new Error(
          `restoreAndRun: ${ckpt} has no values for ${missing.join(', ')}; the code creates variables the trained model did not have.`,
        );
      }
      return result;
    } finally {
      tf.engine().endScope(result as tf.TensorContainer);
      store.dispose();
    }
  });
}
