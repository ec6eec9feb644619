// Kernels of our own for the webgpu backend (WGSL), registered over tfjs-backend-webgpu's stock
// ones where a training step's profile says so. See the files beside this one.

let registered = false;

/** Registers every custom webgpu kernel once; called after tfjs-backend-webgpu has loaded. */
export function registerWebGPUKernels(): void {
  if (registered) return;
  registered = true;
}
