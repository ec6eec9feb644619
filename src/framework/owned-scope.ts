// Engine scopes that belong to one piece of asynchronous work. tfjs keeps one global stack of
// scopes, and a tensor is tracked by whichever scope is open when it is made. A scope held open
// across an await (a training step awaiting its batch, an async modelFn) also collects the
// tensors of any other work that runs meanwhile, and frees them when it ends: tf.data's
// prefetch filling its buffer in the background then finds its next batch disposed ("Cannot
// read properties of undefined (reading 'backend')" at the second step). An owned scope tracks
// only the tensors made by its own work, told apart by Node's AsyncLocalStorage; what other
// work makes while it is open is left to no scope, as if none were open. Work can also be asked
// to remember the tensors it makes (a dataset's, to free what its abandoned iterator holds).
import { AsyncLocalStorage } from 'async_hooks';
import * as tf from '@tensorflow/tfjs';

/** A scope's record in tfjs's engine (internal, present in 4.x). */
interface EngineScope {
  track: tf.Tensor[];
}
interface TrackingEngine {
  state: { activeScope: EngineScope | null };
  startScope(name: string): void;
  track<T extends tf.Tensor>(t: T): T;
}

/** The piece of work running now (an owner's, a remembering one's), or undefined: no one's. */
const work = new AsyncLocalStorage<object>();
/** By engine scope: the work it belongs to. */
const owners = new WeakMap<EngineScope, object>();
const patched = new WeakSet<object>();

function engine(): TrackingEngine {
  return tf.engine() as unknown as TrackingEngine;
}

/** Wraps the engine's track() once: a tensor made by other work skips an owned scope. */
function ensurePatched(): void {
  const e = engine();
  if (patched.has(e)) return;
  patched.add(e);
  const track = e.track;
  e.track = function <T extends tf.Tensor>(this: TrackingEngine, t: T): T {
    const now = work.getStore();
    if (now instanceof RememberingWork) now.note(t);
    const scope = this.state.activeScope;
    const owner = scope ? owners.get(scope) : undefined;
    if (owner !== undefined && now !== owner) return t;
    return track.call(this, t) as T;
  };
}

/** Runs fn as its own piece of work: scopes it opens with startOwnedScope are its alone. */
export function runAsOwner<T>(fn: () => T): T {
  ensurePatched();
  return work.run({}, fn);
}

/** tf.engine().startScope, the scope owned by the current work (runAsOwner); end it with tf.engine().endScope. */
export function startOwnedScope(name: string): void {
  const e = engine();
  e.startScope(name);
  const owner = work.getStore();
  const scope = e.state.activeScope;
  if (owner !== undefined && scope) owners.set(scope, owner);
}

/** Work that remembers (weakly) the tensors it makes: a dataset's, run through run(). */
export class RememberingWork {
  private readonly made = new WeakSet<tf.Tensor>();

  constructor() {
    ensurePatched();
  }

  /** Runs fn, and whatever it starts (a prefetch going on after it returns), as this work. */
  run<T>(fn: () => T): T {
    return work.run(this, fn);
  }

  /** Called by the engine's wrapped track() for a tensor made while this work runs. */
  note(t: tf.Tensor): void {
    this.made.add(t);
  }

  /** Whether this work made t. */
  madeIt(t: tf.Tensor): boolean {
    return this.made.has(t);
  }
}
