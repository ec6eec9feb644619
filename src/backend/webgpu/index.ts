// The webgpu backend: tfjs-backend-webgpu on Dawn, plus kernels of our own (see kernels.ts).
export { registerWebGPUBackend, webgpuAdapter, WebGPUAdapterSummary } from './setup';
export const WEBGPU_BACKEND = 'webgpu';
