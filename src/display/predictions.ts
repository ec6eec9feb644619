// display.predictions: the article's "for p in estimator.predict(...)" loop as one call: a
// gallery of inputs with the predicted class, probability bars, the true label and mistakes.
import { markBundle } from './bundle';
import { escapeHtml } from './html';
import { ImageInput, Pixels, toPixels, toPixelsList } from './image-data';
import { autoScale, gridPixels, pngBase64, pngDataUrl, Rgb, scalePixels } from './png';
import type { MimeBundle } from '../host/sink';
import { NestedNumbers, NumericInput, readValues } from './values';

/** One field of a prediction record, as `est.predict` yields them. */
export type PredictionField = number | string | ArrayLike<number> | NestedNumbers;

/** A prediction: a record such as {classes: 7, probabilities: Float32Array(10)}, or a bare value
 * (a class id, or probabilities). */
export type PredictionRecord = Record<string, PredictionField> | number | ArrayLike<number> | NestedNumbers;

export interface PredictionsOptions {
  /** True labels, one per example (ids, or one-hot rows). */
  labels?: NumericInput;
  /** Input images, one per example (batch tensor NHWC / NHW, or a list). */
  images?: ImageInput | ImageInput[];
  /** Examples to show (default 16); an async generator is not read further. */
  limit?: number;
  classNames?: string[];
  /** Record key holding the input image (default: 'image' or 'images' when present). */
  imageKey?: string;
  /** Record key holding probabilities (default 'probabilities', then 'probs'; 'logits' get a softmax). */
  probabilitiesKey?: string;
  /** Record key holding the predicted class (default 'classes', then 'class_ids'; else argmax). */
  classesKey?: string;
  /** Shape of one image when images are flat, e.g. [28, 28]. */
  imageShape?: number[];
  /** Bars drawn per example (default: all classes up to 10, else the top 5). */
  topK?: number;
  title?: string;
  displayId?: string;
}

export interface PredictedExample {
  index: number;
  predicted: number;
  probabilities?: number[];
  label?: number;
  image?: Pixels;
}

const RED: Rgb = [217, 83, 79];
const GREEN: Rgb = [92, 184, 92];

export async function predictionsBundle(
  predictions: Iterable<PredictionRecord> | AsyncIterable<PredictionRecord>,
  opts: PredictionsOptions = {},
): Promise<MimeBundle> {
  const limit = opts.limit ?? 16;
  const records: PredictionRecord[] = [];
  if (limit > 0) {
    // Leaving the loop early calls the generator's return(): est.predict cleans up its tensors.
    for await (const p of predictions as AsyncIterable<PredictionRecord>) {
      records.push(p);
      if (records.length >= limit) break;
    }
  }
  const labels = opts.labels === undefined ? undefined : readLabels(opts.labels);
  const images =
    opts.images === undefined ? undefined : toPixelsList(opts.images, { shape: opts.imageShape, limit: records.length }).images;
  const examples = records.map((r, i) => toExample(r, i, opts, labels?.[i], images?.[i]));
  return markBundle(galleryBundle(examples, opts));
}

function readLabels(input: NumericInput): number[] {
  const flat = readValues(input, 'labels');
  const s = flat.shape;
  if (s.length === 2 && s[1] > 1) {
    // One-hot (or probability) rows: the label is the argmax of each row.
    const out: number[] = [];
    for (let r = 0; r < s[0]; r++) out.push(argmax(Array.from({ length: s[1] }, (_, c) => flat.values[r * s[1] + c])));
    return out;
  }
  return Array.from(flat.values, Math.round);
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function numbersOf(v: PredictionField, what: string): number[] {
  if (typeof v === 'number') return [v];
  if (typeof v === 'string') throw new TypeError(`display.predictions: ${what} is a string; expected numbers`);
  return Array.from(readValues(v as NumericInput, what).values);
}

function pick(record: Record<string, PredictionField>, keys: string[]): [string, PredictionField] | undefined {
  for (const k of keys) if (k in record && record[k] !== undefined) return [k, record[k]];
  return undefined;
}

function toExample(
  r: PredictionRecord,
  index: number,
  opts: PredictionsOptions,
  label: number | undefined,
  image: Pixels | undefined,
): PredictedExample {
  if (typeof r === 'number') return { index, predicted: Math.round(r), label, image };
  if (ArrayBuffer.isView(r) || Array.isArray(r)) {
    const probs = Array.from(readValues(r as NumericInput, 'prediction').values);
    return { index, predicted: argmax(probs), probabilities: probs, label, image };
  }
  const rec = r as Record<string, PredictionField>;
  const probKeys = opts.probabilitiesKey ? [opts.probabilitiesKey] : ['probabilities', 'probs', 'logits'];
  const probEntry = pick(rec, probKeys);
  let probabilities: number[] | undefined;
  if (probEntry) {
    const raw = numbersOf(probEntry[1], probEntry[0]);
    probabilities = probEntry[0] === 'logits' ? softmax(raw) : raw;
  }
  const classEntry = pick(rec, opts.classesKey ? [opts.classesKey] : ['classes', 'class_ids', 'class', 'predictions']);
  let predicted: number;
  if (classEntry) predicted = Math.round(numbersOf(classEntry[1], classEntry[0])[0]);
  else if (probabilities) predicted = argmax(probabilities);
  else {
    throw new TypeError(
      `display.predictions: prediction ${index} has neither classes nor probabilities (keys: ${Object.keys(rec).join(', ')}); pass classesKey or probabilitiesKey`,
    );
  }
  let img = image;
  const imageEntry = pick(rec, opts.imageKey ? [opts.imageKey] : ['image', 'images']);
  if (!img && imageEntry) img = toPixels(imageEntry[1] as ImageInput, { shape: opts.imageShape });
  if (opts.imageKey && !imageEntry)
    throw new TypeError(`display.predictions: prediction ${index} has no key '${opts.imageKey}' (keys: ${Object.keys(rec).join(', ')})`);
  return { index, predicted, probabilities, label, image: img };
}

function galleryBundle(examples: PredictedExample[], opts: PredictionsOptions): MimeBundle {
  const name = (c: number): string => opts.classNames?.[c] ?? String(c);
  const known = examples.filter((e) => e.label !== undefined);
  const correct = known.filter((e) => e.label === e.predicted).length;
  const title = opts.title ?? 'Predictions';
  const score = known.length ? `, ${correct}/${known.length} correct (${((correct / known.length) * 100).toFixed(1)}%)` : '';
  const head = `${title}: ${examples.length} example${examples.length === 1 ? '' : 's'}${score}`;

  const bundle: MimeBundle = {};
  bundle['text/html'] = galleryHtml(examples, head, name, opts.topK);
  const withImages = examples.filter((e) => e.image);
  if (withImages.length === examples.length && examples.length > 0) {
    const scale = autoScale(examples[0].image as Pixels);
    const borders = examples.map((e) => (e.label === undefined ? undefined : e.label === e.predicted ? GREEN : RED));
    const { pixels } = gridPixels(
      examples.map((e) => scalePixels(e.image as Pixels, scale)),
      { cols: Math.min(8, examples.length), pad: 3, borders },
    );
    bundle['image/png'] = pngBase64(pixels);
  }
  bundle['text/plain'] = textTable(examples, head, name);
  return bundle;
}

function textTable(examples: PredictedExample[], head: string, name: (c: number) => string): string {
  const rows = [['#', 'predicted', 'p', 'true', '']];
  for (const e of examples) {
    const p = e.probabilities?.[e.predicted];
    const mark = e.label === undefined ? '' : e.label === e.predicted ? 'ok' : 'MISTAKE';
    rows.push([String(e.index), name(e.predicted), p === undefined ? '' : p.toFixed(3), e.label === undefined ? '' : name(e.label), mark]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return [
    head,
    ...rows.map((r) =>
      r
        .map((v, c) => v.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    ),
  ].join('\n');
}

function barsHtml(e: PredictedExample, name: (c: number) => string, topK: number | undefined): string {
  const probs = e.probabilities;
  if (!probs) return '';
  const k = topK ?? (probs.length <= 10 ? probs.length : 5);
  let classes = probs.map((_, i) => i);
  if (k < probs.length) {
    classes = classes.sort((a, b) => probs[b] - probs[a]).slice(0, k);
    if (e.label !== undefined && !classes.includes(e.label)) classes.push(e.label);
  }
  return classes
    .map((c) => {
      const p = Math.max(0, Math.min(1, probs[c]));
      const colour =
        c === e.predicted
          ? e.label === undefined
            ? '#337ab7'
            : e.label === c
              ? '#5cb85c'
              : '#d9534f'
          : c === e.label
            ? '#5cb85c'
            : '#bbb';
      const weight = c === e.predicted || c === e.label ? 'bold' : 'normal';
      return (
        `<div style="display:flex;align-items:center;gap:4px;height:11px;font-size:10px">` +
        `<span style="width:34px;text-align:right;font-weight:${weight};overflow:hidden;white-space:nowrap">${escapeHtml(name(c))}</span>` +
        `<span style="flex:1;background:#eee;height:7px;border-radius:2px;overflow:hidden"><span style="display:block;width:${(p * 100).toFixed(1)}%;height:100%;background:${colour}"></span></span>` +
        `<span style="width:30px;color:#555">${(probs[c] * 100).toFixed(0)}%</span></div>`
      );
    })
    .join('');
}

function galleryHtml(examples: PredictedExample[], head: string, name: (c: number) => string, topK: number | undefined): string {
  const cards = examples.map((e) => {
    const wrong = e.label !== undefined && e.label !== e.predicted;
    const border = e.label === undefined ? '#ccc' : wrong ? '#d9534f' : '#5cb85c';
    const bg = wrong ? '#fdf0f0' : '#fff';
    let img = '';
    if (e.image) {
      const scaled = scalePixels(e.image, autoScale(e.image));
      img = `<img src="${pngDataUrl(scaled)}" width="${scaled.width}" height="${scaled.height}" alt="example ${e.index}" style="image-rendering:pixelated;display:block;margin:0 auto 4px">`;
    }
    const p = e.probabilities?.[e.predicted];
    const truth =
      e.label === undefined
        ? ''
        : `<div style="color:${wrong ? '#d9534f' : '#3c763d'}">${wrong ? '✗' : '✓'} true: <b>${escapeHtml(name(e.label))}</b></div>`;
    return (
      `<div class="tfjs-estimator-prediction${wrong ? ' mistake' : ''}" style="border:2px solid ${border};background:${bg};border-radius:6px;padding:6px;width:150px;box-sizing:border-box;font:12px sans-serif">` +
      `<div style="color:#888;font-size:10px">#${e.index}</div>${img}` +
      `<div>predicted <b style="font-size:15px">${escapeHtml(name(e.predicted))}</b>${p === undefined ? '' : ` <span style="color:#666">(${(p * 100).toFixed(1)}%)</span>`}</div>` +
      `${truth}<div style="margin-top:4px">${barsHtml(e, name, topK)}</div></div>`
    );
  });
  return (
    `<div class="tfjs-estimator-predictions"><div style="font:bold 13px sans-serif;margin:4px 0">${escapeHtml(head)}</div>` +
    `<div style="display:flex;flex-wrap:wrap;gap:6px">${cards.join('')}</div></div>`
  );
}
