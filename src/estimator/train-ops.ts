// Train ops are deferred: modelFn returns them, and the Estimator runs them once modelFn has
// finished and the forward pass is fully recorded. Each op then takes the gradient of its own
// loss with respect to its own variables from that one recording.
import * as tf from '@tensorflow/tfjs';
import { activeGraph, requireGraph, UpdateOp } from '../framework/graph';
import type { StepTape } from '../framework/tape';
import type { VariableStore } from '../framework/variables';
import { ADAM_UPDATE, AdamBetaPowers, adamUpdate, hasKernel } from '../framework/fused-ops';

export const GLOBAL_STEP_NAME = 'global_step';

/** What a running train step offers to train ops. */
export interface TrainStepContext {
  readonly tape: StepTape;
  readonly store: VariableStore;
  /** Called by minimize({globalStep}); the loop checks that the step advanced. */
  incrementGlobalStep(v: tf.Variable): void;
}

/** What modelFn returns as EstimatorSpec.trainOp: run by the Estimator once per step, after modelFn. */
export abstract class TrainOp {
  /** Runs the op once; called by the Estimator, not by modelFn. */
  abstract run(ctx: TrainStepContext): void;
}

/** tf.group: runs each op once, in order. */
export class GroupOp extends TrainOp {
  constructor(readonly ops: ReadonlyArray<TrainOp | UpdateOp>) {
    super();
  }
  run(ctx: TrainStepContext): void {
    for (const op of this.ops) {
      if (op instanceof UpdateOp) op.run();
      else op.run(ctx);
    }
  }
}

/**
 * tf.group: one train op that runs each op once, in order (undefined entries and nested arrays
 * are allowed).
 * @example train.group(optimizer.minimize(loss, { globalStep }), getCollection<train.UpdateOp>(GraphKeys.UPDATE_OPS))
 */
export function group(...ops: Array<TrainOp | UpdateOp | Array<TrainOp | UpdateOp> | undefined>): TrainOp {
  const flat = ops.flat().filter((o): o is TrainOp | UpdateOp => o !== undefined);
  for (const o of flat) {
    if (!(o instanceof TrainOp) && !(o instanceof UpdateOp)) {
      throw new Error('train.group takes train ops (from optimizer.minimize) and update ops (from getCollection(GraphKeys.UPDATE_OPS)).');
    }
  }
  return new GroupOp(flat);
}

/** tf.no_op: does nothing. A placeholder where a train op is expected, e.g.
 *  controlDependencies(updateOps, () => train.noOp()) runs only the update ops. It does not
 *  advance the global step, so a trainOp made only of no-ops cannot train. */
export class NoOp extends TrainOp {
  /** Does nothing. */
  run(): void {
    // Nothing to do, by definition.
  }
}

/** tf.no_op: a train op that does nothing (it does not advance the global step). */
export function noOp(): TrainOp {
  return new NoOp();
}

/** tf.control_dependencies(deps): the returned op runs deps first, then what fn returns. */
export function controlDependencies(deps: ReadonlyArray<TrainOp | UpdateOp>, fn: () => TrainOp): TrainOp {
  return new GroupOp([...deps, fn()]);
}

/** The global step variable of the running model (created at 0, or restored). */
export function getOrCreateGlobalStep(): tf.Variable {
  const ctx = requireGraph('train.getOrCreateGlobalStep');
  return ctx.store.getOrCreate(GLOBAL_STEP_NAME, [], {
    dtype: 'int32',
    trainable: false,
    initializer: (shape, dtype) => tf.zeros(shape, dtype),
  });
}

/** tf.train.get_global_step: the global step variable if getOrCreateGlobalStep made it, else undefined. */
export function getGlobalStep(): tf.Variable | undefined {
  const ctx = requireGraph('train.getGlobalStep');
  return ctx.store.get(GLOBAL_STEP_NAME)?.variable;
}

/** A learning rate: a number, or a scalar tensor (e.g. computed from the global step). */
export type LearningRate = number | tf.Scalar;

/** Options of Optimizer.minimize. */
export interface MinimizeOptions {
  /** The step variable (train.getOrCreateGlobalStep()) to increment by one each time the op runs. */
  globalStep?: tf.Variable;
  /** Variables to train; default: every trainable variable of the model. */
  varList?: tf.Variable[];
  /** Scale gradients to this global norm before applying (tf.clip_by_global_norm). */
  clipNorm?: number;
}

/** Applies one optimizer's update rule to variables, given their gradients. */
export abstract class Optimizer {
  /**
   * @param learningRate the step size.
   * @param baseName the optimizer's TF name (Adam, Momentum, ...): slot variables are named after it.
   */
  protected constructor(
    readonly learningRate: LearningRate,
    readonly baseName: string,
    private readonly explicitName?: string,
  ) {}

  /**
   * optimizer.minimize: a train op that, when the Estimator runs it, takes the gradient of the
   * scalar `loss` (recorded during modelFn) and applies this optimizer's update.
   * @example trainOp: train.adam(1e-3).minimize(loss, { globalStep: train.getOrCreateGlobalStep() })
   */
  minimize(loss: tf.Tensor, opts: MinimizeOptions = {}): TrainOp {
    const graph = requireGraph(`${this.baseName} optimizer's minimize`);
    if (!(loss instanceof tf.Tensor)) {
      throw new Error(`minimize(loss) needs a scalar tf.Tensor loss, got ${describeValue(loss)}.`);
    }
    if (loss.rank !== 0) {
      throw new Error(
        `minimize(loss) needs a scalar loss, got shape [${loss.shape}]; reduce it with tf.mean(loss) or a function from losses.`,
      );
    }
    if (opts.globalStep !== undefined && !(opts.globalStep instanceof tf.Variable)) {
      throw new Error('minimize: globalStep must be the variable from train.getOrCreateGlobalStep().');
    }
    // Name fixed now, so slot names are the same on every modelFn call (Adam, Adam_1, ...).
    const name = this.explicitName ?? graph.uniqueName(this.baseName);
    const varList = opts.varList;
    if (varList) {
      for (const v of varList) {
        if (!(v instanceof tf.Variable)) throw new Error(`minimize: varList must contain variables only, got ${describeValue(v)}.`);
      }
    }
    return new MinimizeOp(this, name, loss, varList, opts.globalStep, opts.clipNorm);
  }

  /** Called by MinimizeOp: apply one gradient to one variable. */
  abstract applyGradient(
    store: VariableStore,
    optName: string,
    varName: string,
    v: tf.Variable,
    grad: tf.Tensor,
    lr: tf.Scalar | number,
  ): void;

  /** Per-apply set-up before any variable is updated, inside the apply's tf.tidy (Adam's lr_t). */
  beginApply(_store: VariableStore, _optName: string, _lr: tf.Scalar | number): void {}

  /** Per-apply bookkeeping after all variables were updated (Adam's beta powers). */
  finishApply(_store: VariableStore, _optName: string): void {}

  protected slot(store: VariableStore, name: string, like: tf.Variable, init: 'zeros' | 'ones' = 'zeros'): tf.Variable {
    return store.getOrCreate(name, like.shape, {
      trainable: false,
      initializer: (shape, dtype) => (init === 'ones' ? tf.ones(shape, dtype) : tf.zeros(shape, dtype)),
    });
  }
}

class MinimizeOp extends TrainOp {
  constructor(
    private readonly optimizer: Optimizer,
    private readonly name: string,
    private readonly loss: tf.Tensor,
    private readonly varList: tf.Variable[] | undefined,
    private readonly globalStep: tf.Variable | undefined,
    private readonly clipNorm: number | undefined,
  ) {
    super();
  }

  run(ctx: TrainStepContext): void {
    const vars = this.varList ?? ctx.store.trainableVariables();
    if (vars.length === 0) {
      throw new Error(`${this.name}.minimize: there are no trainable variables; create some with layers.* or getVariable before minimize.`);
    }
    const grads = ctx.tape.gradients(this.loss, vars);
    if (grads.every((g) => g === null)) {
      const names = vars.map((v) => ctx.store.nameOf(v) ?? v.name).join(', ');
      throw new Error(
        `${this.name}.minimize: no gradient for any variable (${names}). The loss does not depend on them; ` +
          `check varList and that the loss was computed from the model's outputs in this modelFn call.`,
      );
    }
    tf.tidy(() => {
      let scale: tf.Scalar | undefined;
      if (this.clipNorm !== undefined) {
        const sq = grads.filter((g): g is tf.Tensor => g !== null).map((g) => tf.sum(tf.square(g)));
        const norm = tf.sqrt(tf.addN(sq));
        scale = tf.div(this.clipNorm, tf.maximum(norm, this.clipNorm)) as tf.Scalar;
      }
      const lr = this.optimizer.learningRate;
      this.optimizer.beginApply(ctx.store, this.name, lr);
      vars.forEach((v, i) => {
        const g = grads[i];
        if (g === null) return;
        const varName = ctx.store.nameOf(v) ?? v.name;
        this.optimizer.applyGradient(ctx.store, this.name, varName, v, scale ? tf.mul(g, scale) : g, lr);
      });
      this.optimizer.finishApply(ctx.store, this.name);
    });
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
    if (this.globalStep) ctx.incrementGlobalStep(this.globalStep);
  }
}

/** tf.train.GradientDescentOptimizer: v -= learningRate * grad. Made by train.sgd. */
export class GradientDescentOptimizer extends Optimizer {
  constructor(learningRate: LearningRate, name?: string) {
    super(learningRate, 'GradientDescent', name);
  }
  applyGradient(_s: VariableStore, _o: string, _n: string, v: tf.Variable, g: tf.Tensor, lr: tf.Scalar | number): void {
    v.assign(tf.sub(v, tf.mul(g, lr)));
  }
}

/** tf.train.MomentumOptimizer (optionally Nesterov), one accumulator slot per variable. Made by train.momentum. */
export class MomentumOptimizer extends Optimizer {
  /**
   * @param momentum the accumulator's decay.
   * @param useNesterov Nesterov momentum (default false).
   */
  constructor(
    learningRate: LearningRate,
    readonly momentum: number,
    readonly useNesterov = false,
    name?: string,
  ) {
    super(learningRate, 'Momentum', name);
  }
  applyGradient(store: VariableStore, optName: string, varName: string, v: tf.Variable, g: tf.Tensor, lr: tf.Scalar | number): void {
    const accum = this.slot(store, `${varName}/${optName}`, v);
    const newAccum = tf.add(tf.mul(accum, this.momentum), g);
    accum.assign(newAccum);
    const step = this.useNesterov ? tf.add(tf.mul(newAccum, this.momentum), g) : newAccum;
    v.assign(tf.sub(v, tf.mul(step, lr)));
  }
}

/** TF1's lr_t = lr * sqrt(1 - beta2Power) / (1 - beta1Power) as tensor ops. */
function composedLrT(lr: tf.Scalar | number, beta1Power: tf.Tensor, beta2Power: tf.Tensor): tf.Scalar {
  return tf.div(tf.mul(lr, tf.sqrt(tf.sub(1, beta2Power))), tf.sub(1, beta1Power)) as tf.Scalar;
}

/** tf.train.AdamOptimizer (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-8), with TF1's slot names. Made by train.adam. */
export class AdamOptimizer extends Optimizer {
  /**
   * @param beta1 decay of the first-moment estimate (default 0.9).
   * @param beta2 decay of the second-moment estimate (default 0.999).
   * @param epsilon added to the denominator (default 1e-8).
   */
  constructor(
    learningRate: LearningRate = 0.001,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-8,
    name?: string,
  ) {
    super(learningRate, 'Adam', name);
  }

  private powers(store: VariableStore, optName: string): [tf.Variable, tf.Variable] {
    const opts = (value: number) => ({ trainable: false, initializer: (shape: number[]) => tf.fill(shape, value) });
    return [
      store.getOrCreate(`${optName}/beta1_power`, [], opts(this.beta1)),
      store.getOrCreate(`${optName}/beta2_power`, [], opts(this.beta2)),
    ];
  }

  /**
   * TF1's Adam: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), with the beta powers before this
   * apply's update. The fused kernel gets the base rate and the beta powers and computes lr_t
   * itself: nothing is read back (a read waits for the GPU queue on webgpu, and a step that
   * reads cannot be replayed), and no ops run for it. The composed update computes it with
   * tensor ops.
   */
  private step: { lrT: tf.Scalar | number } | { lr: tf.Scalar | number; powers: AdamBetaPowers } | undefined;

  override beginApply(store: VariableStore, optName: string, lr: tf.Scalar | number): void {
    const [b1p, b2p] = this.powers(store, optName);
    if (hasKernel(ADAM_UPDATE)) {
      this.step = { lr, powers: { beta1Power: b1p as tf.Scalar, beta2Power: b2p as tf.Scalar } };
    } else {
      this.step = { lrT: composedLrT(lr, b1p, b2p) };
    }
  }

  applyGradient(store: VariableStore, optName: string, varName: string, v: tf.Variable, g: tf.Tensor, _lr: tf.Scalar | number): void {
    const step = this.step;
    if (step === undefined)
      throw new Error('AdamOptimizer.applyGradient runs between beginApply and finishApply, as minimize() calls them.');
    const m = this.slot(store, `${varName}/${optName}/m`, v);
    const s = this.slot(store, `${varName}/${optName}/v`, v);
    if (hasKernel(ADAM_UPDATE) && v.dtype === 'float32') {
      // One kernel per variable instead of ~12 element-wise ops.
      const [nv, nm, ns] =
        'lrT' in step
          ? adamUpdate(v, m, s, g, step.lrT, this.beta1, this.beta2, this.epsilon)
          : adamUpdate(v, m, s, g, step.lr, this.beta1, this.beta2, this.epsilon, step.powers);
      v.assign(nv);
      m.assign(nm);
      s.assign(ns);
      return;
    }
    // A variable the kernel does not take: lr_t as tensor ops, once per apply (the apply's tidy frees it).
    let lrT: tf.Scalar | number;
    if ('lrT' in step) lrT = step.lrT;
    else {
      lrT = composedLrT(step.lr, step.powers.beta1Power, step.powers.beta2Power);
      this.step = { lrT };
    }
    // Epsilon outside the sqrt, as in TF1.
    const newM = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
    const newS = tf.add(tf.mul(s, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    m.assign(newM);
    s.assign(newS);
    v.assign(tf.sub(v, tf.div(tf.mul(newM, lrT), tf.add(tf.sqrt(newS), this.epsilon))));
  }

  override finishApply(store: VariableStore, optName: string): void {
    this.step = undefined;
    const [b1p, b2p] = this.powers(store, optName);
    b1p.assign(tf.mul(b1p, this.beta1));
    b2p.assign(tf.mul(b2p, this.beta2));
  }
}

/** tf.train.RMSPropOptimizer (decay 0.9, momentum 0, epsilon 1e-10, not centered). Made by train.rmsprop. */
export class RMSPropOptimizer extends Optimizer {
  /**
   * @param decay decay of the mean square (default 0.9).
   * @param momentum momentum of the update (default 0).
   * @param epsilon added to the denominator (default 1e-10).
   * @param centered divide by the variance instead of the mean square (default false).
   */
  constructor(
    learningRate: LearningRate,
    readonly decay = 0.9,
    readonly momentum = 0,
    readonly epsilon = 1e-10,
    readonly centered = false,
    name?: string,
  ) {
    super(learningRate, 'RMSProp', name);
  }
  applyGradient(store: VariableStore, optName: string, varName: string, v: tf.Variable, g: tf.Tensor, lr: tf.Scalar | number): void {
    // TF1 initialises the mean square to ones.
    const ms = this.slot(store, `${varName}/${optName}/ms`, v, 'ones');
    const mom = this.slot(store, `${varName}/${optName}/mom`, v);
    const newMs = tf.add(tf.mul(ms, this.decay), tf.mul(tf.square(g), 1 - this.decay));
    ms.assign(newMs);
    let denom: tf.Tensor = tf.add(newMs, this.epsilon);
    if (this.centered) {
      const mg = this.slot(store, `${varName}/${optName}/mg`, v);
      const newMg = tf.add(tf.mul(mg, this.decay), tf.mul(g, 1 - this.decay));
      mg.assign(newMg);
      denom = tf.sub(denom, tf.square(newMg));
    }
    const newMom = tf.add(tf.mul(mom, this.momentum), tf.div(tf.mul(g, lr), tf.sqrt(denom)));
    mom.assign(newMom);
    v.assign(tf.sub(v, newMom));
  }
}

/**
 * Plain gradient descent (tf.train.GradientDescentOptimizer).
 * @example train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() })
 */
export function sgd(learningRate: LearningRate): GradientDescentOptimizer {
  return new GradientDescentOptimizer(learningRate);
}
/**
 * Gradient descent with momentum `m` (tf.train.MomentumOptimizer); `useNesterov` for Nesterov momentum.
 * @example train.momentum(0.01, 0.9)
 */
export function momentum(learningRate: LearningRate, m: number, opts: { useNesterov?: boolean } = {}): MomentumOptimizer {
  return new MomentumOptimizer(learningRate, m, opts.useNesterov ?? false);
}
/**
 * Adam (tf.train.AdamOptimizer): learning rate 0.001, beta1 0.9, beta2 0.999, epsilon 1e-8 by default.
 * @example train.adam(1e-4).minimize(loss, { globalStep: train.getOrCreateGlobalStep() })
 */
export function adam(learningRate = 0.001, opts: { beta1?: number; beta2?: number; epsilon?: number } = {}): AdamOptimizer {
  return new AdamOptimizer(learningRate, opts.beta1, opts.beta2, opts.epsilon);
}
/**
 * RMSProp (tf.train.RMSPropOptimizer): decay 0.9, momentum 0, epsilon 1e-10, centered false by default.
 * @example train.rmsprop(0.001, { momentum: 0.9 })
 */
export function rmsprop(
  learningRate: LearningRate,
  opts: { decay?: number; momentum?: number; epsilon?: number; centered?: boolean } = {},
): RMSPropOptimizer {
  return new RMSPropOptimizer(learningRate, opts.decay, opts.momentum, opts.epsilon, opts.centered);
}

/** tf.train.exponential_decay evaluated at the current global step. */
export function exponentialDecay(
  learningRate: number,
  globalStep: tf.Variable | number,
  decaySteps: number,
  decayRate: number,
  staircase = false,
): number {
  const step = typeof globalStep === 'number' ? globalStep : stepOf(globalStep);
  const p = staircase ? Math.floor(step / decaySteps) : step / decaySteps;
  return learningRate * Math.pow(decayRate, p);
}

/**
 * The value of a step variable. The running model's global step is known without reading
 * it back (a read waits for the GPU queue on webgpu): it is the step this modelFn call runs at.
 */
function stepOf(v: tf.Variable): number {
  const graph = activeGraph();
  if (graph && graph.store.get(GLOBAL_STEP_NAME)?.variable === v) return graph.globalStepValue;
  return v.dataSync()[0] as number;
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof tf.Tensor) return `a ${v.dtype} tensor of shape [${v.shape}]`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return `an object with keys {${Object.keys(v as object).join(', ')}}`;
  return `${typeof v} ${String(v)}`;
}
