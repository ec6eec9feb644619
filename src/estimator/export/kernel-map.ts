// From TensorFlow.js kernels (what the trace recorded) to TensorFlow ops (what a graph model's
// GraphDef holds), in the names, input orders and attribute encodings that tfjs-converter's
// op list (node_modules/@tensorflow/tfjs-converter/dist/operations/op_list) reads back.
// Shape-like attributes of a tfjs kernel become int32 Const inputs, as in TensorFlow.
import type { TracedKernel, TensorMeta, AttrMap } from './trace';
import { attr, AttrValue, GraphDefBuilder, outputName } from './graphdef';

/** exportSavedModel: the PREDICT computation uses a tfjs kernel the graph-model export cannot translate (`kernelName`). */
export class UnsupportedKernelError extends Error {
  /** @param kernelName the tfjs kernel that cannot be exported (also on `.kernelName`). */
  constructor(
    readonly kernelName: string,
    detail: string,
  ) {
    super(
      `Cannot export: modelFn's PREDICT computation runs the TensorFlow.js kernel '${kernelName}'${detail}, which the graph-model export ` +
        `cannot translate to a TensorFlow op that tfjs-converter runs. Keep that op out of the PREDICT path (e.g. compute it only in ` +
        `TRAIN/EVAL mode) or replace it with supported ops. Exportable kernels: ${supportedKernels().join(', ')}.`,
    );
    this.name = 'UnsupportedKernelError';
  }
}

/** What an emitter sees of one recorded kernel while the GraphDef is built. */
export interface EmitContext {
  readonly kernel: TracedKernel;
  readonly attrs: AttrMap;
  readonly builder: GraphDefBuilder;
  /** Tensor name of a named input (throws if the kernel did not get it). */
  input(name: string): string;
  optionalInput(name: string): string | undefined;
  /** Every tensor input in order (list-input kernels: Concat, Pack, AddN, Einsum). */
  allInputs(): string[];
  inputMeta(name: string): TensorMeta;
  node(op: string, inputs: string[], attrs?: Record<string, AttrValue>): string;
  ints(values: number[]): string;
  intScalar(value: number): string;
  scalar(value: number, dtype?: TensorMeta['dtype']): string;
  unsupported(detail: string): never;
}

/** Emits the op(s) for one kernel; returns the tensor name of each of the kernel's outputs. */
type Emitter = (c: EmitContext) => string[];

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number]);
const list = (v: unknown, rank: number): number[] => (Array.isArray(v) ? (v as number[]) : Array(rank).fill(v as number));
const rankOf = (c: EmitContext, name: string): number => c.inputMeta(name).shape.length;
const outputs = (node: string, n: number): string[] => Array.from({ length: n }, (_, i) => outputName(node, i));
const firstInput = (c: EmitContext): string => c.allInputs()[0];

/** Kernels whose TensorFlow op has the same single input. */
const UNARY: Record<string, string> = {
  Abs: 'Abs',
  Acos: 'Acos',
  Acosh: 'Acosh',
  Asin: 'Asin',
  Asinh: 'Asinh',
  Atan: 'Atan',
  Atanh: 'Atanh',
  Ceil: 'Ceil',
  Cos: 'Cos',
  Cosh: 'Cosh',
  Elu: 'Elu',
  Erf: 'Erf',
  Exp: 'Exp',
  Expm1: 'Expm1',
  Floor: 'Floor',
  Identity: 'Identity',
  IsFinite: 'IsFinite',
  IsInf: 'IsInf',
  IsNan: 'IsNan',
  Log: 'Log',
  Log1p: 'Log1p',
  LogicalNot: 'LogicalNot',
  Neg: 'Neg',
  Reciprocal: 'Reciprocal',
  Relu: 'Relu',
  Relu6: 'Relu6',
  Round: 'Round',
  Rsqrt: 'Rsqrt',
  Selu: 'Selu',
  Sigmoid: 'Sigmoid',
  Sign: 'Sign',
  Sin: 'Sin',
  Sinh: 'Sinh',
  Softplus: 'Softplus',
  Sqrt: 'Sqrt',
  Square: 'Square',
  Tan: 'Tan',
  Tanh: 'Tanh',
  ZerosLike: 'ZerosLike',
  OnesLike: 'OnesLike',
};

/** Kernels with inputs (a, b) and a TensorFlow op of the same arity. */
const BINARY: Record<string, string> = {
  Add: 'AddV2',
  Sub: 'Sub',
  Multiply: 'Mul',
  RealDiv: 'RealDiv',
  FloorDiv: 'FloorDiv',
  Mod: 'FloorMod',
  Maximum: 'Maximum',
  Minimum: 'Minimum',
  Pow: 'Pow',
  SquaredDifference: 'SquaredDifference',
  Atan2: 'Atan2',
  Equal: 'Equal',
  NotEqual: 'NotEqual',
  Greater: 'Greater',
  GreaterEqual: 'GreaterEqual',
  Less: 'Less',
  LessEqual: 'LessEqual',
  LogicalAnd: 'LogicalAnd',
  LogicalOr: 'LogicalOr',
};

/** tfjs fused activations -> the TensorFlow op names tfjs-converter lowercases back. */
const ACTIVATION_OPS: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  sigmoid: 'Sigmoid',
  leakyrelu: 'LeakyRelu',
  prelu: 'Prelu',
};

function activationOf(c: EmitContext): string {
  const act = (c.attrs.activation as string | undefined) ?? 'linear';
  if (act !== 'linear' && !ACTIVATION_OPS[act]) c.unsupported(` with fused activation '${act}'`);
  return act;
}

/** The activation of a fused kernel as a separate op (for the forms the fused TF ops lack). */
function applyActivation(c: EmitContext, x: string, act: string): string {
  if (act === 'linear') return x;
  if (act === 'prelu') return c.node('Prelu', [x, c.input('preluActivationWeights')]);
  if (act === 'leakyrelu') return c.node('LeakyRelu', [x], { alpha: attr.float((c.attrs.leakyreluAlpha as number | undefined) ?? 0.2) });
  return c.node(ACTIVATION_OPS[act], [x]);
}

function padding(c: EmitContext): Record<string, AttrValue> {
  const pad = c.attrs.pad;
  if (pad === 'same' || pad === 'valid') return { padding: attr.str(pad.toUpperCase()) };
  if (typeof pad === 'number') return { padding: attr.str('EXPLICIT'), explicit_paddings: attr.ints([0, 0, pad, pad, pad, pad, 0, 0]) };
  if (Array.isArray(pad) && pad.length === 4)
    return { padding: attr.str('EXPLICIT'), explicit_paddings: attr.ints((pad as number[][]).flat()) };
  return c.unsupported(` with padding ${JSON.stringify(pad)}`);
}

function convAttrs(c: EmitContext): Record<string, AttrValue> {
  const [sh, sw] = pair(c.attrs.strides ?? 1);
  const [dh, dw] = pair(c.attrs.dilations ?? 1);
  // tfjs-converter reads strides[1], strides[2] whatever the data format.
  return {
    strides: attr.ints([1, sh, sw, 1]),
    dilations: attr.ints([1, dh, dw, 1]),
    data_format: attr.str((c.attrs.dataFormat as string | undefined) ?? 'NHWC'),
    ...padding(c),
  };
}

/** Conv2D / depthwise with optional bias and activation: fused when TF's fused op can say it. */
function fusedConv(plainOp: string, fusedOp: string, fusedHasAlpha: boolean): Emitter {
  return (c) => {
    const x = c.input('x');
    const filter = c.input('filter');
    const bias = c.optionalInput('bias');
    const act = activationOf(c);
    const common = convAttrs(c);
    // TF's fused convolutions always start with BiasAdd; without a bias the ops stay separate.
    if (bias && (act !== 'leakyrelu' || fusedHasAlpha)) {
      const args = [bias, ...(act === 'prelu' ? [c.input('preluActivationWeights')] : [])];
      const fusedOps = ['BiasAdd', ...(act === 'linear' ? [] : [ACTIVATION_OPS[act]])];
      const extra: Record<string, AttrValue> = fusedHasAlpha
        ? { leakyrelu_alpha: attr.float((c.attrs.leakyreluAlpha as number | undefined) ?? 0.2) }
        : {};
      return [
        c.node(fusedOp, [x, filter, ...args], { ...common, fused_ops: attr.strs(fusedOps), num_args: attr.int(args.length), ...extra }),
      ];
    }
    let y = c.node(plainOp, [x, filter], common);
    if (bias) y = c.node('BiasAdd', [y, bias], { data_format: common.data_format });
    return [applyActivation(c, y, act)];
  };
}

function pool(op: string): Emitter {
  return (c) => {
    const pad = c.attrs.pad;
    if (pad !== 'same' && pad !== 'valid')
      c.unsupported(` with padding ${JSON.stringify(pad)} (tfjs-converter pools take 'same' or 'valid')`);
    const [kh, kw] = pair(c.attrs.filterSize);
    const [sh, sw] = pair(c.attrs.strides);
    return [
      c.node(op, [c.input('x')], {
        ksize: attr.ints([1, kh, kw, 1]),
        strides: attr.ints([1, sh, sw, 1]),
        padding: attr.str((pad as string).toUpperCase()),
        data_format: attr.str('NHWC'),
      }),
    ];
  };
}

function reduction(op: string, axisAttr = 'axis'): Emitter {
  return (c) => {
    const rank = rankOf(c, 'x');
    const axis = c.attrs[axisAttr];
    const axes = axis == null ? [...Array(rank).keys()] : Array.isArray(axis) ? (axis as number[]) : [axis as number];
    return [c.node(op, [c.input('x'), c.ints(axes)], { keep_dims: attr.bool(Boolean(c.attrs.keepDims)) })];
  };
}

function lastAxisOnly(c: EmitContext, inputName: string, axis: unknown): void {
  const rank = rankOf(c, inputName);
  if (axis !== -1 && axis !== rank - 1) c.unsupported(` over axis ${String(axis)} (TensorFlow's op works on the last axis only)`);
}

const EMITTERS: Record<string, Emitter> = {
  ...Object.fromEntries(Object.entries(UNARY).map(([k, op]) => [k, (c: EmitContext) => [c.node(op, [firstInput(c)])]])),
  ...Object.fromEntries(Object.entries(BINARY).map(([k, op]) => [k, (c: EmitContext) => [c.node(op, [c.input('a'), c.input('b')])]])),
  LeakyRelu: (c) => [c.node('LeakyRelu', [c.input('x')], { alpha: attr.float(c.attrs.alpha as number) })],
  Prelu: (c) => [c.node('Prelu', [c.input('x'), c.input('alpha')])],
  Select: (c) => [c.node('SelectV2', [c.input('condition'), c.input('t'), c.input('e')])],
  AddN: (c) => [c.node('AddN', c.allInputs(), { N: attr.int(c.allInputs().length) })],
  Cast: (c) => [c.node('Cast', [c.input('x')], { DstT: attr.dtype(c.attrs.dtype as TensorMeta['dtype'], 'Cast') })],
  ClipByValue: (c) => [
    c.node('ClipByValue', [c.input('x'), c.scalar(c.attrs.clipValueMin as number), c.scalar(c.attrs.clipValueMax as number)]),
  ],

  Reshape: (c) => [c.node('Reshape', [c.input('x'), c.ints(c.attrs.shape as number[])])],
  ExpandDims: (c) => [c.node('ExpandDims', [c.input('input'), c.intScalar(c.attrs.dim as number)])],
  Transpose: (c) => [c.node('Transpose', [c.input('x'), c.ints(c.attrs.perm as number[])])],
  BroadcastTo: (c) => [c.node('BroadcastTo', [c.input('x'), c.ints(c.attrs.shape as number[])])],
  Tile: (c) => [c.node('Tile', [c.input('x'), c.ints(c.attrs.reps as number[])])],
  Reverse: (c) => [c.node('ReverseV2', [c.input('x'), c.ints(list(c.attrs.dims, 1))])],
  Pack: (c) => [c.node('Pack', c.allInputs(), { axis: attr.int(c.attrs.axis as number), N: attr.int(c.allInputs().length) })],
  Unpack: (c) => {
    const n = c.kernel.outputs.length;
    return outputs(c.node('Unpack', [c.input('value')], { axis: attr.int(c.attrs.axis as number), num: attr.int(n) }), n);
  },
  Concat: (c) => {
    const xs = c.allInputs();
    return [c.node('ConcatV2', [...xs, c.intScalar(c.attrs.axis as number)], { N: attr.int(xs.length) })];
  },
  Slice: (c) => {
    const rank = rankOf(c, 'x');
    return [c.node('Slice', [c.input('x'), c.ints(list(c.attrs.begin, rank)), c.ints(list(c.attrs.size, rank))])];
  },
  StridedSlice: (c) => [
    c.node(
      'StridedSlice',
      [c.input('x'), c.ints(c.attrs.begin as number[]), c.ints(c.attrs.end as number[]), c.ints(c.attrs.strides as number[])],
      {
        begin_mask: attr.int(c.attrs.beginMask as number),
        end_mask: attr.int(c.attrs.endMask as number),
        ellipsis_mask: attr.int(c.attrs.ellipsisMask as number),
        new_axis_mask: attr.int(c.attrs.newAxisMask as number),
        shrink_axis_mask: attr.int(c.attrs.shrinkAxisMask as number),
      },
    ),
  ],
  SplitV: (c) => {
    const n = c.kernel.outputs.length;
    const sizes = c.attrs.numOrSizeSplits;
    const axis = c.attrs.axis as number;
    if (typeof sizes === 'number') return outputs(c.node('Split', [c.intScalar(axis), c.input('x')], { num_split: attr.int(sizes) }), n);
    return outputs(c.node('SplitV', [c.input('x'), c.ints(sizes as number[]), c.intScalar(axis)], { num_split: attr.int(n) }), n);
  },
  PadV2: (c) => {
    const pads = c.attrs.paddings as number[][];
    const x = c.input('x');
    return [
      c.node('PadV2', [
        x,
        c.builder.intConstant(pads.flat(), [pads.length, 2]),
        c.scalar(c.attrs.constantValue as number, c.inputMeta('x').dtype),
      ]),
    ];
  },
  MirrorPad: (c) => {
    const pads = c.attrs.paddings as number[][];
    return [
      c.node('MirrorPad', [c.input('x'), c.builder.intConstant(pads.flat(), [pads.length, 2])], {
        mode: attr.str(String(c.attrs.mode).toUpperCase()),
      }),
    ];
  },
  GatherV2: (c) => [
    c.node('GatherV2', [c.input('x'), c.input('indices'), c.intScalar(c.attrs.axis as number)], {
      batch_dims: attr.int((c.attrs.batchDims as number) ?? 0),
    }),
  ],
  GatherNd: (c) => [c.node('GatherNd', [c.input('params'), c.input('indices')])],
  OneHot: (c) => {
    const dtype = c.kernel.outputs[0].dtype;
    return [
      c.node(
        'OneHot',
        [
          c.input('indices'),
          c.intScalar(c.attrs.depth as number),
          c.scalar(c.attrs.onValue as number, dtype),
          c.scalar(c.attrs.offValue as number, dtype),
        ],
        {
          T: attr.dtype(dtype, 'OneHot'),
          axis: attr.int(-1),
        },
      ),
    ];
  },
  DepthToSpace: (c) => [
    c.node('DepthToSpace', [c.input('x')], {
      block_size: attr.int(c.attrs.blockSize as number),
      data_format: attr.str(c.attrs.dataFormat as string),
    }),
  ],

  Softmax: (c) => {
    lastAxisOnly(c, 'logits', c.attrs.dim);
    return [c.node('Softmax', [c.input('logits')])];
  },
  LogSoftmax: (c) => {
    lastAxisOnly(c, 'logits', c.attrs.axis);
    return [c.node('LogSoftmax', [c.input('logits')])];
  },
  ArgMax: (c) => [c.node('ArgMax', [c.input('x'), c.intScalar(c.attrs.axis as number)])],
  ArgMin: (c) => [c.node('ArgMin', [c.input('x'), c.intScalar(c.attrs.axis as number)])],
  Sum: reduction('Sum'),
  Mean: reduction('Mean'),
  Min: reduction('Min'),
  Max: reduction('Max', 'reductionIndices'),
  Prod: reduction('Prod'),
  All: reduction('All'),
  Any: reduction('Any'),
  Cumsum: (c) => [
    c.node('Cumsum', [c.input('x'), c.intScalar(c.attrs.axis as number)], {
      exclusive: attr.bool(Boolean(c.attrs.exclusive)),
      reverse: attr.bool(Boolean(c.attrs.reverse)),
    }),
  ],
  Cumprod: (c) => [
    c.node('Cumprod', [c.input('x'), c.intScalar(c.attrs.axis as number)], {
      exclusive: attr.bool(Boolean(c.attrs.exclusive)),
      reverse: attr.bool(Boolean(c.attrs.reverse)),
    }),
  ],
  TopK: (c) =>
    outputs(c.node('TopKV2', [c.input('x'), c.intScalar(c.attrs.k as number)], { sorted: attr.bool(c.attrs.sorted !== false) }), 2),

  BatchMatMul: (c) => [
    c.node('BatchMatMulV2', [c.input('a'), c.input('b')], {
      adj_x: attr.bool(Boolean(c.attrs.transposeA)),
      adj_y: attr.bool(Boolean(c.attrs.transposeB)),
    }),
  ],
  _FusedMatMul: (c) => {
    const a = c.input('a');
    const b = c.input('b');
    const bias = c.optionalInput('bias');
    const act = activationOf(c);
    const transpose = { transpose_a: attr.bool(Boolean(c.attrs.transposeA)), transpose_b: attr.bool(Boolean(c.attrs.transposeB)) };
    if (bias) {
      const args = [bias, ...(act === 'prelu' ? [c.input('preluActivationWeights')] : [])];
      return [
        c.node('_FusedMatMul', [a, b, ...args], {
          ...transpose,
          fused_ops: attr.strs(['BiasAdd', ...(act === 'linear' ? [] : [ACTIVATION_OPS[act]])]),
          num_args: attr.int(args.length),
          leakyrelu_alpha: attr.float((c.attrs.leakyreluAlpha as number | undefined) ?? 0.2),
        }),
      ];
    }
    const y = c.node('BatchMatMulV2', [a, b], { adj_x: transpose.transpose_a, adj_y: transpose.transpose_b });
    return [applyActivation(c, y, act)];
  },

  Conv2D: (c) => [c.node('Conv2D', [c.input('x'), c.input('filter')], convAttrs(c))],
  DepthwiseConv2dNative: (c) => [c.node('DepthwiseConv2dNative', [c.input('x'), c.input('filter')], convAttrs(c))],
  FusedConv2D: fusedConv('Conv2D', '_FusedConv2D', true),
  FusedDepthwiseConv2D: fusedConv('DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', false),
  // This project's own conv kernel (src/backend/custom-kernels.ts, called by src/framework/fused-ops.ts): conv + bias + relu.
  TfjsEstimatorConv2D: fusedConv('Conv2D', '_FusedConv2D', true),
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AvgPool'),
  FusedBatchNorm: (c) => {
    const mean = c.input('mean');
    const meanMeta = c.inputMeta('mean');
    const filled = (v: number): string =>
      c.builder.constant({
        values: new Float32Array(meanMeta.shape.reduce((p, d) => p * d, 1)).fill(v),
        shape: meanMeta.shape,
        dtype: 'float32',
      });
    const scale = c.optionalInput('scale') ?? filled(1);
    const offset = c.optionalInput('offset') ?? filled(0);
    return [
      c.node('FusedBatchNormV3', [c.input('x'), scale, offset, mean, c.input('variance')], {
        epsilon: attr.float(c.attrs.varianceEpsilon as number),
        data_format: attr.str('NHWC'),
        is_training: attr.bool(false),
      }),
    ];
  },
  LRN: (c) => [
    c.node('LRN', [c.input('x')], {
      depth_radius: attr.int(c.attrs.depthRadius as number),
      bias: attr.float(c.attrs.bias as number),
      alpha: attr.float(c.attrs.alpha as number),
      beta: attr.float(c.attrs.beta as number),
    }),
  ],
  ResizeBilinear: (c) => [
    c.node('ResizeBilinear', [c.input('images'), c.ints(c.attrs.size as number[])], {
      align_corners: attr.bool(Boolean(c.attrs.alignCorners)),
      half_pixel_centers: attr.bool(Boolean(c.attrs.halfPixelCenters)),
    }),
  ],
  ResizeNearestNeighbor: (c) => [
    c.node('ResizeNearestNeighbor', [c.input('images'), c.ints(c.attrs.size as number[])], {
      align_corners: attr.bool(Boolean(c.attrs.alignCorners)),
      half_pixel_centers: attr.bool(Boolean(c.attrs.halfPixelCenters)),
    }),
  ],
  Einsum: (c) => [c.node('Einsum', c.allInputs(), { equation: attr.str(c.attrs.equation as string), N: attr.int(c.allInputs().length) })],
};

export function supportedKernels(): string[] {
  return Object.keys(EMITTERS).sort();
}

export function emitterFor(kernelName: string): Emitter | undefined {
  return Object.prototype.hasOwnProperty.call(EMITTERS, kernelName) ? EMITTERS[kernelName] : undefined;
}
