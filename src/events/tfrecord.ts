// TFRecord framing: uint64 length (little-endian), masked CRC32C of those 8 bytes, the data,
// masked CRC32C of the data.
import { crc32c } from '@aws-crypto/crc32c';

/** TFRecord's checksum: CRC32C rotated right by 15 bits plus a constant. */
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
  /** Byte offset of each record's header in the file. */
  offsets: number[];
  /** Why reading stopped early, with the byte offset of the bad record. */
  error?: { offset: number; reason: string };
}

/** Splits a file into records; stops at the first damaged one, keeping those before it. */
export function unframe(buf: Uint8Array): Unframed {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Uint8Array[] = [];
  const offsets: number[] = [];
  const stop = (offset: number, reason: string): Unframed => ({ records, offsets, error: { offset, reason } });
  let off = 0;
  while (off < view.length) {
    if (view.length - off < 12) return stop(off, `truncated record header (${view.length - off} of 12 bytes)`);
    if (view.readUInt32LE(off + 8) !== maskedCrc(view.subarray(off, off + 8))) return stop(off, 'length checksum mismatch');
    const len = view.readBigUInt64LE(off);
    if (BigInt(view.length - off - 16) < len)
      return stop(off, `truncated record (${len} data bytes announced, ${Math.max(0, view.length - off - 12)} bytes left)`);
    const n = Number(len);
    const data = view.subarray(off + 12, off + 12 + n);
    if (view.readUInt32LE(off + 12 + n) !== maskedCrc(data)) return stop(off, 'data checksum mismatch');
    records.push(data);
    offsets.push(off);
    off += 16 + n;
  }
  return { records, offsets };
}
