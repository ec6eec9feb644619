// The model's graph for TensorBoard's Graphs tab. The estimator runs eagerly, so the graph is
// what one training step's forward pass ran: the kernels on the step's tape, named by the
// variable scope each ran in, fed by the step's features and labels and by the variables.
// Written once per train() call at its first step, into the model directory's event file.
import * as tf from '@tensorflow/tfjs';
import type { RecordedOp } from '../../framework/tape';
import type { VariableStore } from '../../framework/variables';
import { encodeGraphDef, GraphOp, GraphSources, GraphTensor } from '../../events/graph-def';
import { acquireWriter, releaseWriter } from './writer-cache';

// Tensors are wired by their data, not their id: a clone, reshape or custom gradient's output
// is a new tensor over the same data, and what reads it reads what the kernel wrote.
const dataKeys = new WeakMap<object, number>();
let nextKey = 1;

function dataKey(t: tf.Tensor): number {
  const dataId = (t as unknown as { dataId: object }).dataId;
  let key = dataKeys.get(dataId);
  if (key === undefined) dataKeys.set(dataId, (key = nextKey++));
  return key;
}

function described(t: tf.Tensor): GraphTensor {
  return { id: dataKey(t), shape: t.shape, dtype: t.dtype };
}

/**
 * tf.customGrad records nodes of its own, named after the op scope around it, instead of the
 * kernels it ran: one per input and output (identities) and one for the op. The op's node is
 * kept where no kernel produced its output, named after the op ('fusedMatMul__op' ->
 * 'FusedMatMul').
 */
function graphOpsOf(ops: readonly RecordedOp[], backend: string): Array<RecordedOp & { opName: string }> {
  const isKernel = (op: RecordedOp): boolean => tf.getKernel(op.kernelName, backend) !== undefined;
  // Data an op made, not passed through from an input (Reshape, a Cast to the same dtype and
  // the custom gradient's identity wrappers hand on their input's data).
  const newData = (op: RecordedOp): number[] => {
    const inputs = new Set(Object.values(op.inputs).flatMap((t) => (t ? [dataKey(t)] : [])));
    return op.outputs.map(dataKey).filter((k) => !inputs.has(k));
  };
  const fromKernels = new Set(ops.filter(isKernel).flatMap(newData));
  const makesNewData = (op: RecordedOp): boolean => newData(op).some((k) => !fromKernels.has(k));
  return ops
    .filter((op) => isKernel(op) || makesNewData(op))
    .map((op) => ({ ...op, opName: isKernel(op) ? op.kernelName : customGradName(op.kernelName) }));
}

function customGradName(scope: string): string {
  const m = /^([A-Za-z0-9]+)__op$/.exec(scope);
  return m ? m[1][0].toUpperCase() + m[1].slice(1) : 'CustomGradient';
}

/** features/labels as Placeholder nodes: 'features', or 'features/<key>' for a dict. */
function addPlaceholders(into: Map<number, GraphTensor & { name: string }>, name: string, value: unknown): void {
  const add = (t: tf.Tensor, as: string): void => {
    const d = described(t);
    into.set(d.id, { ...d, name: as });
  };
  if (value instanceof tf.Tensor) add(value, name);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (v instanceof tf.Tensor) add(v, `${name}/${k}`);
  }
}

/** The GraphDef of a recorded step (exported for tests). */
export function stepGraphDef(ops: readonly RecordedOp[], store: VariableStore, features: unknown, labels: unknown): Uint8Array {
  const variables = new Map<number, GraphTensor & { name: string }>();
  for (const r of store.records()) {
    const d = described(r.variable);
    variables.set(d.id, { ...d, name: r.name });
  }
  const placeholders = new Map<number, GraphTensor & { name: string }>();
  addPlaceholders(placeholders, 'features', features);
  addPlaceholders(placeholders, 'labels', labels);
  const sources: GraphSources = { variables, placeholders };
  const graphOps: GraphOp[] = graphOpsOf(ops, tf.getBackend()).map((op) => ({
    kernelName: op.opName,
    scope: op.scope,
    outputs: op.outputs.map(described),
    inputs: Object.fromEntries(Object.entries(op.inputs).map(([k, t]) => [k, t ? described(t) : null])),
  }));
  return encodeGraphDef(graphOps, sources);
}

/** Writes the step's graph into modelDir's event file at `step`. */
export function writeStepGraph(
  modelDir: string,
  step: number,
  ops: readonly RecordedOp[],
  store: VariableStore,
  features: unknown,
  labels: unknown,
): void {
  const bytes = stepGraphDef(ops, store, features, labels);
  const writer = acquireWriter(modelDir);
  try {
    writer.addGraph(step, bytes);
  } finally {
    releaseWriter(modelDir);
  }
}
