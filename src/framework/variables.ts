// Variables by full name, created on first request and reused afterwards (tf.get_variable).
// A store lives for one train/evaluate/predict call; it is filled lazily from the checkpoint
// being restored: a variable takes its saved value the moment modelFn first asks for it.
import * as tf from '@tensorflow/tfjs';
import { hashSeed, requireGraph, GraphKeys } from './graph';

/**
 * Makes a variable's first value from its shape, dtype and seed (the seed is derived from
 * RunConfig.randomSeed and the variable's name, or undefined when no seed is set).
 */
export type Initializer = (shape: number[], dtype: tf.DataType, seed: number | undefined) => tf.Tensor;

/**
 * Variable initializers (tf.*_initializer) for getVariable and the layers' kernelInitializer /
 * biasInitializer options.
 * @example layers.dense(x, 10, { kernelInitializer: initializers.truncatedNormal(0.1) })
 */
export const initializers = {
  /** All zeros (tf.zeros_initializer); the layers' default for biases. */
  zeros: (): Initializer => (shape, dtype) => tf.zeros(shape, dtype),
  /** All ones (tf.ones_initializer). */
  ones: (): Initializer => (shape, dtype) => tf.ones(shape, dtype),
  /** Every element `value` (tf.constant_initializer). */
  constant:
    (value: number): Initializer =>
    (shape, dtype) =>
      tf.fill(shape, value, dtype),
  /** TF1's default for get_variable: Glorot (Xavier) uniform. */
  glorotUniform: (): Initializer => (shape, dtype, seed) => {
    const [fanIn, fanOut] = fans(shape);
    const limit = Math.sqrt(6 / Math.max(1, fanIn + fanOut));
    return tf.randomUniform(shape, -limit, limit, dtype as 'float32', seed);
  },
  /** He normal: truncated normal with stddev sqrt(2 / fanIn), for ReLU layers. */
  heNormal: (): Initializer => (shape, dtype, seed) => {
    const [fanIn] = fans(shape);
    return tf.truncatedNormal(shape, 0, Math.sqrt(2 / Math.max(1, fanIn)), dtype as 'float32', seed);
  },
  /** Normal values re-drawn beyond two stddevs (tf.truncated_normal_initializer); stddev 0.05, mean 0 by default. */
  truncatedNormal:
    (stddev = 0.05, mean = 0): Initializer =>
    (shape, dtype, seed) =>
      tf.truncatedNormal(shape, mean, stddev, dtype as 'float32', seed),
  /** Normal values (tf.random_normal_initializer); stddev 0.05, mean 0 by default. */
  randomNormal:
    (stddev = 0.05, mean = 0): Initializer =>
    (shape, dtype, seed) =>
      tf.randomNormal(shape, mean, stddev, dtype as 'float32', seed),
  /** Uniform values in [minval, maxval) (tf.random_uniform_initializer); [-0.05, 0.05) by default. */
  randomUniform:
    (minval = -0.05, maxval = 0.05): Initializer =>
    (shape, dtype, seed) =>
      tf.randomUniform(shape, minval, maxval, dtype as 'float32', seed),
};

function fans(shape: number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  // Convolution kernels: [...spatial, in, out].
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [receptive * shape[shape.length - 2], receptive * shape[shape.length - 1]];
}

export interface VariableRecord {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
}

export interface GetVariableOptions {
  initializer?: Initializer;
  dtype?: tf.DataType;
  trainable?: boolean;
}

export class VariableStore {
  private readonly vars = new Map<string, VariableRecord>();
  /** Saved values not yet claimed by a variable (restored lazily). */
  private readonly pending = new Map<string, tf.Tensor>();

  /** Variables created fresh although a checkpoint was restored (it lacks them). */
  readonly missing: string[] = [];

  /** restoredFrom: the checkpoint `restored` came from; every variable must then be in it. */
  constructor(
    readonly randomSeed: number | undefined,
    restored?: tf.NamedTensorMap,
    readonly restoredFrom?: string,
  ) {
    for (const [name, t] of Object.entries(restored ?? {})) this.pending.set(name, t);
  }

  get(name: string): VariableRecord | undefined {
    return this.vars.get(name);
  }

  has(name: string): boolean {
    return this.vars.has(name) || this.pending.has(name);
  }

  /** Value saved in the restored checkpoint that no variable claimed yet. */
  pendingValue(name: string): tf.Tensor | undefined {
    return this.pending.get(name);
  }

  getOrCreate(name: string, shape: number[], opts: GetVariableOptions = {}): tf.Variable {
    const dtype = opts.dtype ?? 'float32';
    const existing = this.vars.get(name);
    if (existing) {
      if (!tf.util.arraysEqual(existing.variable.shape, shape)) {
        throw new Error(
          `Variable ${name} already exists with shape [${existing.variable.shape}] but shape [${shape}] was requested; ` +
            `give the layer a different name or fix the input shape.`,
        );
      }
      return existing.variable;
    }
    const trainable = opts.trainable ?? true;
    const saved = this.pending.get(name);
    let initial: tf.Tensor;
    if (saved) {
      if (!tf.util.arraysEqual(saved.shape, shape)) {
        throw new Error(
          `Checkpoint variable ${name} has shape [${saved.shape}] but the model asks for [${shape}]; ` +
            `the model changed since the checkpoint was written: use a new modelDir, or warmStartFrom with ` +
            `varsToWarmStart that excludes ${name}.`,
        );
      }
      initial = saved.dtype === dtype ? saved : tf.cast(saved, dtype);
      this.pending.delete(name);
      if (initial !== saved) saved.dispose();
    } else {
      if (this.restoredFrom !== undefined) this.missing.push(name);
      const init = opts.initializer ?? (dtype === 'float32' ? initializers.glorotUniform() : initializers.zeros());
      const seed = this.randomSeed === undefined ? undefined : hashSeed(this.randomSeed, name);
      initial = tf.tidy(() => init(shape, dtype, seed));
    }
    // Variables outlive the step's scope: keep them out of any tidy/scope that is active now.
    const variable = tf.variable(initial, trainable, `${name}__${Math.random().toString(36).slice(2)}`, dtype);
    initial.dispose();
    tf.keep(variable);
    this.vars.set(name, { name, variable, trainable });
    return variable;
  }

  /** Throws when the model created variables the restored checkpoint lacks (TensorFlow's
   *  NotFoundError): initialising them fresh would silently mix trained and untrained weights. */
  checkRestoredAll(): void {
    if (this.missing.length === 0) return;
    const ckpt = this.restoredFrom as string;
    const modelDir = ckpt.replace(/[\\/]model\.ckpt-\d+$/, '');
    throw new Error(
      `The checkpoint ${ckpt} has no values for ${this.missing.length} variable(s) the model creates: ` +
        `${this.missing.slice(0, 10).join(', ')}${this.missing.length > 10 ? ', ...' : ''}. The model changed since the checkpoint was ` +
        `written. To start from the values it has, train in a new modelDir with warmStartFrom: '${modelDir}'; or use a new modelDir to start fresh.`,
    );
  }

  records(): VariableRecord[] {
    return [...this.vars.values()];
  }

  trainableVariables(): tf.Variable[] {
    return this.records()
      .filter((r) => r.trainable)
      .map((r) => r.variable);
  }

  nameOf(v: tf.Tensor): string | undefined {
    for (const r of this.vars.values()) if (r.variable === v || r.variable.id === v.id) return r.name;
    return undefined;
  }

  /** Everything to save: live variables plus restored values nothing claimed (nothing is lost). */
  snapshot(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [name, t] of this.pending) out[name] = t;
    for (const r of this.vars.values()) out[r.name] = r.variable;
    return out;
  }

  pendingNames(): string[] {
    return [...this.pending.keys()];
  }

  dispose(): void {
    for (const r of this.vars.values()) r.variable.dispose();
    for (const t of this.pending.values()) t.dispose();
    this.vars.clear();
    this.pending.clear();
  }
}

/** Options of variableScope. */
export interface VariableScopeOptions {
  /** true: variables must exist; 'auto': reuse if present, else create (tf.AUTO_REUSE). */
  reuse?: boolean | 'auto';
}

/**
 * tf.variable_scope: names created inside fn are prefixed with `name/`; returns fn's result
 * (awaited scopes work too). Only inside modelFn.
 * @example variableScope('tower', () => layers.dense(x, 10)) // variables tower/dense/kernel, ...
 */
export function variableScope<T>(name: string, fn: () => T, opts: VariableScopeOptions = {}): T {
  const ctx = requireGraph('variableScope');
  if (!/^[A-Za-z0-9_.\-/]*$/.test(name)) {
    throw new Error(`variableScope name '${name}' may only contain letters, digits, '_', '.', '-' and '/'.`);
  }
  const parent = ctx.scope;
  const prefix = name === '' ? parent.prefix : `${parent.prefix}${name}/`;
  ctx.resetCountersUnder(prefix);
  ctx.scopes.push({ prefix, reuse: opts.reuse ?? parent.reuse });
  let result: T;
  try {
    result = fn();
  } catch (e) {
    ctx.scopes.pop();
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => ctx.scopes.pop()) as unknown as T;
  }
  ctx.scopes.pop();
  return result;
}

/**
 * tf.get_variable: a variable named `<scope>/<name>`, created once and reused across steps (and
 * restored from the checkpoint). Default initializer: Glorot uniform. Only inside modelFn.
 * @example const w = getVariable('w', [784, 10], { initializer: initializers.zeros() });
 */
export function getVariable(name: string, shape: number[], opts: GetVariableOptions = {}): tf.Variable {
  const ctx = requireGraph('getVariable');
  const full = ctx.scope.prefix + name;
  const reuse = ctx.scope.reuse;
  if (ctx.usedVariables.has(full) && reuse === false) {
    throw new Error(
      `Variable ${full} was already used in this modelFn call. To share it, wrap the second use in ` +
        `variableScope(scope, fn, {reuse: true}) (or {reuse: 'auto'}); otherwise give the layer a different name.`,
    );
  }
  if (reuse === true && !ctx.store.has(full)) {
    throw new Error(
      `Variable ${full} does not exist, but its variableScope has reuse: true; create it first ` +
        `(call the layer once without reuse) or use reuse: 'auto'.`,
    );
  }
  const firstUse = !ctx.usedVariables.has(full);
  ctx.usedVariables.add(full);
  const variable = ctx.store.getOrCreate(full, shape, opts);
  // TF builds the graph once and its collections hold every variable; modelFn runs on every
  // step here, so each call lists the variables it used, whether created now or restored.
  if (firstUse) {
    ctx.addToCollection(GraphKeys.GLOBAL_VARIABLES, variable, full);
    if (ctx.store.get(full)?.trainable) ctx.addToCollection(GraphKeys.TRAINABLE_VARIABLES, variable, full);
  }
  return variable;
}
