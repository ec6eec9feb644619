// TFRecord framing: uint64 length (little-endian), masked CRC32C of those 8 bytes, the data,
// masked CRC32C of the data.
import { crc32c } from '@aws-crypto/crc32c';

export function maskedCrc(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export function frame(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc(data), 12 + data.length);
  return out;
}

export interface Unframed {
  records: Uint8Array[];
  /** Why reading stopped early, with the byte offset of the bad record. */
  error?: { offset: number; reason: string };
}

export function unframe(buf: Uint8Array): Unframed {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Uint8Array[] = [];
  let off = 0;
  while (off < view.length) {
    if (view.length - off < 12) return { records, error: { offset: off, reason: 'truncated record header' } };
    const len = Number(view.readBigUInt64LE(off));
    if (view.readUInt32LE(off + 8) !== maskedCrc(view.subarray(off, off + 8))) return { records, error: { offset: off, reason: 'length checksum mismatch' } };
    if (view.length - off < 16 + len) return { records, error: { offset: off, reason: `truncated record (${len} bytes announced)` } };
    const data = view.subarray(off + 12, off + 12 + len);
    if (view.readUInt32LE(off + 12 + len) !== maskedCrc(data)) return { records, error: { offset: off, reason: 'data checksum mismatch' } };
    records.push(data);
    off += 16 + len;
  }
  return { records };
}
