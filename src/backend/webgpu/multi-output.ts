// One dispatch that writes several tensors (Adam's variable and two slots; the cross-entropy's
// loss and softmax). tfjs-backend-webgpu's programs have a single output, so each extra output
// would cost a dispatch of its own. Here the whole WGSL is ours: the first output is bound where
// the backend binds a program's output, the others where it binds inputs (declared read_write
// in our shader), and the backend's recordAndSubmit does the rest (uniforms, bind group,
// command batching, profiling), so dispatch counters and tf.profile see it like any program.
// Every tensor is bound as a flat array: the backend's uniforms then hold only scalars (each
// binding's size and a placeholder stride), whose layout needs no alignment rules.
import * as tf from '@tensorflow/tfjs';
import type { Uniform, WebGPUBackendLike } from './program';

const WORKGROUP = 64;
/** WebGPU's guaranteed limit on workgroups per dimension: beyond it the dispatch goes 2-D. */
const MAX_WORKGROUPS = 65535;

/** The backend internals a multi-output dispatch uses (tfjs-backend-webgpu 4.x). */
interface InternalBackend extends WebGPUBackendLike {
  device: {
    createShaderModule(d: { code: string; label?: string }): unknown;
    createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string }; label?: string }): unknown;
  };
  pipelineCache: Record<string, unknown>;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): { values: unknown } };
  recordAndSubmit(program: object, output: tf.TensorInfo, inputs: tf.TensorInfo[], uniforms: Uniform[]): void;
}

/** A binding: its name in the WGSL and its tensor. */
export type Binding = [name: string, info: tf.TensorInfo];
/** An output to allocate: its name in the WGSL, shape and dtype. */
export type OutputSpec = [name: string, shape: number[], dtype: 'float32' | 'int32'];

export interface MultiOutputKernel {
  /** Names the pipeline in the backend's cache (with the bindings' dtypes); one per distinct WGSL body. */
  key: string;
  /** Written by the kernel; the first is what the backend sees as the program's output. */
  outputs: OutputSpec[];
  inputs: Binding[];
  /** WGSL struct members after the backend's own, e.g. 'beta1 : f32, classes : i32,'. */
  uniforms: string;
  uniformValues: Uniform[];
  /** How many invocations; each runs `body` once with its index in `i` (below `threads`). */
  threads: number;
  /** WGSL statements; reads `uniforms.<name>`, and `uniforms.NAN` / `uniforms.INFINITY`. */
  body: string;
}

/** The tfjs program object recordAndSubmit reads (its class name labels tf.profile's rows). */
class TfjsEstimatorMultiOutputProgram {
  size = false;
  constructor(
    readonly shaderKey: string,
    readonly pipeline: unknown,
    readonly dispatch: [number, number, number],
  ) {}
}

const wgslType = (dtype: tf.DataType): string => (dtype === 'float32' ? 'f32' : 'i32');
const flat = (t: tf.TensorInfo): tf.TensorInfo => ({ dataId: t.dataId, shape: [tf.util.sizeFromShape(t.shape)], dtype: t.dtype });

function shader(k: MultiOutputKernel, outputs: Binding[], order: Binding[]): string {
  // The backend's uniforms: NAN, INFINITY, then shape and strides of its inputs, then of its
  // output (ours: the extra outputs, the inputs, the first output), then ours.
  const members = order.map(([name]) => `${name}Size : i32, ${name}Stride : i32,`).join(' ');
  const decl = (binding: number, [name, info]: Binding, access: 'read' | 'read_write') =>
    `@group(0) @binding(${binding}) var<storage, ${access}> ${name} : array<${wgslType(info.dtype)}>;`;
  const [first, ...rest] = outputs;
  const lines = [
    decl(0, first, 'read_write'),
    ...rest.map((b, j) => decl(1 + j, b, 'read_write')),
    ...k.inputs.map((b, j) => decl(1 + rest.length + j, b, 'read')),
  ];
  return `
    struct Uniforms { NAN : f32, INFINITY : f32, ${members} threads : i32, ${k.uniforms} };
    ${lines.join('\n    ')}
    @group(0) @binding(${k.outputs.length + k.inputs.length}) var<uniform> uniforms : Uniforms;

    @compute @workgroup_size(${WORKGROUP})
    fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) groups : vec3<u32>) {
      let i = i32(gid.y * groups.x * ${WORKGROUP}u + gid.x);
      if (i >= uniforms.threads) { return; }
      ${k.body}
    }
  `;
}

/** Allocates the outputs and runs the kernel in one dispatch; returns the outputs. Every binding must be used by `body`. */
export function runMultiOutput(backend: WebGPUBackendLike, k: MultiOutputKernel): tf.TensorInfo[] {
  const b = backend as InternalBackend;
  const outs = k.outputs.map(([, shape, dtype]) => b.makeTensorInfo(shape, dtype));
  if (k.threads === 0) {
    for (const o of outs) b.tensorMap.get(o.dataId).values = tf.util.getTypedArrayFromDType(o.dtype as 'float32', 0); // as the backend does
    return outs;
  }
  const named: Binding[] = k.outputs.map(([name], j) => [name, outs[j]]);
  const [first, ...rest] = named;
  const asInputs = [...rest, ...k.inputs];
  for (const [, t] of [first, ...asInputs]) b.uploadToGPU(t.dataId);
  // The WGSL declares each binding's element type: a key per combination of dtypes.
  const key = `tfjsEstimator${k.key}_${[first, ...asInputs].map(([, t]) => wgslType(t.dtype)).join('')}`;
  if (!(key in b.pipelineCache)) {
    const module = b.device.createShaderModule({ code: shader(k, named, [...asInputs, first]), label: key });
    b.pipelineCache[key] = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
  }
  const groups = Math.ceil(k.threads / WORKGROUP);
  const dispatch: [number, number, number] =
    groups <= MAX_WORKGROUPS ? [groups, 1, 1] : [MAX_WORKGROUPS, Math.ceil(groups / MAX_WORKGROUPS), 1];
  const program = new TfjsEstimatorMultiOutputProgram(key, b.pipelineCache[key], dispatch);
  b.recordAndSubmit(
    program,
    flat(first[1]),
    asInputs.map(([, t]) => flat(t)),
    [{ type: 'int32', data: [k.threads] }, ...k.uniformValues],
  );
  return outs;
}
