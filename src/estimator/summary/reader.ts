// Reads TensorBoard event files back: for display.scalars/histograms and for tests. A corrupt
// or truncated record ends the file with an error naming it and the offset; what came before
// is kept.
import * as fs from 'fs';
import * as path from 'path';
import { decodeEvent, HistogramValue, TfEvent } from './proto';
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

export interface ScalarPoint {
  step: number;
  wallTime: number;
  value: number;
}

export async function readScalars(dir: string): Promise<Map<string, ScalarPoint[]>> {
  const out = new Map<string, ScalarPoint[]>();
  for (const e of (await readEventsDir(dir)).events) {
    for (const v of e.summary?.value ?? []) {
      if (v.simpleValue === undefined) continue;
      const list = out.get(v.tag) ?? [];
      list.push({ step: e.step, wallTime: e.wallTime, value: v.simpleValue });
      out.set(v.tag, list);
    }
  }
  return out;
}

export type HistogramPoint = { step: number; wallTime: number } & HistogramValue;

export async function readHistograms(dir: string): Promise<Map<string, HistogramPoint[]>> {
  const out = new Map<string, HistogramPoint[]>();
  for (const e of (await readEventsDir(dir)).events) {
    for (const v of e.summary?.value ?? []) {
      if (!v.histo) continue;
      const h = v.histo;
      const list = out.get(v.tag) ?? [];
      list.push({ step: e.step, wallTime: e.wallTime, min: h.min ?? 0, max: h.max ?? 0, num: h.num ?? 0, sum: h.sum ?? 0, sumSquares: h.sumSquares ?? 0, bucketLimit: h.bucketLimit ?? [], bucket: h.bucket ?? [] });
      out.set(v.tag, list);
    }
  }
  return out;
}

export interface ImagePoint {
  step: number;
  wallTime: number;
  width: number;
  height: number;
  png: Uint8Array;
}

export async function readImages(dir: string): Promise<Map<string, ImagePoint[]>> {
  const out = new Map<string, ImagePoint[]>();
  for (const e of (await readEventsDir(dir)).events) {
    for (const v of e.summary?.value ?? []) {
      if (!v.image) continue;
      const list = out.get(v.tag) ?? [];
      list.push({ step: e.step, wallTime: e.wallTime, width: v.image.width, height: v.image.height, png: v.image.encodedImageString });
      out.set(v.tag, list);
    }
  }
  return out;
}
