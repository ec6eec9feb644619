// Turns the batch-generalized trace into a graph model: Placeholders for the receivers, Const
// nodes (weights) for variables and other constants, one or more ops per recorded kernel, and
// an Identity per output named after its prediction key, plus the signature tfjs reads.
import * as tf from '@tensorflow/tfjs';
import type { ExportGraph } from './batch-axis';
import { attr, AttrValue, GraphDef, GraphDefBuilder, ConstData, shapeProto, tfDtype, ShapeProto } from './graphdef';
import { emitterFor, EmitContext, UnsupportedKernelError } from './kernel-map';
import type { TensorMeta, TensorRef, TracedKernel } from './trace';

export interface TensorInfoJson {
  name: string;
  dtype: string;
  tensorShape: ShapeProto;
}

export interface GraphSignature {
  inputs: Record<string, TensorInfoJson>;
  outputs: Record<string, TensorInfoJson>;
}

export interface EmittedGraph {
  graph: GraphDef;
  weights: Array<{ name: string; data: ConstData }>;
  signature: GraphSignature;
}

/** variableName: the checkpoint name of a variable (e.g. 'conv2d/kernel'), if it has one. */
export function emitGraph(g: ExportGraph, variableName: (v: tf.Variable) => string | undefined): EmittedGraph {
  const b = new GraphDefBuilder();
  const signature: GraphSignature = { inputs: {}, outputs: {} };
  const placeholders = new Map<string, string>();
  for (const input of g.inputs) {
    const name = b.placeholder(input.key, input.shape, input.dtype);
    placeholders.set(input.key, name);
    signature.inputs[input.key] = {
      name: `${name}:0`,
      dtype: tfDtype(input.dtype, `Input '${input.key}'`),
      tensorShape: shapeProto(input.shape),
    };
  }
  // Output names are claimed before any op so that they read like the prediction keys.
  const outputNodes = g.outputs.map((o) => b.uniqueName(o.key));

  const constNames = new Map<number, string>();
  const produced = new Map<number, string[]>();
  const tensorName = (ref: TensorRef): string => {
    if (ref.kind === 'input') return placeholders.get(ref.key) as string;
    if (ref.kind === 'node') return (produced.get(ref.node) as string[])[ref.output];
    let name = constNames.get(ref.index);
    if (!name) {
      const c = g.consts[ref.index];
      name = b.constant({ values: c.values, shape: c.shape, dtype: c.dtype }, (c.variable && variableName(c.variable)) ?? 'Const');
      constNames.set(ref.index, name);
    }
    return name;
  };

  g.kernels.forEach((k, i) => {
    if (!g.needed.has(i)) return;
    const emitter = emitterFor(k.kernelName);
    if (!emitter) throw new UnsupportedKernelError(k.kernelName, describeCall(k));
    const out = emitter(contextFor(k, b, tensorName));
    if (out.length < k.outputs.length && k.outputs.length > 1) {
      throw new Error(`Internal export error: kernel ${k.kernelName} has ${k.outputs.length} outputs but ${out.length} were emitted.`);
    }
    produced.set(i, out);
  });

  g.outputs.forEach((o, i) => {
    const name = outputNodes[i];
    b.nodes.push({ name, op: 'Identity', input: [tensorName(o.ref)], attr: { T: attr.dtype(o.dtype, `Prediction '${o.key}'`) } });
    signature.outputs[o.key] = { name: `${name}:0`, dtype: tfDtype(o.dtype, `Prediction '${o.key}'`), tensorShape: shapeProto(o.shape) };
  });
  return { graph: b.graph(), weights: b.weights, signature };
}

function describeCall(k: TracedKernel): string {
  const ins = k.inputs
    .filter((x) => x.meta)
    .map((x) => `${x.name}: [${(x.meta as TensorMeta).shape}]`)
    .join(', ');
  return ` (inputs ${ins || 'none'})`;
}

function contextFor(k: TracedKernel, b: GraphDefBuilder, tensorName: (ref: TensorRef) => string): EmitContext {
  const find = (name: string) => k.inputs.find((x) => x.name === name && x.ref);
  const ctx: EmitContext = {
    kernel: k,
    attrs: k.attrs,
    builder: b,
    input(name) {
      const inp = find(name);
      if (!inp)
        throw new Error(
          `Internal export error: kernel ${k.kernelName} has no input '${name}' (has ${k.inputs.map((x) => x.name).join(', ')}).`,
        );
      return tensorName(inp.ref as TensorRef);
    },
    optionalInput(name) {
      const inp = find(name);
      return inp ? tensorName(inp.ref as TensorRef) : undefined;
    },
    allInputs() {
      return k.inputs.filter((x) => x.ref).map((x) => tensorName(x.ref as TensorRef));
    },
    inputMeta(name) {
      const inp = find(name);
      if (!inp?.meta) throw new Error(`Internal export error: kernel ${k.kernelName} has no input '${name}'.`);
      return inp.meta;
    },
    node(op, inputs, attrs: Record<string, AttrValue> = {}) {
      return b.node(op, inputs, attrs);
    },
    ints(values) {
      return b.intConstant(values);
    },
    intScalar(value) {
      return b.intConstant([value], []);
    },
    scalar(value, dtype = 'float32') {
      const values = dtype === 'int32' ? Int32Array.of(value) : dtype === 'bool' ? Uint8Array.of(value ? 1 : 0) : Float32Array.of(value);
      return b.constant({ values, shape: [], dtype });
    },
    unsupported(detail): never {
      throw new UnsupportedKernelError(k.kernelName, detail);
    },
  };
  return ctx;
}
