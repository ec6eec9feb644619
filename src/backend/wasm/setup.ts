// Starts @tensorflow/tfjs-backend-wasm in Node: its .wasm files are read from the package's
// dist folder (nothing is fetched), SIMD where the CPU has it.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

export async function startWasm(): Promise<string | undefined> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return `@tensorflow/tfjs-backend-wasm is not installed (${(e as Error).message.split('\n')[0]})`;
  }
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(`${dist}${path.sep}`);
  try {
    if (!(await tf.setBackend('wasm'))) return 'the wasm backend did not initialise';
  } catch (e) {
    return `the wasm backend failed to start: ${(e as Error).message.split('\n')[0]}`;
  }
  return undefined;
}
