// Reads TensorBoard event files back: for display.scalars/histograms and for tests. A corrupt
// or truncated record ends the file with an error naming it and the offset; what came before
// is kept.
import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent, HistogramValue, SummaryValue, TfEvent } from './proto';
import { unframe } from './tfrecord';

export type { TfEvent };

export async function readEventFile(file: string): Promise<{ events: TfEvent[]; error?: Error }> {
  const buf = await fs.promises.readFile(file);
  const { records, error } = unframe(buf);
  const events: TfEvent[] = [];
  for (const r of records) {
    try {
      events.push(decodeEvent(r));
    } catch (e) {
      return { events, error: new Error(`${file}: undecodable event after ${events.length} events: ${(e as Error).message}`) };
    }
  }
  return { events, error: error ? new Error(`${file}: corrupt record at byte ${error.offset} (${error.reason}); ${events.length} earlier events were read.`) : undefined };
}

export function eventFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((n) => n.startsWith('events.out.tfevents.')).sort().map((n) => path.join(dir, n));
}

export async function readEventsDir(dir: string): Promise<{ events: TfEvent[]; errors: Error[] }> {
  const events: TfEvent[] = [];
  const errors: Error[] = [];
  for (const f of eventFiles(dir)) {
    const r = await readEventFile(f);
    events.push(...r.events);
    if (r.error) errors.push(r.error);
  }
  events.sort((a, b) => a.step - b.step || a.wallTime - b.wallTime);
  return { events, errors };
}

/** Every value of every event in dir that `pick` accepts, grouped by tag, in step order. */
async function collectByTag<T extends object>(dir: string, pick: (v: SummaryValue) => T | undefined): Promise<Map<string, Array<{ step: number; wallTime: number } & T>>> {
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

export type ScalarPoint = { step: number; wallTime: number; value: number };
export type HistogramPoint = { step: number; wallTime: number } & HistogramValue;
export type ImagePoint = { step: number; wallTime: number; width: number; height: number; png: Uint8Array };

export function readScalars(dir: string): Promise<Map<string, ScalarPoint[]>> {
  return collectByTag(dir, (v) => (v.simpleValue === undefined ? undefined : { value: v.simpleValue }));
}

export function readHistograms(dir: string): Promise<Map<string, HistogramPoint[]>> {
  return collectByTag(dir, ({ histo: h }) =>
    h ? { min: h.min ?? 0, max: h.max ?? 0, num: h.num ?? 0, sum: h.sum ?? 0, sumSquares: h.sumSquares ?? 0, bucketLimit: h.bucketLimit ?? [], bucket: h.bucket ?? [] } : undefined,
  );
}

export function readImages(dir: string): Promise<Map<string, ImagePoint[]>> {
  return collectByTag(dir, ({ image: i }) => (i ? { width: i.width, height: i.height, png: i.encodedImageString } : undefined));
}
