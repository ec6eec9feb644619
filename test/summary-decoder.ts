// An independent reader of TensorBoard event files for the summary tests: TFRecord framing,
// CRC32C and protobuf wire format written here from the specs (event.proto, summary.proto),
// sharing no code with src/events — so a bug there cannot hide itself.
import * as fs from 'fs';

// ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven -------------------
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right 15, add 0xa282ead8 (mod 2^32). */
export function maskCrc(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 0x100000000;
}

/** The records of a TFRecord file; throws on any framing or checksum problem. */
export function readRecords(file: string): Buffer[] {
  const buf = fs.readFileSync(file);
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 16) throw new Error(`short record at ${off}`);
    const len = Number(buf.readBigUInt64LE(off));
    if (buf.readUInt32LE(off + 8) !== maskCrc(crc32c(buf.subarray(off, off + 8)))) throw new Error(`length crc at ${off}`);
    if (off + 16 + len > buf.length) throw new Error(`truncated record at ${off}`);
    const data = buf.subarray(off + 12, off + 12 + len);
    if (buf.readUInt32LE(off + 12 + len) !== maskCrc(crc32c(data))) throw new Error(`data crc at ${off}`);
    out.push(data);
    off += 16 + len;
  }
  return out;
}

// ---- protobuf wire format ------------------------------------------------------------------
export interface Field {
  no: number;
  wire: number;
  /** varint (wire 0) as bigint; bytes for wire 1 (8), 2 (length-delimited), 5 (4). */
  value: bigint | Buffer;
}

export function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('varint runs past the end');
      const b = buf[i++];
      r |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return r;
      shift += 7n;
    }
  };
  const take = (n: number): Buffer => {
    if (i + n > buf.length) throw new Error('field runs past the end');
    const b = buf.subarray(i, i + n);
    i += n;
    return b;
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) out.push({ no, wire, value: take(8) });
    else if (wire === 5) out.push({ no, wire, value: take(4) });
    else if (wire === 2) out.push({ no, wire, value: take(Number(varint())) });
    else throw new Error(`unsupported wire type ${wire} (field ${no})`);
  }
  return out;
}

// ---- Event / Summary, from the .proto field numbers -----------------------------------------
export interface DecodedImage {
  height: number;
  width: number;
  colorspace: number;
  png: Buffer;
}

export interface DecodedHisto {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
  /** Whether bucket_limit and bucket came packed (wire type 2), as proto3 requires. */
  packed: boolean;
}

export interface DecodedValue {
  tag: string;
  simpleValue?: number;
  image?: DecodedImage;
  histo?: DecodedHisto;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** SessionLog.status (1 START, 2 STOP, 3 CHECKPOINT). */
  sessionLogStatus?: number;
  /** graph_def (field 4): GraphDef's nodes (graph.proto, node_def.proto, attr_value.proto). */
  graph?: DecodedNode[];
  values: DecodedValue[];
}

export interface DecodedNode {
  name: string;
  op: string;
  input: string[];
  /** attr keys, with the DataType of `T` / `dtype` and the dims of each `_output_shapes` entry. */
  attrs: string[];
  type?: number;
  outputShapes?: number[][];
}

/** TensorShapeProto: repeated Dim dim = 2, Dim's int64 size = 1. */
function decodeShape(buf: Buffer): number[] {
  return fields(buf)
    .filter((f) => f.no === 2)
    .map((d) => {
      const size = fields(bytes(d)).find((g) => g.no === 1);
      return size ? Number(BigInt.asIntN(64, size.value as bigint)) : 0;
    });
}

function decodeNode(buf: Buffer): DecodedNode {
  const n: DecodedNode = { name: '', op: '', input: [], attrs: [] };
  for (const f of fields(buf)) {
    if (f.no === 1) n.name = bytes(f).toString('utf8');
    else if (f.no === 2) n.op = bytes(f).toString('utf8');
    else if (f.no === 3) n.input.push(bytes(f).toString('utf8'));
    else if (f.no === 5) {
      // map<string, AttrValue> entry: key = 1, value = 2.
      const entry = fields(bytes(f));
      const key = bytes(entry.find((g) => g.no === 1)!).toString('utf8');
      n.attrs.push(key);
      const value = entry.find((g) => g.no === 2);
      if (!value) continue;
      for (const a of fields(bytes(value))) {
        // AttrValue: list = 1 (ListValue: shape = 7), type = 6.
        if (a.no === 6 && (key === 'T' || key === 'dtype')) n.type = int(a);
        if (a.no === 1 && key === '_output_shapes')
          n.outputShapes = fields(bytes(a))
            .filter((l) => l.no === 7)
            .map((l) => decodeShape(bytes(l)));
      }
    }
  }
  return n;
}

const bytes = (f: Field): Buffer => f.value as Buffer;
const double = (f: Field): number => {
  if (f.wire !== 1) throw new Error(`field ${f.no}: expected a double (wire 1), got wire ${f.wire}`);
  return bytes(f).readDoubleLE(0);
};
const int = (f: Field): number => {
  if (f.wire !== 0) throw new Error(`field ${f.no}: expected a varint, got wire ${f.wire}`);
  return Number(f.value as bigint);
};
const packedDoubles = (b: Buffer): number[] => Array.from({ length: b.length / 8 }, (_, k) => b.readDoubleLE(k * 8));

function decodeImage(buf: Buffer): DecodedImage {
  const img: DecodedImage = { height: 0, width: 0, colorspace: 0, png: Buffer.alloc(0) };
  for (const f of fields(buf)) {
    if (f.no === 1) img.height = int(f);
    else if (f.no === 2) img.width = int(f);
    else if (f.no === 3) img.colorspace = int(f);
    else if (f.no === 4) img.png = bytes(f);
  }
  return img;
}

function decodeHisto(buf: Buffer): DecodedHisto {
  const h: DecodedHisto = { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [], packed: true };
  for (const f of fields(buf)) {
    if (f.no === 1) h.min = double(f);
    else if (f.no === 2) h.max = double(f);
    else if (f.no === 3) h.num = double(f);
    else if (f.no === 4) h.sum = double(f);
    else if (f.no === 5) h.sumSquares = double(f);
    else if (f.no === 6 || f.no === 7) {
      const list = f.no === 6 ? h.bucketLimit : h.bucket;
      if (f.wire === 2) list.push(...packedDoubles(bytes(f)));
      else {
        h.packed = false;
        list.push(double(f));
      }
    }
  }
  return h;
}

function decodeValue(buf: Buffer): DecodedValue {
  const v: DecodedValue = { tag: '' };
  for (const f of fields(buf)) {
    if (f.no === 1) v.tag = bytes(f).toString('utf8');
    else if (f.no === 2) {
      if (f.wire !== 5) throw new Error(`simple_value must be a float (wire 5), got ${f.wire}`);
      v.simpleValue = bytes(f).readFloatLE(0);
    } else if (f.no === 4) v.image = decodeImage(bytes(f));
    else if (f.no === 5) v.histo = decodeHisto(bytes(f));
  }
  return v;
}

export function decodeEvent(buf: Buffer): DecodedEvent {
  const e: DecodedEvent = { wallTime: 0, step: 0, values: [] };
  for (const f of fields(buf)) {
    if (f.no === 1) e.wallTime = double(f);
    else if (f.no === 2) e.step = int(f);
    else if (f.no === 3) e.fileVersion = bytes(f).toString('utf8');
    else if (f.no === 4)
      e.graph = fields(bytes(f))
        .filter((g) => g.no === 1)
        .map((g) => decodeNode(bytes(g)));
    else if (f.no === 5) {
      for (const g of fields(bytes(f))) if (g.no === 1) e.values.push(decodeValue(bytes(g)));
    } else if (f.no === 7) {
      e.sessionLogStatus = 0;
      for (const g of fields(bytes(f))) if (g.no === 1) e.sessionLogStatus = int(g);
    }
  }
  return e;
}

export function decodeEventFile(file: string): DecodedEvent[] {
  return readRecords(file).map(decodeEvent);
}

/** The event files directly in dir. */
export function eventFilesIn(dir: string): string[] {
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((n) => n.startsWith('events.out.tfevents.'))
        .sort()
        .map((n) => `${dir}/${n}`)
    : [];
}
