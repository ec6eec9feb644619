// display.image / display.images: PNG bundles for one image or a grid of them.
import { markBundle } from './bundle';
import { escapeHtml } from './html';
import { describePixels, ImageInput, PixelOptions, Pixels, toPixels, toPixelsList } from './image-data';
import { autoScale, gridPixels, pngBase64, pngDataUrl, scalePixels } from './png';
import type { MimeBundle } from '../host/sink';

export interface ImageOptions extends PixelOptions {
  /** Integer nearest-neighbour upscaling; default: small images are enlarged (28x28 -> 84x84). */
  scale?: number;
  /** A caption, shown under the image (adds a text/html entry). */
  title?: string;
  displayId?: string;
}

export interface ImagesOptions extends PixelOptions {
  /** One caption per image, shown under it in the text/html entry. */
  titles?: string[];
  /** Images per row (default: up to 8). */
  cols?: number;
  scale?: number;
  /** Show at most this many images (default 64): a whole dataset should not land in a notebook. */
  limit?: number;
  displayId?: string;
}

export function imageBundle(input: ImageInput, opts: ImageOptions = {}): MimeBundle {
  const p = toPixels(input, opts);
  const scaled = scalePixels(p, opts.scale ?? autoScale(p));
  const bundle: MimeBundle = { 'image/png': pngBase64(scaled), 'text/plain': `<image ${describePixels(p)}>` };
  if (opts.title !== undefined) bundle['text/html'] = figureHtml(scaled, opts.title);
  return markBundle(bundle);
}

export function imagesBundle(input: ImageInput | ImageInput[], opts: ImagesOptions = {}): MimeBundle {
  const { images: shown, total } = toPixelsList(input, { ...opts, limit: opts.limit ?? 64 });
  const scale = opts.scale ?? autoScale(shown[0] ?? { width: 1, height: 1 });
  const scaled = shown.map((p) => scalePixels(p, scale));
  const cols = opts.cols ?? Math.min(8, shown.length);
  const { pixels, layout } = gridPixels(scaled, { cols });
  const more = total > shown.length ? ` (first ${shown.length} of ${total})` : '';
  const kinds = [...new Set(shown.map(describePixels))].join(', ');
  let text = `<images ${shown.length} x ${kinds}, grid ${layout.cols}x${layout.rows}${more}>`;
  const bundle: MimeBundle = { 'image/png': pngBase64(pixels) };
  if (opts.titles) {
    const titles = opts.titles.slice(0, shown.length);
    text += `\n${titles.map((t, i) => `${i}: ${t}`).join('\n')}`;
    bundle['text/html'] = gridHtml(scaled, titles, layout.cols, more);
  }
  bundle['text/plain'] = text;
  return markBundle(bundle);
}

function figureHtml(p: Pixels, title: string | undefined): string {
  const caption =
    title === undefined
      ? ''
      : `<figcaption style="font:12px sans-serif;text-align:center;max-width:${Math.max(p.width, 60)}px;overflow-wrap:anywhere">${escapeHtml(title)}</figcaption>`;
  return (
    `<figure style="margin:2px;display:inline-block">` +
    `<img src="${pngDataUrl(p)}" width="${p.width}" height="${p.height}" style="image-rendering:pixelated;display:block;margin:auto" alt="${escapeHtml(title ?? 'image')}">` +
    `${caption}</figure>`
  );
}

function gridHtml(images: Pixels[], titles: string[], cols: number, note: string): string {
  const cells = images.map((p, i) => figureHtml(p, titles[i] ?? '')).join('');
  const footer = note ? `<div style="font:12px sans-serif;color:#666">${escapeHtml(note.trim())}</div>` : '';
  return `<div class="tfjs-estimator-images" style="display:grid;grid-template-columns:repeat(${cols},max-content);gap:4px;align-items:start">${cells}</div>${footer}`;
}
