// The portable fallback backend: tfjs-backend-wasm plus the kernels training needs that it
// lacks (see ./kernels). select.ts loads this module only when the native backend can't run.
import { startWasm, wasmThreadsInUse } from './setup';
import { registerWasmTrainingKernels } from './kernels';

/** Starts wasm and adds the missing kernels; undefined on success, else why wasm can't be used. */
export async function registerWasmBackend(): Promise<string | undefined> {
  const why = await startWasm();
  if (why) return why;
  registerWasmTrainingKernels();
  return undefined;
}

export function wasmThreads(): number {
  return wasmThreadsInUse();
}
