// One forward pass, many backward passes. modelFn computes its losses eagerly and returns them,
// so gradients must come from what the engine recorded while modelFn ran. tfjs only exposes
// "re-run f and differentiate one y"; the GAN pattern (two losses, two variable lists, one
// forward pass) needs the recorded tape itself, so this module opens the engine's tape around
// modelFn and walks it backwards once per train op.
import * as tf from '@tensorflow/tfjs';
import { GRADIENT_USES_FIRST_OUTPUT_ONLY } from '../backend/custom-kernels';

/** What tfjs-core's engine records per kernel while its tape is on. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

interface EngineTapeInternals {
  startTape(): void;
  endTape(): void;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

function engineInternals(): EngineTapeInternals {
  return tf.engine() as unknown as EngineTapeInternals;
}

/** One recorded kernel as a graph shows it (see describe()). */
export interface RecordedOp {
  kernelName: string;
  inputs: Record<string, tf.Tensor | null | undefined>;
  outputs: tf.Tensor[];
  /** The variable scope the kernel ran in ('conv2d/', '' at top level). */
  scope: string;
}

export class StepTape {
  private nodes: TapeNode[] | null = null;
  private recording = false;
  /** Scope of each recorded node, kept only when a graph of the step is wanted. */
  private scopes: string[] | null = null;

  /** scopeOf: when given, the current scope is noted for every kernel (for describe()). */
  start(scopeOf?: () => string): void {
    const e = engineInternals();
    if (e.state.gradientDepth !== 0) {
      throw new Error('A gradient tape is already active (nested tf.grads around Estimator.train?); call train at top level.');
    }
    e.startTape();
    this.recording = true;
    const tape = e.state.activeTape;
    if (scopeOf && tape) {
      // The engine appends each kernel's node with push(): note the scope it ran in as it does.
      const scopes: string[] = (this.scopes = []);
      tape.push = (...added: TapeNode[]): number => {
        for (let i = 0; i < added.length; i++) scopes.push(scopeOf());
        return Array.prototype.push.apply(tape, added);
      };
    }
  }

  /** The kernels the forward pass ran, in order, with their scopes (start(scopeOf) only). */
  describe(): RecordedOp[] {
    if (this.recording) this.stop();
    const nodes = this.nodes ?? [];
    const scopes = this.scopes ?? [];
    return nodes.map((n, i) => ({ kernelName: n.kernelName, inputs: n.inputs, outputs: n.outputs, scope: scopes[i] ?? '' }));
  }

  stop(): void {
    if (!this.recording) return;
    const e = engineInternals();
    e.endTape();
    this.recording = false;
    this.nodes = e.state.activeTape ?? [];
  }

  /** d(y)/d(x) for each x, from the recorded forward pass; null where y does not depend on x. */
  gradients(y: tf.Tensor, xs: tf.Tensor[]): Array<tf.Tensor | null> {
    if (this.recording) this.stop();
    const nodes = this.nodes;
    if (!nodes) throw new Error('StepTape.gradients called before the forward pass was recorded.');

    // Tensors that depend on some x, walking forward in recording order.
    const fromX = new Set<number>(xs.map((x) => x.id));
    const nodeFromX: boolean[] = nodes.map((node) => {
      const hit = Object.values(node.inputs).some((t) => t != null && fromX.has(t.id));
      if (hit) for (const o of node.outputs) fromX.add(o.id);
      return hit;
    });
    // Nodes on a path x -> y, walking backward from y.
    const needed = new Set<number>([y.id]);
    const onPath: boolean[] = new Array(nodes.length).fill(false);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (!nodeFromX[i] || !node.outputs.some((o) => needed.has(o.id))) continue;
      onPath[i] = true;
      for (const t of Object.values(node.inputs)) if (t != null && fromX.has(t.id)) needed.add(t.id);
    }

    // tidy keeps only the returned gradients; nulls pass through untouched.
    const run = (): tf.Tensor[] => {
      const grads = new Map<number, tf.Tensor>();
      grads.set(y.id, tf.onesLike(y));
      // The engine fills every null dy with zeros of the output's shape before calling a
      // gradient: megabytes a step for outputs such as a max pooling's argmax, which our own
      // kernels' gradients never read. They get this stand-in instead.
      let unread: tf.Tensor | undefined;
      for (let i = nodes.length - 1; i >= 0; i--) {
        if (!onPath[i]) continue;
        const node = nodes[i];
        const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
        if (dys.every((d) => d === null)) continue;
        if (GRADIENT_USES_FIRST_OUTPUT_ONLY.has(node.kernelName)) {
          for (let k = 1; k < dys.length; k++) dys[k] ??= unread ??= tf.scalar(0);
        }
        if (!node.gradient) {
          throw new Error(
            `Cannot differentiate through kernel '${node.kernelName}': it has no gradient in TensorFlow.js. ` +
              `Keep it out of the path from the loss to the trained variables (e.g. compute it with tf.stopGradient).`,
          );
        }
        const inputGrads = node.gradient(dys);
        for (const [inputName, t] of Object.entries(node.inputs)) {
          if (t == null || !needed.has(t.id)) continue;
          const gradFn = inputGrads[inputName];
          if (!gradFn) continue;
          const g = gradFn();
          if (g.dtype !== 'float32') {
            throw new Error(`Gradient of ${node.kernelName} input '${inputName}' has dtype ${g.dtype}; expected float32.`);
          }
          if (!tf.util.arraysEqual(g.shape, t.shape)) {
            throw new Error(`Gradient of ${node.kernelName} input '${inputName}' has shape [${g.shape}] but the input has [${t.shape}].`);
          }
          const prev = grads.get(t.id);
          grads.set(t.id, prev ? tf.add(prev, g) : g);
        }
      }
      return xs.map((x) => grads.get(x.id) ?? null) as tf.Tensor[];
    };
    return tf.tidy(run) as Array<tf.Tensor | null>;
  }

  /** Frees the tensors the engine saved for backprop. Idempotent. */
  dispose(): void {
    if (this.recording) this.stop();
    const e = engineInternals();
    const nodes = this.nodes ?? e.state.activeTape;
    if (nodes) for (const node of nodes) for (const t of node.saved ?? []) t.dispose();
    if (e.state.gradientDepth === 0) e.state.activeTape = null;
    this.nodes = null;
  }
}
