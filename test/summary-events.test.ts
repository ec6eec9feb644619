import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { decode as decodePng } from 'fast-png';
import { crc32c } from '@aws-crypto/crc32c';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import * as summary from '../src/estimator/summary';
import { setQuiet } from '../src/estimator/log';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

// ---- an independent decoder, from event.proto / summary.proto field numbers --------------
type Field = { no: number; wire: number; value: bigint | Buffer };
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let r = 0n, shift = 0n;
    for (;;) {
      const b = buf[i++];
      r |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return r;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >> 3, wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) { out.push({ no, wire, value: buf.subarray(i, i + 8) }); i += 8; }
    else if (wire === 5) { out.push({ no, wire, value: buf.subarray(i, i + 4) }); i += 4; }
    else if (wire === 2) { const len = Number(varint()); out.push({ no, wire, value: buf.subarray(i, i + len) }); i += len; }
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const masked = (b: Buffer) => { const c = crc32c(b) >>> 0; return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0; };
function records(file: string): Buffer[] {
  const buf = fs.readFileSync(file);
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length;) {
    const len = Number(buf.readBigUInt64LE(off));
    assert.equal(buf.readUInt32LE(off + 8), masked(buf.subarray(off, off + 8)), 'length crc');
    const data = buf.subarray(off + 12, off + 12 + len);
    assert.equal(buf.readUInt32LE(off + 12 + len), masked(data), 'data crc');
    out.push(data);
    off += 16 + len;
  }
  return out;
}
interface Decoded { step: number; fileVersion?: string; values: Array<{ tag: string; simple?: number; image?: { h: number; w: number; c: number; png: Buffer }; histo?: Record<string, number | number[]> }> }
const f64 = (b: Buffer) => b.readDoubleLE(0);
const packedDoubles = (b: Buffer) => Array.from({ length: b.length / 8 }, (_, k) => b.readDoubleLE(k * 8));
function decodeEvent(buf: Buffer): Decoded {
  const e: Decoded = { step: 0, values: [] };
  for (const f of fields(buf)) {
    if (f.no === 2) e.step = Number(f.value);
    if (f.no === 3) e.fileVersion = (f.value as Buffer).toString();
    if (f.no === 5) {
      for (const v of fields(f.value as Buffer).filter((x) => x.no === 1)) {
        const val: Decoded['values'][number] = { tag: '' };
        for (const g of fields(v.value as Buffer)) {
          if (g.no === 1) val.tag = (g.value as Buffer).toString();
          if (g.no === 2) val.simple = (g.value as Buffer).readFloatLE(0);
          if (g.no === 4) {
            const img = { h: 0, w: 0, c: 0, png: Buffer.alloc(0) };
            for (const h of fields(g.value as Buffer)) {
              if (h.no === 1) img.h = Number(h.value);
              if (h.no === 2) img.w = Number(h.value);
              if (h.no === 3) img.c = Number(h.value);
              if (h.no === 4) img.png = h.value as Buffer;
            }
            val.image = img;
          }
          if (g.no === 5) {
            const h: Record<string, number | number[]> = {};
            const names = ['', 'min', 'max', 'num', 'sum', 'sumSquares'];
            for (const x of fields(g.value as Buffer)) {
              if (x.no <= 5) h[names[x.no]] = f64(x.value as Buffer);
              if (x.no === 6) h.bucketLimit = packedDoubles(x.value as Buffer);
              if (x.no === 7) h.bucket = packedDoubles(x.value as Buffer);
            }
            val.histo = h;
          }
        }
        e.values.push(val);
      }
    }
  }
  return e;
}

const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  const h = layers.dense(x, 4, { activation: 'relu' });
  const pred = layers.dense(h, 1);
  summary.histogram('hidden', h);
  summary.image('inputs', tf.reshape(tf.sigmoid(x), [-1, 1, 3, 1]), { maxOutputs: 2 });
  summary.scalar('pred_mean', tf.mean(pred));
  const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
  if (mode === 'eval') return new EstimatorSpec({ mode, loss });
  return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
};

test('training writes TensorBoard event files: loss at every summary step, PNG images, histograms, global_step/sec', async () => {
  const dir = tmpDir('events-');
  const est = new Estimator(modelFn, dir, { config: { saveSummarySteps: 5 } });
  const lossAt: Record<number, number> = {};
  await est.train(() => linearDataset(64).repeat(), { steps: 20, hooks: [{ beforeRun: () => ({ fetches: { loss: 'loss' } }), afterRun: (c, v) => void (lossAt[c.globalStep] = v.results.loss as number) }] });
  const files = fs.readdirSync(dir).filter((n) => n.startsWith('events.out.tfevents.'));
  assert.equal(files.length, 1);
  const events = records(path.join(dir, files[0])).map(decodeEvent);
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  const lossSteps = events.filter((e) => e.values.some((v) => v.tag === 'loss'));
  assert.deepEqual(lossSteps.map((e) => e.step), [1, 6, 11, 16]);
  for (const e of lossSteps) {
    assert.ok(Math.abs(e.values.find((v) => v.tag === 'loss')!.simple! - lossAt[e.step]) < 1e-5);
    const imgs = e.values.filter((v) => v.image);
    assert.deepEqual(imgs.map((v) => v.tag), ['inputs/image/0', 'inputs/image/1']);
    for (const v of imgs) {
      const png = decodePng(v.image!.png);
      assert.deepEqual([png.width, png.height, v.image!.w, v.image!.h], [3, 1, 3, 1]);
    }
    const histo = e.values.find((v) => v.tag === 'hidden')!.histo!;
    const bucket = histo.bucket as number[];
    assert.equal(bucket.reduce((a, b) => a + b, 0), histo.num);
    assert.equal(histo.num, 8 * 4);
    assert.ok((histo.min as number) >= 0, 'relu outputs');
    assert.ok((histo.sumSquares as number) >= ((histo.sum as number) ** 2) / (histo.num as number) - 1e-6);
  }
  assert.ok(events.some((e) => e.values.some((v) => v.tag === 'global_step/sec' && v.simple! > 0)));
  // evaluate() writes its metrics at the evaluated step into modelDir/eval.
  await est.evaluate(() => linearDataset(16), { name: 'holdout' });
  const evalFile = fs.readdirSync(path.join(dir, 'eval_holdout'))[0];
  const evalEvents = records(path.join(dir, 'eval_holdout', evalFile)).map(decodeEvent);
  assert.deepEqual(evalEvents.filter((e) => e.values.length).map((e) => [e.step, e.values.map((v) => v.tag).sort()]), [[20, ['loss']]]);
  const scalars = await summary.readScalars(dir);
  assert.deepEqual(scalars.get('loss')!.map((p) => p.step), [1, 6, 11, 16]);
});

test('a corrupt last record: the reader returns every earlier event and a clear error naming the file', async () => {
  const dir = tmpDir('events-corrupt-');
  const w = new summary.EventFileWriter(dir);
  for (let s = 1; s <= 5; s++) w.addScalars(s, { loss: 1 / s });
  w.close();
  const bytes = fs.readFileSync(w.file);
  bytes[bytes.length - 3] ^= 0xff;
  fs.writeFileSync(w.file, bytes);
  const r = await summary.readEventFile(w.file);
  assert.equal(r.events.length, 5, 'file_version + 4 intact scalar events');
  assert.match(r.error!.message, new RegExp(`${w.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt record at byte \\d+ \\(data checksum mismatch\\)`));
  fs.truncateSync(w.file, bytes.length - 10);
  assert.match((await summary.readEventFile(w.file)).error!.message, /truncated record/);
});
