// Picks the compute backend before the first step and returns the line to log.
import * as tf from '@tensorflow/tfjs';

interface BackendSelect {
  initBackend(preferred?: string): Promise<{ summary: string }>;
}

function loadSelect(): BackendSelect | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('../backend/select') as BackendSelect;
  } catch {
    return undefined;
  }
}

export async function prepareBackend(preferred?: string): Promise<string> {
  const select = loadSelect();
  if (select) return (await select.initBackend(preferred)).summary;
  if (preferred) await tf.setBackend(preferred);
  await tf.ready();
  return `backend: ${tf.getBackend()}`;
}
