// Broadcasting binary arithmetic, unary maths and Tile (binary.cc). Small outputs stay with the
// cpu kernels: a native call costs more than their loops.
import * as tf from '@tensorflow/tfjs';
import { BINARY_OPS, f32, isF32, kernel, KernelContext, size, SMALL, UNARY_OPS } from './common';

/**
 * Broadcasting a op b as few dimensions as possible: size-1 dimensions dropped and runs of
 * dimensions merged where both operands are laid out contiguously (or both constant) across
 * them, so that [N,H,W,C] op [C] becomes [NHW, C] with b's strides [0, 1].
 */
export function broadcastPlan(aShape: number[], bShape: number[]): { outShape: number[]; shape: number[]; as: number[]; bs: number[] } {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const rank = outShape.length;
  const stridesOf = (s: number[]) => {
    const own = s.map((_, i) => size(s.slice(i + 1)));
    return outShape.map((d, i) => {
      const j = i - (rank - s.length);
      return j < 0 || s[j] === 1 ? 0 : own[j];
    });
  };
  const [sa, sb] = [stridesOf(aShape), stridesOf(bShape)];
  const shape: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  outShape.forEach((d, i) => {
    if (d === 1) return;
    const last = shape.length - 1;
    if (last >= 0 && as[last] === sa[i] * d && bs[last] === sb[i] * d) {
      shape[last] *= d;
      as[last] = sa[i];
      bs[last] = sb[i];
    } else {
      shape.push(d);
      as.push(sa[i]);
      bs.push(sb[i]);
    }
  });
  return { outShape, shape, as, bs };
}

export function binaryKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon, fallback, cpu } = ctx;
  return [
    ...Object.keys(BINARY_OPS).map((name) =>
      kernel(name, (args) => {
        const { a, b } = args.inputs;
        if (!a || !b || !isF32(a, b)) return fallback(name, args);
        const plan = broadcastPlan(a.shape, b.shape);
        if (size(plan.outShape) < SMALL) return cpu(name, args);
        const o = args.backend.output(plan.outShape);
        addon.binary(
          BINARY_OPS[name],
          Int32Array.from(plan.shape),
          Int32Array.from(plan.as),
          Int32Array.from(plan.bs),
          f32(args.backend, a),
          f32(args.backend, b),
          o.values,
        );
        return o.info;
      }),
    ),
    ...Object.keys(UNARY_OPS).map((name) =>
      kernel(name, (args) => {
        const x = args.inputs.x!;
        if (!isF32(x)) return fallback(name, args);
        if (size(x.shape) < SMALL) return cpu(name, args);
        const o = args.backend.output(x.shape);
        addon.unary(UNARY_OPS[name], f32(args.backend, x), o.values);
        return o.info;
      }),
    ),
    kernel('Tile', (args) => {
      const x = args.inputs.x!;
      const reps = (args.attrs as unknown as { reps: number[] }).reps;
      if (!isF32(x) || x.shape.length === 0) return fallback('Tile', args);
      const outShape = x.shape.map((d, i) => d * reps[i]);
      if (size(outShape) < SMALL) return cpu('Tile', args);
      const o = args.backend.output(outShape);
      addon.tile(Int32Array.from(x.shape), Int32Array.from(reps), f32(args.backend, x), o.values);
      return o.info;
    }),
  ];
}
