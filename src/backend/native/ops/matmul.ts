// Batched matrix products (matmul.cc), with tfjs's fused bias and activation.
import * as tf from '@tensorflow/tfjs';
import { ACTIVATIONS, channelBias, f32, isF32, KernelArgs, KernelContext, nativeOrFallback, shapeArray, size } from './common';

export function matmulKernels(ctx: KernelContext): tf.KernelConfig[] {
  const { addon } = ctx;

  const matmul = (args: KernelArgs): tf.TensorInfo | undefined => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const at = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
    const act = at.activation ?? 'linear';
    if (!a || !b || !isF32(a, b) || preluActivationWeights || !(act in ACTIVATIONS) || a.shape.length < 2 || b.shape.length < 2)
      return undefined;
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const [batchA, batchB] = [size(outerA), size(outerB)];
    // Same batch shape, or one side without a batch to broadcast; other broadcasts go to cpu.
    let outer: number[];
    if (tf.util.arraysEqual(outerA, outerB)) outer = outerA;
    else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
    else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
    else return undefined;
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const [m, kA] = at.transposeA ? [ca, ra] : [ra, ca];
    const [kB, n] = at.transposeB ? [cb, rb] : [rb, cb];
    if (kA !== kB || !channelBias(bias, n) || m * n === 0 || kA === 0) return undefined;
    const o = args.backend.output([...outer, m, n]);
    const be = args.backend;
    addon.matmul(
      shapeArray('matmul', { batchA, batchB, m, k: kA, n, transposeA: at.transposeA ? 1 : 0, transposeB: at.transposeB ? 1 : 0 }),
      f32(be, a),
      f32(be, b),
      bias ? f32(be, bias) : null,
      ACTIVATIONS[act],
      at.leakyreluAlpha ?? 0.2,
      o.values,
    );
    return o.info;
  };

  return [nativeOrFallback(ctx, 'BatchMatMul', undefined, matmul), nativeOrFallback(ctx, '_FusedMatMul', undefined, matmul)];
}
