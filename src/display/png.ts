// PNG encoding (fast-png) and the pixel work around it: nearest-neighbour scaling and grids.
import { encode } from 'fast-png';
import type { Pixels } from './image-data';

export type Rgb = [number, number, number];

export function encodePng(p: Pixels): Uint8Array {
  return encode({ width: p.width, height: p.height, data: p.data, channels: p.channels, depth: 8 });
}

export function pngBase64(p: Pixels): string {
  return Buffer.from(encodePng(p)).toString('base64');
}

export function pngDataUrl(p: Pixels): string {
  return `data:image/png;base64,${pngBase64(p)}`;
}

/** Integer nearest-neighbour upscaling: each pixel becomes a scale x scale block. */
export function scalePixels(p: Pixels, scale: number): Pixels {
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`display: scale must be a positive integer, got ${scale}`);
  if (scale === 1) return p;
  const { width: w, height: h, channels: c } = p;
  const W = w * scale;
  const out = new Uint8Array(W * h * scale * c);
  for (let y = 0; y < h; y++) {
    const row = new Uint8Array(W * c);
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * c;
      for (let s = 0; s < scale; s++) row.set(p.data.subarray(src, src + c), (x * scale + s) * c);
    }
    for (let s = 0; s < scale; s++) out.set(row, (y * scale + s) * W * c);
  }
  return { width: W, height: h * scale, channels: c, data: out };
}

/** Default scale: small images (MNIST's 28x28) are blown up so they can be seen. */
export function autoScale(p: { width: number; height: number }): number {
  return Math.max(1, Math.min(4, Math.floor(96 / Math.max(p.width, p.height, 1))));
}

/** Same pixels with `channels` channels: gray is repeated, alpha added opaque or dropped. */
export function withChannels(p: Pixels, channels: 1 | 3 | 4): Pixels {
  if (p.channels === channels) return p;
  const n = p.width * p.height;
  const out = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) {
    const s = i * p.channels;
    const gray = p.channels === 1;
    const r = p.data[s];
    const g = gray ? r : p.data[s + 1];
    const b = gray ? r : p.data[s + 2];
    const a = p.channels === 4 ? p.data[s + 3] : 255;
    const d = i * channels;
    if (channels === 1) out[d] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      out[d] = r;
      out[d + 1] = g;
      out[d + 2] = b;
      if (channels === 4) out[d + 3] = a;
    }
  }
  return { width: p.width, height: p.height, channels, data: out };
}

export interface GridOptions {
  cols: number;
  /** Gap around each cell, in pixels (default 2); a cell's border is drawn in this gap. */
  pad?: number;
  /** Per-cell border colour (undefined: background), e.g. red for a wrong prediction. */
  borders?: (Rgb | undefined)[];
}

export interface GridLayout {
  cellWidth: number;
  cellHeight: number;
  pad: number;
  cols: number;
  rows: number;
}

/**
 * Tiles images (already scaled) into one image, row by row. Each cell is cellWidth+2*pad wide
 * and the image sits at (pad, pad) inside it; the background is white, transparent for RGBA.
 */
export function gridPixels(images: Pixels[], opts: GridOptions): { pixels: Pixels; layout: GridLayout } {
  if (images.length === 0) throw new RangeError('display: no images to show');
  const pad = opts.pad ?? 2;
  const cols = Math.max(1, Math.min(opts.cols, images.length));
  const rows = Math.ceil(images.length / cols);
  const cellWidth = Math.max(...images.map((p) => p.width));
  const cellHeight = Math.max(...images.map((p) => p.height));
  const hasAlpha = images.some((p) => p.channels === 4);
  const colour = images.some((p) => p.channels === 3) || (opts.borders ?? []).some((b) => b !== undefined);
  const channels: 1 | 3 | 4 = hasAlpha ? 4 : colour ? 3 : 1;
  const slotW = cellWidth + 2 * pad;
  const slotH = cellHeight + 2 * pad;
  const W = cols * slotW;
  const H = rows * slotH;
  const data = new Uint8Array(W * H * channels);
  if (channels !== 4) data.fill(255);
  const paint = (x0: number, y0: number, w: number, h: number, rgb: Rgb): void => {
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const d = (y * W + x) * channels;
        data[d] = rgb[0];
        data[d + 1] = rgb[1];
        data[d + 2] = rgb[2];
        if (channels === 4) data[d + 3] = 255;
      }
    }
  };
  images.forEach((img, i) => {
    const p = withChannels(img, channels);
    const ox = (i % cols) * slotW;
    const oy = Math.floor(i / cols) * slotH;
    const border = opts.borders?.[i];
    if (border && pad > 0) paint(ox, oy, slotW, slotH, border);
    for (let y = 0; y < p.height; y++) {
      const src = p.data.subarray(y * p.width * channels, (y + 1) * p.width * channels);
      data.set(src, ((oy + pad + y) * W + ox + pad) * channels);
    }
  });
  return { pixels: { width: W, height: H, channels, data }, layout: { cellWidth, cellHeight, pad, cols, rows } };
}
