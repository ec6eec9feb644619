// TensorFlow's GraphDef (graph.proto, node_def.proto, attr_value.proto; field numbers from
// TensorFlow's files), written into an event file's `graph_def` so TensorBoard's Graphs tab
// draws the model. The estimator runs eagerly, so there is no graph to serialise: the caller
// describes the kernels one modelFn call ran (from the step's gradient tape) and this module
// names them TensorFlow's way (scope/Op, scope/Op_1, ...) and wires their inputs.
import * as protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
message TensorShapeProto { message Dim { int64 size = 1; } repeated Dim dim = 2; bool unknown_rank = 3; }
message AttrValue {
  message ListValue { repeated bytes s = 2; repeated int64 i = 3 [packed = true]; repeated TensorShapeProto shape = 7; }
  oneof value { ListValue list = 1; bytes s = 2; int64 i = 3; float f = 4; bool b = 5; int32 type = 6; TensorShapeProto shape = 7; }
}
message NodeDef { string name = 1; string op = 2; repeated string input = 3; string device = 4; map<string, AttrValue> attr = 5; }
message VersionDef { int32 producer = 1; int32 min_consumer = 2; }
message GraphDef { repeated NodeDef node = 1; VersionDef versions = 4; }
`;
const root = protobuf.parse(SCHEMA, { keepCase: false }).root.resolveAll();
const GraphDefType = root.lookupType('GraphDef');

/** One tensor as the graph shows it: its id (to wire inputs), shape and dtype. */
export interface GraphTensor {
  id: number;
  shape: readonly number[];
  dtype: string;
}

/** One kernel of the recorded call, in execution order. */
export interface GraphOp {
  kernelName: string;
  /** Named inputs as the kernel received them; tensors no op produced become sources. */
  inputs: Readonly<Record<string, GraphTensor | null | undefined>>;
  outputs: readonly GraphTensor[];
  /** The variable scope it ran in ('conv2d/', '' at top level). */
  scope: string;
}

/** Tensors that enter the graph from outside the recorded kernels. */
export interface GraphSources {
  /** Variable values by tensor id, with the variable's full name ('conv2d/kernel'). */
  variables: ReadonlyMap<number, GraphTensor & { name: string }>;
  /** The modelFn's features and labels ('features', 'features/image', 'labels'). */
  placeholders: ReadonlyMap<number, GraphTensor & { name: string }>;
}

export interface NodeDefValue {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, unknown>;
}

// types.proto's DataType for tfjs's dtypes.
const DATA_TYPE: Record<string, number> = { float32: 1, int32: 3, string: 7, complex64: 8, bool: 10 };

function shapeProto(shape: readonly number[]): { dim: Array<{ size: number }> } {
  return { dim: shape.map((size) => ({ size })) };
}

function attrsFor(outputs: readonly GraphTensor[], dtypeKey: 'T' | 'dtype'): Record<string, unknown> {
  const attr: Record<string, unknown> = { _output_shapes: { list: { shape: outputs.map((o) => shapeProto(o.shape)) } } };
  if (outputs.length > 0) attr[dtypeKey] = { type: DATA_TYPE[outputs[0].dtype] ?? 0 };
  return attr;
}

/** TensorFlow's node names: the op's name in its scope, made unique with _1, _2, ... */
class NameTable {
  private readonly used = new Map<string, number>();

  take(base: string): string {
    const n = this.used.get(base);
    if (n === undefined) {
      this.used.set(base, 0);
      return base;
    }
    let k = n + 1;
    while (this.used.has(`${base}_${k}`)) k++;
    this.used.set(base, k);
    this.used.set(`${base}_${k}`, 0);
    return `${base}_${k}`;
  }
}

/** The nodes TensorBoard will draw, in a valid order (every input named before its use). */
export function graphNodes(ops: readonly GraphOp[], sources: GraphSources): NodeDefValue[] {
  const names = new NameTable();
  const nodes: NodeDefValue[] = [];
  // tensor id -> "node" or "node:k"
  const produced = new Map<number, string>();

  const source = (t: GraphTensor, scope: string): string => {
    const known = produced.get(t.id);
    if (known) return known;
    const variable = sources.variables.get(t.id);
    const placeholder = sources.placeholders.get(t.id);
    let node: NodeDefValue;
    if (variable)
      node = {
        name: names.take(variable.name),
        op: 'VariableV2',
        input: [],
        attr: { ...attrsFor([t], 'dtype'), shape: { shape: shapeProto(t.shape) } },
      };
    else if (placeholder)
      node = {
        name: names.take(placeholder.name),
        op: 'Placeholder',
        input: [],
        attr: { ...attrsFor([t], 'dtype'), shape: { shape: shapeProto(t.shape) } },
      };
    // A tensor made outside any kernel (tf.scalar, tf.tensor) inside the call: a constant.
    else node = { name: names.take(`${scope}Const`), op: 'Const', input: [], attr: attrsFor([t], 'dtype') };
    nodes.push(node);
    produced.set(t.id, node.name);
    return node.name;
  };

  for (const op of ops) {
    const input = Object.values(op.inputs)
      .filter((t): t is GraphTensor => t != null)
      .map((t) => source(t, op.scope));
    const name = names.take(`${op.scope}${op.kernelName}`);
    nodes.push({ name, op: op.kernelName, input, attr: attrsFor(op.outputs, 'T') });
    op.outputs.forEach((o, k) => {
      if (!produced.has(o.id)) produced.set(o.id, k === 0 ? name : `${name}:${k}`);
    });
  }
  return nodes;
}

/** The serialised GraphDef of the recorded call, for an event's `graph_def`. */
export function encodeGraphDef(ops: readonly GraphOp[], sources: GraphSources): Uint8Array {
  const message = GraphDefType.fromObject({ node: graphNodes(ops, sources), versions: { producer: 27 } });
  return GraphDefType.encode(message).finish();
}
