// The library's reader: what it returns for good, damaged and multi-file directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { decode as decodePng } from 'fast-png';
import * as tf from '@tensorflow/tfjs';
import * as summary from '../src/estimator/summary';
import { SummaryCollector, withCollector } from '../src/estimator/summary/collect';
import { setWriterLinger } from '../src/estimator/summary/writer-cache';
import { crc32c, maskCrc } from './summary-decoder';
import { tmpDir } from './helpers/tmp';
import { setQuiet } from '../src/host/log';

setQuiet(true);
setWriterLinger(0);

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function writeLosses(dir: string, steps: number[]): string {
  const w = new summary.EventFileWriter(dir);
  for (const s of steps) w.addScalars(s, { loss: 1 / s });
  w.close();
  return w.file;
}

test('a corrupt last record: every earlier event comes back, with an error naming the file, the offset and the cause', async () => {
  const dir = tmpDir('summary-reader-');
  const file = writeLosses(dir, [1, 2, 3, 4, 5]);
  const good = fs.readFileSync(file);
  const bytes = Buffer.from(good);
  bytes[bytes.length - 3] ^= 0xff; // inside the last record's data checksum
  fs.writeFileSync(file, bytes);
  const r = await summary.readEventFile(file);
  assert.equal(r.events.length, 5, 'file_version + the 4 intact scalar events');
  assert.deepEqual(
    r.events.map((e) => e.step),
    [0, 1, 2, 3, 4],
  );
  assert.equal(r.events[0].fileVersion, 'brain.Event:2');
  assert.equal(r.events[4].summary!.value[0].simpleValue, Math.fround(1 / 4));
  assert.match(
    r.error!.message,
    new RegExp(
      `^${escape(file)}: corrupt record at byte (\\d+) of ${bytes.length} \\(data checksum mismatch\\); the 5 events before it were read`,
    ),
  );
  // The offset is where the last record starts: the file minus that record's 16 + data bytes.
  const offset = Number(/at byte (\d+)/.exec(r.error!.message)![1]);
  assert.equal(bytes.readBigUInt64LE(offset) + 16n, BigInt(bytes.length - offset));
});

test('a truncated file, a damaged length and plain garbage give errors, never exceptions', async () => {
  const dir = tmpDir('summary-reader-');
  const file = writeLosses(dir, [1, 2, 3]);
  const good = fs.readFileSync(file);

  fs.writeFileSync(file, good.subarray(0, good.length - 5));
  let r = await summary.readEventFile(file);
  assert.equal(r.events.length, 3);
  assert.match(r.error!.message, /corrupt record at byte \d+ of \d+ \(truncated record \(\d+ data bytes announced, \d+ bytes left\)\)/);

  fs.writeFileSync(file, good.subarray(0, good.length - 20));
  r = await summary.readEventFile(file);
  assert.equal(r.events.length, 3);
  assert.match(r.error!.message, /truncated record header|truncated record/);

  const damaged = Buffer.from(good);
  damaged[0] ^= 0x01; // the first record's length
  fs.writeFileSync(file, damaged);
  r = await summary.readEventFile(file);
  assert.equal(r.events.length, 0);
  assert.match(r.error!.message, /corrupt record at byte 0 of \d+ \(length checksum mismatch\)/);

  fs.writeFileSync(file, Buffer.from('this is not an event file at all, but it is long enough'));
  r = await summary.readEventFile(file);
  assert.deepEqual(r.events, []);
  assert.ok(r.error);

  r = await summary.readEventFile(path.join(dir, 'missing'));
  assert.match(r.error!.message, /cannot read the event file/);
});

test('a record with valid checksums but bytes that are no Event is reported at its offset', async () => {
  const dir = tmpDir('summary-reader-');
  const file = writeLosses(dir, [1]);
  const junk = Buffer.from([0xff, 0xff, 0xff]); // a field key with no end
  const rec = Buffer.alloc(16 + junk.length);
  rec.writeBigUInt64LE(BigInt(junk.length));
  rec.writeUInt32LE(maskCrc(crc32c(rec.subarray(0, 8))), 8);
  junk.copy(rec, 12);
  rec.writeUInt32LE(maskCrc(crc32c(junk)), 12 + junk.length);
  const offset = fs.statSync(file).size;
  fs.appendFileSync(file, rec);
  const r = await summary.readEventFile(file);
  assert.equal(r.events.length, 2);
  assert.match(r.error!.message, new RegExp(`undecodable Event in the record at byte ${offset}`));
});

test("readEventsDir merges the directory's event files in step order and lists each damaged file", async () => {
  const dir = tmpDir('summary-reader-');
  writeLosses(dir, [10, 30]);
  const second = writeLosses(dir, [20, 40]);
  fs.writeFileSync(path.join(dir, 'not-an-event-file.txt'), 'ignored');
  fs.mkdirSync(path.join(dir, 'eval')); // sub-directories are other runs
  writeLosses(path.join(dir, 'eval'), [99]);
  let r = await summary.readEventsDir(dir);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.events.filter((e) => e.summary).map((e) => e.step),
    [10, 20, 30, 40],
  );
  fs.appendFileSync(second, Buffer.from([1, 2, 3]));
  r = await summary.readEventsDir(dir);
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0].message.startsWith(second));
  assert.deepEqual(
    r.events.filter((e) => e.summary).map((e) => e.step),
    [10, 20, 30, 40],
  );
  assert.deepEqual(await summary.readEventsDir(path.join(dir, 'nope')), { events: [], errors: [] });
});

test("readScalars, readHistograms and readImages return each tag's points by step", async () => {
  const dir = tmpDir('summary-reader-');
  const w = new summary.EventFileWriter(dir);
  const img = tf.tensor4d([0, 1, 1, 0], [1, 2, 2, 1]);
  for (const step of [1, 11]) {
    const c = new SummaryCollector();
    withCollector(c, () => {
      summary.scalar('loss', 1 / step);
      summary.histogram('w', [step, -step, 0]);
      summary.image('digit', img, { maxOutputs: 1 });
    });
    w.addSummary(step, c.values);
  }
  w.close();
  img.dispose();
  const scalars = await summary.readScalars(dir);
  assert.deepEqual([...scalars.keys()], ['loss']);
  assert.deepEqual(
    scalars.get('loss')!.map((p) => [p.step, p.value]),
    [
      [1, 1],
      [11, Math.fround(1 / 11)],
    ],
  );
  assert.ok(scalars.get('loss')!.every((p) => p.wallTime > 1e9));
  const histos = await summary.readHistograms(dir);
  const h = histos.get('w')!;
  assert.deepEqual(
    h.map((p) => [p.step, p.min, p.max, p.num, p.sum, p.sumSquares]),
    [
      [1, -1, 1, 3, 0, 2],
      [11, -11, 11, 3, 0, 242],
    ],
  );
  assert.equal(
    h[1].bucket.reduce((a, b) => a + b, 0),
    3,
  );
  const images = await summary.readImages(dir);
  const points = images.get('digit/image')!;
  assert.equal(points.length, 2);
  const png = decodePng(points[0].png);
  assert.deepEqual([points[0].width, points[0].height, points[0].colorspace, png.width, png.height], [2, 2, 1, 2, 2]);
  assert.deepEqual(Array.from(png.data), [0, 255, 255, 0]);
});

test('after a restart (SessionLog START at step s) events an earlier run wrote at steps >= s are dropped, as TensorBoard does', async () => {
  const dir = tmpDir('summary-reader-');
  // A first run wrote summaries up to step 250, then crashed; its last checkpoint was 200.
  const first = new summary.EventFileWriter(dir);
  first.addSessionStart(1);
  for (const s of [1, 101, 201, 250]) first.addScalars(s, { loss: s });
  first.close();
  // The new run resumes from 200: its first step is 201.
  const second = new summary.EventFileWriter(dir);
  second.addSessionStart(201);
  for (const s of [201, 301]) second.addScalars(s, { loss: -s });
  second.close();
  const loss = (await summary.readScalars(dir)).get('loss')!;
  assert.deepEqual(
    loss.map((p) => [p.step, p.value]),
    [
      [1, 1],
      [101, 101],
      [201, -201],
      [301, -301],
    ],
  );
  const raw = await summary.readEventsDir(dir, { purgeOrphaned: false });
  assert.equal(raw.events.filter((e) => e.summary).length, 6);
});

/** A TF 2 scalar summary (a float tensor with plugin 'scalars'), encoded by hand. */
function tf2ScalarRecord(step: number, tag: string, value: number): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  const len = (no: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(body.length)]), body]);
  const f32 = Buffer.alloc(4);
  f32.writeFloatLE(value);
  const tensor = Buffer.concat([Buffer.from([(1 << 3) | 0, 1]), len(2, Buffer.alloc(0)), len(5, f32)]);
  const metadata = len(1, len(1, Buffer.from('scalars')));
  const v = Buffer.concat([len(1, Buffer.from(tag)), len(9, metadata), len(8, tensor)]);
  const wall = Buffer.alloc(9);
  wall[0] = (1 << 3) | 1;
  wall.writeDoubleLE(1.7e9, 1);
  const event = Buffer.concat([wall, Buffer.from([(2 << 3) | 0, ...varint(step)]), len(5, len(1, v))]);
  const rec = Buffer.alloc(16 + event.length);
  rec.writeBigUInt64LE(BigInt(event.length));
  rec.writeUInt32LE(maskCrc(crc32c(rec.subarray(0, 8))), 8);
  event.copy(rec, 12);
  rec.writeUInt32LE(maskCrc(crc32c(event)), 12 + event.length);
  return rec;
}

test('TF 2 style scalars (one-element float tensors) are read as scalars too', async () => {
  const dir = tmpDir('summary-reader-');
  fs.writeFileSync(
    path.join(dir, 'events.out.tfevents.1700000000.tf2host'),
    Buffer.concat([tf2ScalarRecord(5, 'epoch_loss', 0.25), tf2ScalarRecord(300, 'epoch_loss', 0.125)]),
  );
  const scalars = await summary.readScalars(dir);
  assert.deepEqual(
    scalars.get('epoch_loss')!.map((p) => [p.step, p.value, p.wallTime]),
    [
      [5, 0.25, 1.7e9],
      [300, 0.125, 1.7e9],
    ],
  );
});
