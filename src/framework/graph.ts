// The eager stand-in for a TF1 graph: one GraphContext is active while the Estimator runs
// modelFn. It owns the name counters (conv2d, conv2d_1, ...) that restart on every modelFn
// call, the variable-scope stack, and the collections (UPDATE_OPS). Variables themselves live
// in the longer-lived VariableStore, so the second call of modelFn reuses the first call's.
import type { VariableStore } from './variables';
import type { ModeKey } from './mode';

/** Standard collection names (tf.GraphKeys) for getCollection. */
export const GraphKeys = {
  /** Deferred updates to run with the train op: batch-norm moving averages. */
  UPDATE_OPS: 'update_ops',
  /** Every variable created by getVariable in this modelFn call. */
  GLOBAL_VARIABLES: 'variables',
  /** The variables optimizers train by default. */
  TRAINABLE_VARIABLES: 'trainable_variables',
  /** For losses a modelFn adds itself; the losses.* functions do not add to it. */
  LOSSES: 'losses',
} as const;

/** An eager op deferred to the end of the step (batch-norm moving averages). Runs at most once. */
export class UpdateOp {
  private done = false;
  /** @param name the op's name (its variable scope). */
  constructor(
    readonly name: string,
    private readonly fn: () => void,
    private readonly cleanup?: () => void,
  ) {}
  /** Runs the update, unless it already ran. */
  run(): void {
    if (this.done) return;
    this.done = true;
    this.fn();
    this.cleanup?.();
  }
  /** Frees what the op holds without running it (the step failed before it ran). */
  discard(): void {
    if (this.done) return;
    this.done = true;
    this.cleanup?.();
  }
  /** Whether it ran (or was discarded). */
  get hasRun(): boolean {
    return this.done;
  }
}

export interface ScopeFrame {
  /** Full prefix, e.g. 'generator/' ('' at top level). */
  prefix: string;
  reuse: boolean | 'auto';
}

export class GraphContext {
  private readonly counters = new Map<string, number>();
  private readonly collections = new Map<string, Array<{ value: unknown; name?: string }>>();
  readonly scopes: ScopeFrame[] = [{ prefix: '', reuse: false }];
  /** Full names of variables requested during this call (to catch accidental sharing). */
  readonly usedVariables = new Set<string>();
  private randomOps = 0;

  constructor(
    readonly store: VariableStore,
    readonly mode: ModeKey,
    /** The run's settings this layer reads (RunConfig's randomSeed). */
    readonly config: { readonly randomSeed?: number },
    private readonly stepValue: number,
  ) {}

  /** Set when modelFn used the step number as a JavaScript value (a decayed rate, a random op's
   *  seed): such a step differs from the next in ways a recorded step cannot see, so it is never
   *  replayed. */
  usedStepValue = false;

  /** The global step this modelFn call runs at. */
  get globalStepValue(): number {
    this.usedStepValue = true;
    return this.stepValue;
  }

  get scope(): ScopeFrame {
    return this.scopes[this.scopes.length - 1];
  }

  /** TF1-style unique name within the current scope: base, base_1, base_2, ... */
  uniqueName(base: string): string {
    const key = this.scope.prefix + base;
    const n = this.counters.get(key) ?? 0;
    this.counters.set(key, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  /** Entering a scope restarts the counters below it, so a reused scope yields the same names. */
  resetCountersUnder(prefix: string): void {
    for (const key of [...this.counters.keys()]) {
      if (key.startsWith(prefix)) this.counters.delete(key);
    }
  }

  /** Adds value to a collection; `name` (a variable's full name) lets getCollection filter by scope. */
  addToCollection(key: string, value: unknown, name?: string): void {
    const list = this.collections.get(key) ?? [];
    list.push({ value, name });
    this.collections.set(key, list);
  }

  /** The collection's items in insertion order; with `scope`, only those whose name matches it
   *  from the start (a regular expression, as tf.get_collection's scope). */
  getCollection<T = unknown>(key: string, scope?: string): T[] {
    const items = this.collections.get(key) ?? [];
    const re = scope === undefined ? undefined : new RegExp(`^(?:${scope})`);
    return items.filter((i) => !re || (i.name !== undefined && re.test(i.name))).map((i) => i.value as T);
  }

  /** A seed for the n-th random op of this step, derived from the run's seed (or undefined). */
  nextOpSeed(): number | undefined {
    const seed = this.config.randomSeed;
    this.randomOps += 1;
    this.usedStepValue = true;
    if (seed === undefined) return undefined;
    return hashSeed(seed, `op:${this.stepValue}:${this.randomOps}`);
  }
}

let active: GraphContext | undefined;

export function activeGraph(): GraphContext | undefined {
  return active;
}

export function requireGraph(what: string): GraphContext {
  if (!active) {
    throw new Error(
      `${what} can only be called inside modelFn while an Estimator runs it ` +
        `(train/evaluate/predict), where variables are created and reused.`,
    );
  }
  return active;
}

/** Runs fn with ctx active. Only one modelFn runs at a time in a process. */
export async function withGraph<T>(ctx: GraphContext, fn: () => T | Promise<T>): Promise<T> {
  if (active) {
    throw new Error('An Estimator is already running modelFn in this process; run train/evaluate/predict one at a time (await each call).');
  }
  active = ctx;
  try {
    let result: T | Promise<T>;
    inSyncCall = true;
    try {
      result = fn();
    } finally {
      inSyncCall = false;
    }
    return await result;
  } finally {
    active = undefined;
  }
}

let inSyncCall = false;

/** True while modelFn's synchronous part runs (not while it awaits: then a prefetching input
 *  pipeline's callbacks may run). */
export function inModelFnCall(): boolean {
  return inSyncCall;
}

/** Deterministic 31-bit hash of (seed, name): seeds per variable do not depend on creation order. */
export function hashSeed(seed: number, name: string): number {
  let h = 2166136261;
  const s = `${seed}:${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 1) % 2147483647;
}

/** Collections of the modelFn call in progress (tf.get_collection), optionally by scope regex. */
export function getCollection<T = unknown>(key: string, scope?: string): T[] {
  return requireGraph('getCollection').getCollection<T>(key, scope);
}
