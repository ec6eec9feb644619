// Jupyter wire protocol: identities, <IDS|MSG>, HMAC-SHA256 signature, four JSON frames,
// optional buffers. Signatures are checked in constant time; anything malformed is rejected
// with a reason (the server logs it and drops the message). A signature seen before is a
// replay and is refused too; header, parent_header and metadata nested deeper than any real
// client nests them are refused (echoing such a header in a reply would overflow the stack).
import * as crypto from 'crypto';
import type { DigestHistory } from './digest-history';

export const PROTOCOL_VERSION = '5.3';
const DELIM = '<IDS|MSG>';

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export type Content = Record<string, unknown>;

export interface Message {
  identities: Buffer[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: Content;
  buffers: Buffer[];
}

export class WireError extends Error {}

/** Deeper than any header or metadata a Jupyter client sends; the content frame is not limited. */
export const MAX_HEADER_DEPTH = 32;

export class Signer {
  constructor(private readonly key: string) {}
  /** False when the connection file has no key (then nothing is signed or checked). */
  get signs(): boolean {
    return this.key !== '';
  }
  sign(parts: Array<Buffer | string>): string {
    if (!this.key) return '';
    const h = crypto.createHmac('sha256', this.key);
    for (const p of parts) h.update(p);
    return h.digest('hex');
  }
  verify(signature: string, parts: Buffer[]): boolean {
    if (!this.key) return true;
    const expected = Buffer.from(this.sign(parts), 'utf8');
    const got = Buffer.from(signature, 'utf8');
    return got.length === expected.length && crypto.timingSafeEqual(got, expected);
  }
}

/** True when v nests objects or arrays deeper than limit (stops looking once it is). */
function deeperThan(v: unknown, limit: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (limit === 0) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
    if (deeperThan(x, limit - 1)) return true;
  }
  return false;
}

function parseShallow(buf: Buffer, what: string): Record<string, unknown> {
  const v = parseJson(buf, what);
  if (deeperThan(v, MAX_HEADER_DEPTH)) throw new WireError(`${what} is nested more than ${MAX_HEADER_DEPTH} levels deep`);
  return v;
}

function parseJson(buf: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new WireError(`${what} is not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Parses and checks one message; with a history, a signature seen before is a replay. */
export function decode(frames: Buffer[], signer: Signer, history?: DigestHistory): Message {
  const i = frames.findIndex((f) => f.length === DELIM.length && f.toString('utf8') === DELIM);
  if (i < 0) throw new WireError('no <IDS|MSG> delimiter');
  if (frames.length < i + 6) throw new WireError(`expected 5 frames after the delimiter, got ${frames.length - i - 1}`);
  const [sig, h, p, m, c] = frames.slice(i + 1, i + 6);
  const signature = sig.toString('utf8');
  if (!signer.verify(signature, [h, p, m, c])) throw new WireError('bad signature');
  // Only a verified signature is recorded: garbage can't push real ones out of the history.
  if (history && signer.signs && !history.add(signature)) throw new WireError('replayed message (its signature was seen before)');
  const header = parseShallow(h, 'header') as unknown as Header;
  if (typeof header.msg_type !== 'string' || typeof header.msg_id !== 'string') throw new WireError('header without msg_type/msg_id');
  return {
    identities: frames.slice(0, i),
    header,
    parent_header: parseShallow(p, 'parent_header') as unknown as Header,
    metadata: parseShallow(m, 'metadata'),
    content: parseJson(c, 'content'),
    buffers: frames.slice(i + 6),
  };
}

export function encode(msg: Omit<Message, 'buffers'> & { buffers?: Buffer[] }, signer: Signer): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((x) => Buffer.from(JSON.stringify(x), 'utf8'));
  return [...msg.identities, Buffer.from(DELIM), Buffer.from(signer.sign(parts)), ...parts, ...(msg.buffers ?? [])];
}

export function newHeader(msgType: string, session: string): Header {
  return {
    msg_id: crypto.randomUUID(),
    session,
    username: 'kernel',
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}
