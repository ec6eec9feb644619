// The one step loop of train, evaluate and predict, in the shape of tf.estimator's
// MonitoredTrainingSession: every hook gets begin and afterCreateSession once, beforeRun and
// afterRun around every step (the first included), and end once, with the outcome (done,
// interrupted, failed), in every mode. What differs between the modes (which ops a step runs,
// what it yields) comes in as `build`.
//
// The hooks an EstimatorSpec carries are known only once modelFn has run, on the first batch
// (TensorFlow calls model_fn before any hook begins, too): they begin, and get their first
// beforeRun, between the first modelFn call and the ops of the first step.
import * as tf from '@tensorflow/tfjs';
import type { FetchedValue, Outcome, RunArgs, RunContext, SessionInfo, SessionRunHook } from './hooks/hook';
import { InputBatch, InputFn, InputStream, TensorOrDict, disposeBatch, openInput } from './input';
import type { ModeKey } from './spec';
import { clearInterrupt, isInterruptRequested, KeyboardInterrupt } from '../host/interrupt';
import { abandonStepCollector, fetchRecordingInput, startInputSummaries, stopInputSummaries, takeInputSummaries } from './summary/collect';
import { runAsOwner, startOwnedScope } from '../framework/owned-scope';

export type Call = 'train' | 'evaluate' | 'predict';

/** A step whose modelFn has run; `run` runs its ops and resolves the hooks' fetches. */
export interface BuiltStep<T> {
  /** The hooks of the EstimatorSpec (used from the first step on). */
  readonly specHooks: SessionRunHook[];
  /** args[i] are the requests of hook i (in loop order); returns the fetched values keyed `${i}:${name}`. */
  run(args: RunArgs[]): { globalStep: number; values: Record<string, FetchedValue>; output: T };
  /** Frees what the step holds beyond its engine scope (always called). */
  dispose?(): void;
}

/** F and L: the features and labels types of the Estimator's modelFn, and so of its inputFn. */
export interface RunLoopOptions<T, F extends TensorOrDict = TensorOrDict, L extends TensorOrDict = TensorOrDict> {
  call: Call;
  mode: ModeKey;
  modelDir: string;
  /** Global step when the session starts (restored). */
  globalStep: number;
  /** Hooks before the spec's hooks; `lastHooks` after them (the progress bar, the saver). */
  hooks: SessionRunHook[];
  lastHooks?: SessionRunHook[];
  saveCheckpoint?: () => Promise<string | undefined>;
  inputFn: InputFn<F, L>;
  /** Runs modelFn on a batch (inside the step's engine scope). */
  build(batch: InputBatch<F, L>, globalStep: number): Promise<BuiltStep<T>>;
  /** Awaited before each step, before its engine scope opens (a step graph's check). */
  betweenSteps?(): Promise<void>;
  /** After the last step, before hooks end (may throw: the run then failed). */
  finish?(steps: number): void;
  /** The message of the KeyboardInterrupt thrown after the hooks ended. */
  interruptMessage(globalStep: number, steps: number): string;
}

/** Runs the loop; yields each step's output after its afterRun hooks. */
export async function* runLoop<T, F extends TensorOrDict, L extends TensorOrDict>(
  o: RunLoopOptions<T, F, L>,
): AsyncGenerator<T, void, undefined> {
  let globalStep = o.globalStep;
  let steps = 0;
  const info = (extra?: { outcome: Outcome; error?: unknown }): SessionInfo => ({
    mode: o.mode,
    modelDir: o.modelDir,
    globalStep,
    saveCheckpoint: o.saveCheckpoint,
    ...extra,
  });
  // TensorFlow calls input_fn before any hook begins: an inputFn that throws ends nothing.
  const iterator = await callInputFn(o, o.mode, globalStep);
  const lead = o.hooks;
  const last = o.lastHooks ?? [];
  let spec: SessionRunHook[] | undefined;
  let active = [...lead, ...last];
  const began: SessionRunHook[] = [];
  let outcome: Outcome = 'done';
  let error: unknown;
  startInputSummaries();
  try {
    for (const h of active) {
      began.push(h);
      await h.begin?.(info());
    }
    for (const h of active) await h.afterCreateSession?.(info());
    const breather = new EventLoopYield();
    for (;;) {
      await breather.maybe();
      await o.betweenSteps?.();
      if (isInterruptRequested()) {
        clearInterrupt();
        outcome = 'interrupted';
        break;
      }
      const ctx = new LoopContext(o.mode, o.modelDir, globalStep);
      const args = await beforeRunAll(active, ctx);
      if (ctx.stopRequested) break;
      // The step's scope collects the step's tensors only, not those of a dataset's prefetch
      // running during its awaits (framework/owned-scope.ts).
      const result = await runAsOwner(async (): Promise<ReturnType<BuiltStep<T>['run']> | undefined> => {
        const batch = await fetchBatch(iterator, o, globalStep, steps);
        if (!batch) return undefined;
        let built: BuiltStep<T> | undefined;
        try {
          takeInputSummaries();
          built = await o.build(batch, globalStep);
          if (!spec) {
            spec = built.specHooks;
            if (spec.length) {
              for (const h of spec) {
                began.push(h);
                await h.begin?.(info());
              }
              for (const h of spec) await h.afterCreateSession?.(info());
              args.splice(lead.length, 0, ...(await beforeRunAll(spec, ctx)));
              active = [...lead, ...spec, ...last];
            }
          }
          return built.run(args);
        } finally {
          built?.dispose?.();
          closeStepScope(iterator, batch);
        }
      });
      if (!result) break;
      globalStep = result.globalStep;
      steps += 1;
      const after = new LoopContext(o.mode, o.modelDir, globalStep, ctx);
      await afterRunAll(active, after, args, result.values);
      yield result.output;
      if (after.stopRequested) break;
    }
    if (outcome === 'done') o.finish?.(steps);
  } catch (e) {
    error = e;
    outcome = e instanceof KeyboardInterrupt ? 'interrupted' : 'failed';
  } finally {
    if (outcome !== 'done') abandonStepCollector(); // a failed step leaves its collector open
    stopInputSummaries();
    try {
      await iterator.return?.();
    } catch (e) {
      if (outcome === 'done') error ??= e;
    }
    // end with the outcome; after a failure an end() that throws is ignored (the run's error wins).
    for (const h of began) {
      if (!h.end) continue;
      try {
        await h.end(info({ outcome, error }));
      } catch (e) {
        if (outcome === 'done') {
          error ??= e;
          outcome = 'failed';
        }
      }
    }
  }
  if (error) throw error;
  if (outcome === 'interrupted') throw new KeyboardInterrupt(o.interruptMessage(globalStep, steps));
}

/** Drives a loop that yields nothing of interest (train, evaluate). */
export async function drain(loop: AsyncGenerator<unknown, void, undefined>): Promise<void> {
  for (;;) if ((await loop.next()).done) return;
}

async function callInputFn<F extends TensorOrDict, L extends TensorOrDict>(
  o: RunLoopOptions<unknown, F, L>,
  mode: ModeKey,
  globalStep: number,
): Promise<InputStream<F, L>> {
  try {
    return await openInput(o.inputFn, mode);
  } catch (e) {
    throw withContext(e, `raised by inputFn, called by ${o.call}() in ${mode} mode at global step ${globalStep}`);
  }
}

/**
 * Fetches the next batch and opens the step's engine scope (everything the step allocates is
 * freed when it closes). tf.data keeps buffers across steps (shuffle, prefetch), so its batch
 * is fetched before the scope opens and disposed on its own; a user's iterable is read inside
 * the scope, so tensors a generator makes are freed while tensors the user holds are not.
 */
async function fetchBatch<F extends TensorOrDict, L extends TensorOrDict>(
  iterator: InputStream<F, L>,
  o: RunLoopOptions<unknown, F, L>,
  globalStep: number,
  steps: number,
): Promise<InputBatch<F, L> | undefined> {
  const engine = tf.engine();
  const name = `estimator_${o.mode}_step`;
  const context = (): string =>
    `raised by inputFn's data, fetching batch ${steps + 1} for ${o.call}() in ${o.mode} mode at global step ${globalStep}`;
  if (iterator.ownsBatches) {
    let next: IteratorResult<InputBatch<F, L>>;
    try {
      // The dataset's work runs as its own (openInput), not the step's: what it goes on doing in
      // the background (a prefetch) is not freed with the step.
      next = await fetchRecordingInput(iterator);
    } catch (e) {
      throw withContext(e, context());
    }
    if (next.done) return undefined;
    startOwnedScope(name);
    return next.value;
  }
  startOwnedScope(name);
  try {
    const next = await fetchRecordingInput(iterator);
    if (next.done) {
      engine.endScope();
      return undefined;
    }
    return next.value;
  } catch (e) {
    engine.endScope();
    throw withContext(e, context());
  }
}

function closeStepScope(iterator: InputStream, batch: InputBatch): void {
  tf.engine().endScope();
  if (iterator.ownsBatches) disposeBatch(batch);
}

/** Appends where an error came from to its message (once). */
export function withContext(e: unknown, context: string): Error {
  if (!(e instanceof Error)) return new Error(`${String(e)}\n  (${context})`);
  if (e instanceof KeyboardInterrupt) return e;
  if (!e.message.includes('\n  (raised ')) e.message = `${e.message}\n  (${context})`;
  return e;
}

/** Lets timers and sockets run between steps (a kernel's interrupt and heartbeat), at most every 100 ms. */
class EventLoopYield {
  private last = Date.now();
  async maybe(): Promise<void> {
    if (Date.now() - this.last < 100) return;
    await new Promise<void>((r) => setImmediate(r));
    this.last = Date.now();
  }
}

class LoopContext implements RunContext {
  private stop = false;
  reason?: string;
  constructor(
    readonly mode: ModeKey,
    readonly modelDir: string,
    readonly globalStep: number,
    private readonly parent?: LoopContext,
  ) {}
  requestStop(reason?: string): void {
    this.stop = true;
    this.reason ??= reason;
    this.parent?.requestStop(reason);
  }
  get stopRequested(): boolean {
    return this.stop;
  }
}

async function beforeRunAll(hooks: SessionRunHook[], ctx: RunContext): Promise<RunArgs[]> {
  const out: RunArgs[] = [];
  for (const h of hooks) out.push((h.beforeRun ? await h.beforeRun(ctx) : undefined) ?? {});
  return out;
}

async function afterRunAll(hooks: SessionRunHook[], ctx: RunContext, args: RunArgs[], values: Record<string, FetchedValue>): Promise<void> {
  for (let i = 0; i < hooks.length; i++) {
    const h = hooks[i];
    if (!h.afterRun) continue;
    const wanted = args[i]?.fetches;
    const results: Record<string, FetchedValue> = {};
    if (wanted) for (const k in wanted) if (`${i}:${k}` in values) results[k] = values[`${i}:${k}`];
    await h.afterRun(ctx, { results });
  }
}
