// summary.scalar / image / histogram, callable anywhere in modelFn or inputFn, in any mode.
// They record into the active SummaryCollector (the SummarySaverHook opens one for each step
// at which a summary is due) and do nothing otherwise — not even read the tensor. Values are
// read at once (dataSync), so no tensor outlives the step.
import * as tf from '@tensorflow/tfjs';
import { info } from '../../host/log';
import { histogramOf } from './histogram';
import { imageValues, ImageOptions } from './image';
import type { SummaryValue } from '../../events/proto';
import { inModelFnCall } from '../../framework/graph';

// Older imports took histogramOf from here.
export { histogramOf };

/** The summaries recorded during one step (or one evaluation batch). */
export class SummaryCollector {
  private readonly byTag = new Map<string, SummaryValue>();
  /** summary.scalar values by tag, for hooks that fetch them by name. */
  readonly scalars = new Map<string, number>();

  /** A tag recorded twice in one step keeps its first position and its last value (a
   *  summary in a per-example dataset map fn would otherwise add one tag per example). */
  add(value: SummaryValue): void {
    this.byTag.set(value.tag, value);
    if (value.simpleValue !== undefined) this.scalars.set(value.tag, value.simpleValue);
    else this.scalars.delete(value.tag);
  }

  /** Everything recorded, in first-recorded order. */
  get values(): SummaryValue[] {
    return [...this.byTag.values()];
  }

  get size(): number {
    return this.byTag.size;
  }
}

let active: SummaryCollector | undefined;

/** Make `c` receive the summaries recorded from now on (undefined: record nothing). */
export function setActiveCollector(c: SummaryCollector | undefined): void {
  active = c;
}

export function activeCollector(): SummaryCollector | undefined {
  return active;
}

/** Runs fn with `c` active, restoring the previous collector afterwards (also on error). */
export function withCollector<T>(c: SummaryCollector, fn: () => T): T {
  const previous = active;
  active = c;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    active = previous;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      active = previous;
    }) as T;
  }
  active = previous;
  return result;
}

/** The collector of the step now running, shared by every hook that wants this step's summaries. */
let stepSession: { step: number; collector: SummaryCollector; holders: number } | undefined;

/**
 * Called by a hook's beforeRun when it wants the summaries of the step about to run (global
 * step `step` before it runs): opens that step's collector and makes it active, or joins it
 * when another hook already opened it. Pair with leaveStepCollector in afterRun.
 */
export function joinStepCollector(step: number): SummaryCollector {
  if (stepSession && stepSession.step === step && active === stepSession.collector) {
    stepSession.holders += 1;
    return stepSession.collector;
  }
  stepSession = { step, collector: new SummaryCollector(), holders: 1 };
  active = stepSession.collector;
  return stepSession.collector;
}

/** The last hook to leave a step's collector deactivates it. */
export function leaveStepCollector(c: SummaryCollector): void {
  if (!stepSession || stepSession.collector !== c) {
    if (active === c) active = undefined;
    return;
  }
  stepSession.holders -= 1;
  if (stepSession.holders <= 0) {
    stepSession = undefined;
    if (active === c) active = undefined;
  }
}

/** Drops a collector left open by a step that failed (hooks call it in begin, before any step). */
export function abandonStepCollector(): void {
  if (stepSession && active === stepSession.collector) active = undefined;
  stepSession = undefined;
}

/**
 * Summaries the input pipeline records (a summary.image in a dataset's map function) run while
 * the loop fetches a batch, or ahead of it when the dataset prefetches, when no step collector
 * is open. While a loop runs they are kept here, tensors cloned (no copy of the data), and
 * replayed into the collector of the step that consumes the next batch, or dropped when that
 * step records no summaries. Pipelines without summaries pay nothing.
 */
interface DeferredSummary {
  kind: 'scalar' | 'image' | 'histogram';
  name: string;
  value: tf.Tensor | number | number[];
  opts?: ImageOptions;
}
let inputLog: DeferredSummary[] | undefined;

/** The run loop calls this when it starts: input-pipeline summaries are kept from now on. */
export function startInputSummaries(): void {
  dropInputSummaries();
  inputLog = [];
}

/** The run loop calls this when it ends. */
export function stopInputSummaries(): void {
  dropInputSummaries();
  inputLog = undefined;
}

function dropInputSummaries(): void {
  for (const d of inputLog ?? []) if (d.value instanceof tf.Tensor) d.value.dispose();
  if (inputLog) inputLog.length = 0;
}

/** Fetches the next batch with summaries going to the input log, not to the step's collector. */
export async function fetchRecordingInput<T>(iterator: { next(): Promise<T> }): Promise<T> {
  if (!inputLog) return iterator.next();
  const step = active;
  active = undefined;
  try {
    return await iterator.next();
  } finally {
    active = step;
  }
}

/** After a batch was fetched: the input summaries recorded since the previous batch go into the
 *  step's collector when it records summaries, and are dropped otherwise. */
export function takeInputSummaries(): void {
  if (!inputLog || inputLog.length === 0) return;
  const target = active;
  if (target) {
    const pending = inputLog;
    inputLog = [];
    try {
      for (const d of pending) {
        if (d.kind === 'scalar') scalar(d.name, d.value as tf.Tensor | number);
        else if (d.kind === 'image') image(d.name, d.value as tf.Tensor, d.opts);
        else histogram(d.name, d.value as tf.Tensor | number[]);
      }
    } finally {
      for (const d of pending) if (d.value instanceof tf.Tensor) d.value.dispose();
    }
    return;
  }
  dropInputSummaries();
}

/** Keeps a summary call made outside any step collector while a loop runs; true if kept. */
function deferInput(kind: DeferredSummary['kind'], name: string, value: unknown, opts?: ImageOptions): boolean {
  // modelFn's own summaries at a step that records none are not input summaries.
  if (!inputLog || inModelFnCall()) return false;
  let kept: DeferredSummary['value'];
  if (value instanceof tf.Tensor) kept = tf.keep(tf.clone(value));
  else if (typeof value === 'number') kept = value;
  else if (value != null && typeof (value as ArrayLike<number>).length === 'number') kept = Array.from(value as ArrayLike<number>);
  else return false; // invalid: reported when called where it is recorded
  inputLog.push({ kind, name, value: kept, opts });
  return true;
}

const warnedNames = new Set<string>();

function checkName(fn: string, name: unknown): void {
  if (typeof name !== 'string' || !name) throw new Error(`summary.${fn}(name, ...): name must be a non-empty string, got ${String(name)}.`);
}

/** TF's clean_tag: characters other than letters, digits, _ - . / become _, leading / dropped. */
function tagOf(fn: string, name: string): string {
  const clean = name.replace(/[^-/\p{L}\p{N}_.]/gu, '_').replace(/^\/+/, '');
  if (clean !== name && !warnedNames.has(name)) {
    warnedNames.add(name);
    info(`Summary name ${name} is illegal; using ${clean} instead.`);
  }
  if (!clean) throw new Error(`summary.${fn}('${name}'): the name has no usable characters (letters, digits, _ - . /).`);
  return clean;
}

/** A scalar: a number, or a tensor holding exactly one value. */
export function scalar(name: string, value: tf.Tensor | number): void {
  checkName('scalar', name);
  if (!active) {
    deferInput('scalar', name, value);
    return;
  }
  const tag = tagOf('scalar', name);
  let v: number;
  if (typeof value === 'number') v = value;
  else if (value instanceof tf.Tensor) {
    if (value.size !== 1)
      throw new Error(`summary.scalar('${name}'): needs one value, got shape [${value.shape}]; reduce it first (tf.mean).`);
    if (value.dtype === 'string' || value.dtype === 'complex64')
      throw new Error(`summary.scalar('${name}'): needs a numeric tensor, got ${value.dtype}.`);
    v = value.dataSync()[0] as number;
  } else throw new Error(`summary.scalar('${name}', value): value must be a number or a tf.Tensor, got ${typeof value}.`);
  active.add({ tag, simpleValue: v });
}

/** Up to maxOutputs (default 3) images of an NHWC batch: 1, 3 or 4 channels, float32 in [0, 1] or int32 in 0..255. */
export function image(name: string, images: tf.Tensor, opts: ImageOptions = {}): void {
  checkName('image', name);
  if (!active) {
    deferInput('image', name, images, opts);
    return;
  }
  const tag = tagOf('image', name);
  for (const v of imageValues(tag, images, opts)) active.add(v);
}

/** The distribution of all values of a tensor (or array), with TF's default exponential buckets. */
export function histogram(name: string, values: tf.Tensor | ArrayLike<number>): void {
  checkName('histogram', name);
  if (!active) {
    deferInput('histogram', name, values);
    return;
  }
  const tag = tagOf('histogram', name);
  let data: ArrayLike<number>;
  if (values instanceof tf.Tensor) {
    if (values.dtype === 'string' || values.dtype === 'complex64')
      throw new Error(`summary.histogram('${name}'): needs a numeric tensor, got ${values.dtype}.`);
    data = values.dataSync() as ArrayLike<number>;
  } else if (values != null && typeof (values as ArrayLike<number>).length === 'number') data = values;
  else throw new Error(`summary.histogram('${name}', values): values must be a tf.Tensor or an array of numbers.`);
  active.add({ tag, histo: histogramOf(data, tag) });
}
