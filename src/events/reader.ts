// Reads TensorBoard event files back, for display.scalars/histograms and for tests. A damaged
// record (bad checksum, truncated, undecodable) ends its file with an Error naming the file and
// the byte offset; the events before it are kept. Reading never throws for damaged files.
import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent, HistogramValue, SessionStatus, SummaryValue, TensorValue, TfEvent } from './proto';
import { unframe } from './tfrecord';

export type { TfEvent, SummaryValue, HistogramValue };

/**
 * Reads one TensorBoard event file. A corrupt or truncated tail is not thrown: the events
 * before it are returned with `error` saying where reading stopped.
 */
export async function readEventFile(file: string): Promise<{ events: TfEvent[]; error?: Error }> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    return { events: [], error: new Error(`${file}: cannot read the event file: ${(e as Error).message}`) };
  }
  const { records, offsets, error } = unframe(buf);
  const events: TfEvent[] = [];
  for (let i = 0; i < records.length; i++) {
    try {
      events.push(decodeEvent(records[i]));
    } catch (e) {
      return {
        events,
        error: new Error(
          `${file}: undecodable Event in the record at byte ${offsets[i]} (${(e as Error).message}); the ${events.length} events before it were read.`,
        ),
      };
    }
  }
  if (!error) return { events };
  return {
    events,
    error: new Error(
      `${file}: corrupt record at byte ${error.offset} of ${buf.length} (${error.reason}); the ${events.length} events before it were read, the rest of the file was skipped.`,
    ),
  };
}

/** The event files directly in dir, oldest first (by the timestamp in their names). */
export function eventFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const stamp = (n: string): number => Number(/tfevents\.(\d+)/.exec(n)?.[1] ?? 0);
  return names
    .filter((n) => n.startsWith('events.out.tfevents.'))
    .sort((a, b) => stamp(a) - stamp(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => path.join(dir, n));
}

/** Options of readEventsDir. */
export interface ReadEventsOptions {
  /** As TensorBoard: a SessionLog START at step s (a run resumed from a checkpoint) drops the
   *  events written earlier at steps >= s, which a crashed run wrote and the new run redoes. Default true. */
  purgeOrphaned?: boolean;
}

/** Every event of every event file directly in dir, in step order (wall time within a step). */
export async function readEventsDir(dir: string, opts: ReadEventsOptions = {}): Promise<{ events: TfEvent[]; errors: Error[] }> {
  let events: TfEvent[] = [];
  const errors: Error[] = [];
  for (const f of eventFiles(dir)) {
    const r = await readEventFile(f);
    for (const e of r.events) {
      if ((opts.purgeOrphaned ?? true) && e.sessionLog?.status === SessionStatus.START) events = events.filter((x) => x.step < e.step);
      events.push(e);
    }
    if (r.error) errors.push(r.error);
  }
  events.sort((a, b) => a.step - b.step || a.wallTime - b.wallTime);
  return { events, errors };
}

/** Every value of every event in dir that `pick` accepts, grouped by tag, in step order. */
async function collectByTag<T extends object>(
  dir: string,
  pick: (v: SummaryValue) => T | undefined,
): Promise<Map<string, Array<{ step: number; wallTime: number } & T>>> {
  const out = new Map<string, Array<{ step: number; wallTime: number } & T>>();
  for (const e of (await readEventsDir(dir)).events) {
    for (const v of e.summary?.value ?? []) {
      const picked = pick(v);
      if (!picked) continue;
      const list = out.get(v.tag) ?? [];
      list.push({ step: e.step, wallTime: e.wallTime, ...picked });
      out.set(v.tag, list);
    }
  }
  return out;
}

/** One value of a scalar summary: its step, wall time (seconds since the epoch) and value. */
export type ScalarPoint = { step: number; wallTime: number; value: number };
/** One histogram summary: its step, wall time and buckets. */
export type HistogramPoint = { step: number; wallTime: number } & HistogramValue;
/** One image summary: its step, wall time, size, colorspace (1 grey ... 4 RGBA) and PNG bytes. */
export type ImagePoint = { step: number; wallTime: number; width: number; height: number; colorspace: number; png: Uint8Array };

const DT_FLOAT = 1;
const DT_DOUBLE = 2;

/** A TF2-style scalar: a one-element float or double tensor (tf.summary.scalar in TF 2). */
function tensorScalar(t: TensorValue): number | undefined {
  if (t.dtype === DT_FLOAT) {
    if (t.floatVal?.length === 1) return t.floatVal[0];
    if (t.tensorContent?.length === 4) return Buffer.from(t.tensorContent).readFloatLE(0);
  }
  if (t.dtype === DT_DOUBLE) {
    if (t.doubleVal?.length === 1) return t.doubleVal[0];
    if (t.tensorContent?.length === 8) return Buffer.from(t.tensorContent).readDoubleLE(0);
  }
  return undefined;
}

/** Scalars by tag: simple_value summaries, and TF 2's one-element float tensors. */
export function readScalars(dir: string): Promise<Map<string, ScalarPoint[]>> {
  return collectByTag(dir, (v) => {
    if (v.simpleValue !== undefined) return { value: v.simpleValue };
    const plugin = v.metadata?.pluginData?.pluginName;
    const value = v.tensor && (plugin === undefined || plugin === 'scalars') ? tensorScalar(v.tensor) : undefined;
    return value === undefined ? undefined : { value };
  });
}

/** Histograms by tag (summary.histogram), in step order. */
export function readHistograms(dir: string): Promise<Map<string, HistogramPoint[]>> {
  return collectByTag(dir, ({ histo: h }) =>
    h
      ? {
          min: h.min ?? 0,
          max: h.max ?? 0,
          num: h.num ?? 0,
          sum: h.sum ?? 0,
          sumSquares: h.sumSquares ?? 0,
          bucketLimit: h.bucketLimit ?? [],
          bucket: h.bucket ?? [],
        }
      : undefined,
  );
}

/** Images by tag (tf.summary.image names them <name>/image or <name>/image/<i>), PNG bytes. */
export function readImages(dir: string): Promise<Map<string, ImagePoint[]>> {
  return collectByTag(dir, ({ image: i }) =>
    i
      ? { width: i.width ?? 0, height: i.height ?? 0, colorspace: i.colorspace ?? 0, png: i.encodedImageString ?? new Uint8Array(0) }
      : undefined,
  );
}
